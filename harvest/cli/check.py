"""`harvest check`: print the data checker's findings in words a volunteer understands."""

from __future__ import annotations

from rich.console import Console

from harvest.normalise.check import ProblemGroup, SourceCheck

STATUS_WORDS = {
    "ok": "[green]synced fine[/]",
    "problems": "[yellow]synced, but part of it could not be read[/]",
    "failed": "[red]failed[/]",
}


def _where(example: dict) -> str:
    row = f"row {example['row_number']} of " if example.get("row_number") else ""
    return f"{row}{example['location']}"


def show_check(console: Console, c: SourceCheck) -> None:
    console.rule(f"[bold]{c.source}")
    if c.last_status is None:
        console.print("Not synced yet: run `harvest sync`.")
        return
    console.print(
        f"Last sync {STATUS_WORDS.get(c.last_status, c.last_status)} at {c.last_finished}; "
        f"{c.records:,} current records about {c.people:,} people.",
        highlight=False,
    )
    if c.last_status == "failed" and c.last_message:
        console.print(f"  Why: {c.last_message}", markup=False)
    if c.coverage:
        parts = ", ".join(f"{f} {share:.0%}" for f, share in c.coverage.items())
        console.print(f"Filled in: {parts}.", highlight=False)
    for note in c.table_notes:
        mark = "[dim]i[/]" if note["severity"] == "info" else "[yellow]![/]"
        console.print(f"  {mark} {note['location']}: {note['problem']}", highlight=False)
    if c.problems:
        console.print(f"{c.problem_count:,} values could not be used (they are kept as typed):")
        _show_groups(console, c.problems)
        console.print(
            "Fix them in the original sheet; the next `harvest sync` picks up the change."
        )
    else:
        console.print("[green]No problems with the values.[/]")
    if c.notes:
        console.print("Values used, with a word on how they were read (each said once):")
        _show_groups(console, c.notes)


def _show_groups(console: Console, groups: list[ProblemGroup]) -> None:
    for g in groups:
        field = g.field or "row"
        console.print(f"  • {g.count:,} × {field}: {g.problem}", highlight=False)
        for ex in g.examples:
            console.print(
                f"      e.g. {_where(ex)}: {ex['value']!r}", markup=False, highlight=False
            )


def show_checks(console: Console, results: list[SourceCheck]) -> None:
    for c in results:
        show_check(console, c)
