"""`harvest publish`, `harvest users`, `harvest geo` and `harvest export`: the funders' view."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table as RichTable

from harvest import audit
from harvest.cli.common import ConfigOpt, JsonOpt, _run, console
from harvest.config import load_config
from harvest.errors import ConfigError

users_app = typer.Typer(
    name="users",
    help="Who may log in to the published Datasette: funders, and the charity's staff.",
    no_args_is_help=True,
)
geo_app = typer.Typer(
    name="geo",
    help="Area data for the funder view: local authority, ward, region and deprivation "
    "per postcode, from the ONS Postcode Directory.",
    no_args_is_help=True,
)


def publish(
    config: ConfigOpt = None,
    serve: Annotated[
        bool, typer.Option("--serve", help="Then serve the funder view until Ctrl+C.")
    ] = False,
    port: Annotated[int, typer.Option(help="Port for the funder view.")] = 8002,
    host: Annotated[str, typer.Option(help="Address for the funder view.")] = "127.0.0.1",
    new_pseudonym_key: Annotated[
        bool,
        typer.Option(
            "--new-pseudonym-key",
            help="Start afresh with a new pseudonym key: every person gets a new pseudonym.",
        ),
    ] = False,
) -> None:
    """Build **funders.db** from the store: figures for funders, with nobody identifiable.

    Every figure a funder may open is worked out for every period, activity and area and
    protected (the cell key method, see docs/privacy.md); no row about any one person is
    written. With --serve, the funder view (logins required: see `harvest users add`)
    runs afterwards. An erasure left unfinished (`harvest forget` stopped part-way) is
    finished first.
    """
    from harvest.dataprotection.pending import finish_locked
    from harvest.publish.datasette import serve_funders
    from harvest.publish.pseudonym_key import publish as publish_funders

    def body() -> int:
        cfg = load_config(config)
        finish_locked(cfg)
        summary = publish_funders(cfg, new_key=new_pseudonym_key)
        audit.record_at(
            cfg.database_path,
            "publish",
            {  # data protection: the audit trail
                "people": summary.people,
                "contacts": summary.contacts,
            },
            command="publish",
        )
        console.print(summary.summary())
        if not serve:
            return 0
        return serve_funders(
            cfg,
            host=host,
            port=port,
            ready=lambda: console.print(
                f"Serving the funder view at http://{host}:{port}/ (Ctrl+C to stop)"
            ),
        )

    _run(body)


def _users(config: ConfigOpt):  # type: ignore[no-untyped-def]
    from harvest.publish.users import Users, users_path

    return Users(users_path(load_config(config).database_path))


def _audit_users(config: ConfigOpt, action: str, role: str | None) -> None:
    """An audit entry for a login change, in the store when there is one (no login names)."""
    db_path = load_config(config).database_path
    if db_path.exists():
        audit.record_at(
            db_path,
            action,
            {"funder": role == "funder", "staff": role == "staff"},
            command=action.replace(".", " "),
        )


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return str(password)


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="The login name (lower case, no spaces).")],
    role: Annotated[str, typer.Option("--role", help="funder or staff.")],
    config: ConfigOpt = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    replace: Annotated[
        bool, typer.Option("--replace", help="Change an existing user's role or password.")
    ] = False,
) -> None:
    """Add a user who may log in. Only a salted hash of the password is kept.

    With --replace, changing a user's role or password ends every session they have.
    """

    def body() -> None:
        users = _users(config)
        password = _read_password(password_stdin)
        if not password:
            raise ConfigError("No password given: type one, or pipe it in with --password-stdin.")
        users.add(name, role, password, replace=replace)
        _audit_users(config, "users.add", role)
        console.print(f"Added {name} ({role}) to {users.path}.")

    _run(body)


@users_app.command("list")
def users_list(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """List who may log in, and their roles (never their passwords)."""

    def body() -> None:
        users = _users(config)
        if as_json:
            from harvest.cli.output import emit, users_document

            emit(users_document(users.all()))
            return
        if not users.all():
            console.print("No users yet: add one with `harvest users add NAME --role funder`.")
            return
        table = RichTable("name", "role")
        for user in users.all():
            table.add_row(user.name, user.role)
        console.print(table)

    _run(body)


@users_app.command("remove")
def users_remove(
    name: Annotated[str, typer.Argument(help="The login name to remove.")],
    config: ConfigOpt = None,
) -> None:
    """Remove a user. Every session they have ends at once, on every running server."""

    def body() -> int:
        users = _users(config)
        if not users.remove(name):
            raise ConfigError(f"There is no user called {name!r} (see `harvest users list`).")
        _audit_users(config, "users.remove", None)
        console.print(f"Removed {name}: they are logged out everywhere, with no restart needed.")
        return 0

    _run(body)


@geo_app.command("import")
def geo_import(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="The ONSPD CSV: Data/ONSPD_MMM_YYYY_UK.csv (or several of its "
            "Data/multi_csv files)."
        ),
    ],
    names: Annotated[
        Path | None,
        typer.Option(
            "--names",
            help="The ONSPD's Documents folder, for the names of local authorities, "
            "wards and regions (without it: codes only).",
        ),
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Load the **ONS Postcode Directory** into the store, replacing any earlier import.

    Each live postcode's local authority, ward, region, country and deprivation decile
    is kept (terminated postcodes are skipped); `harvest publish` then adds them to
    funders.db. The 1.4 GB file takes a minute or two and is never loaded whole.
    """
    from harvest.lock import sync_lock
    from harvest.publish.onspd import import_onspd

    def body() -> None:
        cfg = load_config(config)
        with console.status("Reading the ONS Postcode Directory…") as status:

            def progress(rows: int) -> None:
                status.update(f"Reading the ONS Postcode Directory… {rows:,} rows")

            with sync_lock(cfg.database_path):
                summary = import_onspd(cfg.database_path, files, names, progress)
        console.print(summary.summary())
        console.print("Run `harvest publish` to use it in funders.db.")

    _run(body)


def export(
    hxl: Annotated[
        bool, typer.Option("--hxl", help="Add a row of HXL hashtags under the header row.")
    ] = False,
    table: Annotated[
        list[str] | None,
        typer.Option("--table", "-t", help="Only this funder table or canned query (repeatable)."),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv or xlsx.")] = "csv",
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="The file to write; for several tables as CSV, a folder "
            "(default NAME.csv, funders-export/ or funders.xlsx).",
        ),
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Export the **funder tables and canned queries** from funders.db as CSV or XLSX.

    Only what funders may see: protected aggregates, exactly as the funder view shows
    them (funders.db holds nothing else). Cells a spreadsheet would run as formulas are
    neutralised.
    """
    from harvest.publish.export import export_funders

    def body() -> None:
        written = export_funders(load_config(config), table, hxl, fmt.lower(), output)
        for item in written:
            console.print(f"{item.name}: {item.rows:,} rows → {item.path}")

    _run(body)


def report(
    period: Annotated[
        str,
        typer.Option(
            help="A period from funders.db's choices: 2026-03, 2026-Q1, 2026, 2025/26, a named "
            "period or 'All time' (default: the latest quarter with figures)."
        ),
    ] = "",
    activity: Annotated[str, typer.Option(help="An activity (default: all).")] = "",
    area: Annotated[str, typer.Option(help="An area (default: all).")] = "",
    out: Annotated[Path, typer.Option("--out", "-o", help="The PDF to write.")] = Path(
        "report.pdf"
    ),
    config: ConfigOpt = None,
) -> None:
    """Write the funder's overview for a period as a **PDF**, for board papers.

    The same figures as the dashboard (/dashboard), exactly as published in funders.db.
    """
    from harvest.publish.funders import funders_path
    from harvest.publish.report import write_report

    def body() -> None:
        cfg = load_config(config)
        overview = write_report(funders_path(cfg), out, period, activity, area, cfg.organisation)
        console.print(f"Wrote {out}: {overview.describe()}")

    _run(body)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command("publish")(publish)
    app.command("export")(export)
    app.command("report")(report)
    app.add_typer(users_app)
    app.add_typer(geo_app)
