"""`harvest forget`, `harvest retention` and `harvest audit`: data protection operations."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Annotated

import typer
from rich.table import Table as RichTable

from harvest import store
from harvest.cli.common import ConfigOpt, JsonOpt, _run, console
from harvest.config import load_config
from harvest.errors import ConfigError


def _db(cfg):  # type: ignore[no-untyped-def]
    if not cfg.database_path.exists():
        raise ConfigError(f"There is no database at {cfg.database_path} yet: run `harvest sync`.")
    return store.connect(cfg.database_path)


def forget(
    config: ConfigOpt = None,
    person: Annotated[int | None, typer.Option("--person", help="The person's id.")] = None,
    email: Annotated[str | None, typer.Option(help="Their email address.")] = None,
    phone: Annotated[str | None, typer.Option(help="Their phone number.")] = None,
    name: Annotated[str | None, typer.Option(help="Their name, with --dob.")] = None,
    dob: Annotated[str | None, typer.Option("--dob", help="Their date of birth.")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """**Erase a person** (UK GDPR article 17): every record, raw row, attendance, outcome
    and review decision, from the store and funders.db, for good.

    Shows what will go and asks first. Rows still in a source are remembered as keyed
    hashes, so the next sync does not bring them back.
    """
    from harvest.dataprotection.erasure import Who, find_person
    from harvest.dataprotection.erasure import forget as do_forget

    def body() -> int:
        cfg = load_config(config)
        db = _db(cfg)
        try:
            who = Who(person, email, phone, name, dob)
            plan = find_person(db, who)
        finally:
            db.conn.close()
        _show_plan(plan)
        if not yes and not typer.confirm("Erase all of this for good?", default=False):
            console.print("Nothing was changed.")
            return 1
        console.print(do_forget(cfg, plan, who=who).summary(), highlight=False)
        return 0

    _run(body)


def _show_plan(plan) -> None:  # type: ignore[no-untyped-def]
    table = RichTable(
        "raw row",
        "source",
        "where",
        "version",
        "person",
        "name",
        "born",
        title=f"{len(plan.records)} row version(s) will be erased",
    )
    for r in plan.records:
        where = f"{r['location']} row {r['row_number']}" if r["row_number"] else r["location"]
        name = " ".join(x for x in (r["given_name"], r["family_name"]) if x)
        table.add_row(
            str(r["id"]),
            r["source"],
            where,
            str(r["version"]),
            str(r["person_id"] or ""),
            name,
            r["date_of_birth"] or "",
        )
    console.print(table)
    console.print(
        "With them go their attendances, outcomes, data problems, match pairs and review decisions."
    )


def retention(
    config: ConfigOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would go, and change nothing.")
    ] = False,
) -> None:
    """Apply the **retention policy** (`retention:` in harvest.yaml) now; every sync does too."""
    from harvest.dataprotection.erasure import vacuum
    from harvest.dataprotection.retention import retention_config, run_retention
    from harvest.lock import sync_lock

    def body() -> int:
        cfg = load_config(config)
        if not retention_config(cfg).active:
            console.print(
                "No retention policy is set (`retention:` in harvest.yaml): everything is kept."
            )
            return 0
        # deleting takes the sync's lock, so it never runs inside a sync's transaction
        with nullcontext() if dry_run else sync_lock(cfg.database_path):
            db = _db(cfg)
            try:
                result = run_retention(db, cfg, dry_run=dry_run)
            finally:
                db.conn.close()
            if not dry_run and (result.records_deleted or result.raw_rows_blanked):
                vacuum(cfg.database_path)
        console.print(result.summary())
        return 0

    _run(body)


def audit(
    config: ConfigOpt = None,
    limit: Annotated[int, typer.Option(help="At most this many entries.")] = 50,
    action: Annotated[
        str | None,
        typer.Option(
            help="Only this action (sync, publish, forget, export, review, retention, users, login,"
            " upgrade)."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the **audit trail**: who did what and when (counts only, never personal data)."""
    from harvest import audit as trail
    from harvest.cli.output import audit_document, emit

    def body() -> int:
        db = _db(load_config(config))
        try:
            rows = trail.entries(db, limit, action)
        finally:
            db.conn.close()
        if as_json:
            emit(audit_document(rows))
            return 0
        table = RichTable("when", "action", "command", "user", "counts")
        for e in rows:
            counts = ", ".join(f"{k}={v}" for k, v in e.counts.items())
            table.add_row(e.at, e.action, e.command or "", e.user or "", counts)
        console.print(table)
        return 0

    _run(body)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command()(forget)
    app.command()(retention)
    app.command()(audit)
