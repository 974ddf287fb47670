"""`harvest review`, `harvest person` and `harvest match`: check uncertain matches, explain a
person, match again."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table as RichTable

from harvest import store
from harvest.cli.common import ConfigOpt, _run, console
from harvest.config import HarvestConfig, load_config
from harvest.errors import ConfigError, ReviewError

KEYS = "[bold]s[/]ame · [bold]d[/]ifferent · s[bold]k[/]ip · [bold]u[/]ndo last · [bold]q[/]uit"
JOINS_SAMPLE = 50  # automatic joins offered by `harvest review --joins`


def _db(cfg: HarvestConfig):
    if not cfg.database_path.exists():
        raise ConfigError(f"There is no database at {cfg.database_path} yet: run `harvest sync`.")
    return store.connect(cfg.database_path)


def review(
    config: ConfigOpt = None,
    export: Annotated[
        Path | None,
        typer.Option("--export", help="Write the pairs to check to a spreadsheet (.xlsx) instead."),
    ] = None,
    import_: Annotated[
        Path | None,
        typer.Option("--import", help="Read decisions back from a spreadsheet made by --export."),
    ] = None,
    undo: Annotated[bool, typer.Option("--undo", help="Undo the latest decision.")] = False,
    joins: Annotated[
        bool,
        typer.Option(
            "--joins",
            help="Check joins harvest made by itself instead, the least certain first "
            f"(at most {JOINS_SAMPLE} unless --limit says otherwise).",
        ),
    ] = False,
    by: Annotated[str | None, typer.Option(help="Your name, kept with each decision.")] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many pairs.")] = None,
) -> None:
    """Check the pairs that may be the same person: **same**, **different** or skip.

    Definite matches are joined by `harvest sync` itself; only the uncertain ones come
    here. Decisions always win over the score, and `--undo` takes the latest back.
    With `--joins` you check a sample of those automatic joins: "different" splits
    the person, and if the weakest joins are often wrong harvest joins less readily.
    """
    from harvest.people import review as rv

    def body() -> int:
        cfg = load_config(config)
        db = _db(cfg)
        who = by or getpass.getuser()
        if undo:
            done = rv.undo(db)
            console.print(
                f"Undid: {done['decision']} ({done['decided_by']}, {done['decided_at']})"
                if done
                else "There is no decision to undo."
            )
        elif export:
            n = rv.export_xlsx(db, export, _limit(limit, joins), check_joins=joins)
            console.print(
                f"Wrote {n} pair(s) to {export}. Fill in the Decision column, then run "
                f"`harvest review --import {export}`."
            )
            return 0
        elif import_:
            result = rv.import_xlsx(db, import_, who)
            for problem in result.problems:
                console.print(f"[yellow]Not used:[/] {problem}", highlight=False)
            console.print(
                f"Recorded {result.same} same and {result.different} different; "
                f"{result.skipped} left for later."
            )
            if result.problems:
                _applied(rv.apply(db, cfg.matching))
                return 1
        else:
            _walk(db, rv, who, _limit(limit, joins), joins)
        _applied(rv.apply(db, cfg.matching))
        return 0

    _run(body)


def _limit(limit: int | None, joins: bool) -> int | None:
    return limit if limit or not joins else JOINS_SAMPLE


def _walk(db, rv, who: str, limit: int | None, joins: bool = False) -> None:
    pairs = rv.joins(db, limit) if joins else rv.queue(db, limit)
    if not pairs:
        console.print(
            "No automatic joins left to check."
            if joins
            else "Nothing to review: every pair is either definite or decided. To check "
            "some of the joins harvest made by itself, run `harvest review --joins`."
        )
        return
    history: list[tuple[int, int]] = []  # (index of pair, decision id)
    i = 0
    while i < len(pairs):
        show_pair(console, pairs[i], i + 1, len(pairs))
        try:
            answer = (
                typer.prompt("Same person? (s/d/k/u/q)", default="k", show_default=False)
                .strip()
                .lower()[:1]
            )
        except typer.Abort:
            answer = "q"
        if answer == "q":
            break
        if answer == "u":
            if history:
                i, decision_id = history.pop()
                rv.undo(db, decision_id)
                console.print("Undone.")
            else:
                console.print("Nothing to undo in this session.")
            continue
        if answer in ("s", "d"):
            decision = "same" if answer == "s" else "different"
            try:
                history.append((i, rv.decide(db, pairs[i], decision, who, "terminal")))
            except ReviewError as exc:  # answered already, through other pairs
                console.print(str(exc))
        elif answer != "k":
            console.print(f"Please answer with one letter: {KEYS}")
            continue
        i += 1
    console.print(f"{len(history)} decision(s) recorded.")


def show_pair(out: Console, pair, n: int, total: int) -> None:
    from harvest.people.review import SHOWN

    table = RichTable(
        title=f"Pair {n} of {total} — {pair.probability:.1%} likely the same", show_lines=False
    )
    table.add_column("")
    table.add_column("A")
    table.add_column("B")
    table.add_column("")
    marks = {"same": "[green]✓ same[/]", "differ": "[red]✗ differs[/]", "": ""}
    for name, label in SHOWN.items():
        a, b = pair.a.values.get(name), pair.b.values.get(name)
        if a or b:
            said = pair.agreement(name)
            mark = f"[yellow]≈ {pair.alike(name)}[/]" if said == "alike" else marks[said]
            table.add_row(label, str(a or "—"), str(b or "—"), mark)
    table.add_row(
        "Seen in", f"{pair.a.source}: {_where(pair.a)}", f"{pair.b.source}: {_where(pair.b)}", ""
    )
    out.print(table)
    out.print(KEYS)


def _where(side) -> str:
    return f"{side.location} row {side.row_number}" if side.row_number else side.location


def _applied(summary) -> None:
    console.print(f"People now: {summary.people:,}; {summary.review:,} pair(s) still to review.")


def person(
    person_id: Annotated[int, typer.Argument(help="The person's id (person_id).")],
    config: ConfigOpt = None,
    export: Annotated[
        Path | None,
        typer.Option(
            "--export",
            help="Write everything held about them (subject access) to FILE.xlsx "
            "or FILE.json instead.",
        ),
    ] = None,
) -> None:
    """Show a person's records and why they were joined: each comparison and its weight.

    With `--export FILE.xlsx` (or `.json`): everything held about them, raw rows included,
    with where and when each was read, for a subject access request.
    """
    from harvest.people.explain import explain_person

    def body() -> int:
        cfg = load_config(config)
        if export:  # data protection: subject access (harvest/dataprotection/access.py)
            from harvest.dataprotection.access import export_person

            console.print(export_person(_db(cfg), person_id, export).summary())
            return 0
        show_person(console, explain_person(_db(cfg), person_id))
        return 0

    _run(body)


def show_person(out: Console, ex) -> None:
    from harvest.people.explain import reason

    p = ex.person
    if ex.asked != ex.person_id:
        out.print(f"Person {ex.asked} was merged into person {ex.person_id}.")
    name = " ".join(str(p[f]) for f in ("given_name", "family_name") if p.get(f))
    out.print(
        f"[bold]Person {ex.person_id}[/]: {name or '(no name)'} — {p['record_count']} "
        f"record(s) in {', '.join(p['sources']) or 'no source'}; first seen "
        f"{p['first_seen'][:10]}, last seen {p['last_seen'][:10]}"
    )
    table = RichTable("record", "source", "where", "name", "born", "postcode", "email", "phone")
    for r in ex.records:
        where = f"{r['location']} row {r['row_number']}" if r["row_number"] else r["location"]
        table.add_row(
            str(r["id"]),
            r["source"],
            where,
            " ".join(x for x in (r["given_name"], r["family_name"]) if x),
            r["date_of_birth"] or "",
            r["postcode"] or "",
            r["email"] or "",
            r["phone"] or "",
        )
    out.print(table)
    if not ex.joins:
        out.print("Only one record, or records joined before matching kept explanations.")
    for j in ex.joins:
        out.print(f"• records {j.record_a} and {j.record_b}: {reason(j)}", highlight=False)


def match(
    config: ConfigOpt = None,
    full: Annotated[
        bool, typer.Option("--full", help="Score every pair again and re-learn the weights.")
    ] = False,
) -> None:
    """Match people again now (`harvest sync` does this after every sync)."""
    from harvest.people.match import match_people

    def body() -> int:
        cfg = load_config(config)
        db = _db(cfg)
        with store.transaction(db):
            summary = match_people(db, cfg.matching.model_copy(update={"enabled": True}), full=full)
        console.print(summary.summary())
        for note in summary.notes:
            console.print(f"  {note}")
        return 0

    _run(body)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command()(review)
    app.command()(person)
    app.command()(match)
