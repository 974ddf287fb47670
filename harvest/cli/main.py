"""The `harvest` command. Each command parses options, calls one library function and
turns a HarvestError into a message and an exit code, in one place (``_run``).

Exit codes: 0 all well; 1 a source, matching people or rebuilding funders.db failed;
2 the config is wrong (nothing synced); 3 another sync is already running.
"""

from __future__ import annotations

import logging
import os
import shutil
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table as RichTable

from harvest import __version__, store
from harvest.cli import auth as cli_auth
from harvest.cli import match as cli_match
from harvest.cli import privacy as cli_privacy
from harvest.cli import publish as cli_publish
from harvest.cli.common import ConfigOpt, JsonOpt, _run, console
from harvest.config import DEFAULT_CONFIG, HarvestConfig, load_config
from harvest.errors import ConfigError
from harvest.private_files import UMASK

app = typer.Typer(
    name="harvest",
    help=(
        "Gather a charity's sign-up sheets, forms and ticketing data into one standard, "
        "keep every row, and publish answers for funders.\n\n"
        "Start with `harvest init`, edit harvest.yaml, then `harvest sync` (add it to cron) "
        "and `harvest serve`. Try it all on sample data with `harvest demo`."
    ),
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    rich_markup_mode="markdown",
)


def _version(value: bool) -> None:
    if value:
        console.print(f"harvest {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show debug logging.")] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print nothing but errors (and --json output).")
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    console.quiet = quiet  # errors go to stderr through another console, always shown
    level = logging.DEBUG if verbose else logging.ERROR if quiet else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(level)  # the same in every command run in one process


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the file.")] = Path(DEFAULT_CONFIG),
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter **harvest.yaml** to edit."""

    def body() -> None:
        if path.exists() and not force:
            raise ConfigError(f"{path} already exists; pass --force to overwrite it.")
        text = resources.files("harvest").joinpath("starter.yaml").read_text(encoding="utf-8")
        path.write_text(text, encoding="utf-8")
        console.print(f"Wrote {path}. Edit the sources in it, then run `harvest sync`.")

    _run(body)


@app.command()
def sync(
    config: ConfigOpt = None,
    source: Annotated[
        str | None, typer.Option("--source", "-s", help="Sync only this source.")
    ] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Read everything again, ignoring what was read before.")
    ] = False,
    progress: Annotated[
        bool | None,
        typer.Option("--progress/--no-progress", help="Progress bar (default: on a terminal)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Read every source, clean it into the standard and store it. Safe to run from cron.

    Unchanged files are not read again. Exit code 0 when everything worked, 1 when a
    source failed (the others still sync) or matching people or rebuilding funders.db
    failed (what synced is kept), 2 when harvest.yaml is wrong, 3 when another sync is
    running.
    """
    from harvest.cli.output import emit, sync_document
    from harvest.reporting import make_reporter
    from harvest.sync import QuietReporter
    from harvest.sync import sync as run_sync

    def body() -> int:
        cfg = load_config(config)
        reporter = QuietReporter() if as_json else make_reporter(console, progress)
        result = run_sync(cfg, only=source, full=full, reporter=reporter)
        if as_json:
            emit(sync_document(result))
            return result.exit_code
        if result.matching:
            console.print(result.matching.summary(), highlight=False)
        for line in (result.published, result.publish_error):
            if line:
                console.print(line, highlight=False, soft_wrap=True)
        if result.erasures:
            console.print(f"Erasures asked for during this sync, now done: {result.erasures}.")
        if not result.sources:
            console.print("No sources to sync: add one under `sources:` in harvest.yaml.")
        return result.exit_code

    _run(body)


@app.command("map")
def map_(
    source: Annotated[str, typer.Argument(help="The source's name in harvest.yaml.")],
    config: ConfigOpt = None,
    write: Annotated[
        bool, typer.Option("--write", help="Save the proposed mapping into harvest.yaml.")
    ] = False,
) -> None:
    """Show how each column of a source maps to the standard, with a confidence.

    With --write the mapping is saved under the source's `mapping:` so you can edit it.
    """
    from harvest.cli.mapping import propose_mapping, show_mapping, write_mapping

    def body() -> None:
        cfg = load_config(config)
        proposals = propose_mapping(cfg, source)
        show_mapping(console, proposals)
        if write:
            n = write_mapping(cfg, source, proposals)
            console.print(f"Saved {n} column(s) under sources → {source} → mapping in {cfg.path}.")

    _run(body)


@app.command()
def check(
    source: Annotated[str | None, typer.Argument(help="Only this source.")] = None,
    config: ConfigOpt = None,
    limit: Annotated[int, typer.Option(help="How many kinds of problem to list.")] = 10,
    as_json: JsonOpt = False,
) -> None:
    """The data checker: how complete each source is and its worst problems, in plain words."""
    from harvest.cli.check import show_checks
    from harvest.cli.output import check_document, emit
    from harvest.normalise.check import check as run_check

    def body() -> int:
        cfg = load_config(config)
        names = [cfg.source(source).name] if source else [s.name for s in cfg.sources]
        if not cfg.database_path.exists():
            raise ConfigError(
                f"There is no database at {cfg.database_path} yet: run `harvest sync`."
            )
        db = store.connect(cfg.database_path)
        results = run_check(db, names, limit)
        if as_json:
            emit(check_document(results))
        else:
            show_checks(console, results)
        return 0

    _run(body)


@app.command()
def standard(
    format: Annotated[
        str,
        typer.Option("--format", "-f", help="table, csv, json, markdown or json-schema."),
    ] = "table",
    diff: Annotated[
        tuple[str, str] | None,
        typer.Option("--diff", help="Say what changed between two versions: --diff v1 v2."),
    ] = None,
) -> None:
    """Print the common data standard: every field, its hashtag, type and allowed values.

    `--format json-schema` prints a JSON Schema of one record; `--diff v1 v2` says what
    changed from one version of the standard to another.
    """
    from harvest.normalise.standard import load_standard

    def body() -> None:
        if diff:
            _print_diff(*diff)
        elif format == "json-schema":
            import json

            from harvest.normalise.schema import record_schema

            print(json.dumps(record_schema(), indent=2, ensure_ascii=False))
        else:
            _print_rows(load_standard().dictionary_rows(), format)

    _run(body)


def _print_diff(old: str, new: str) -> None:
    from harvest.normalise.standard_diff import diff_standards, parse_version

    try:
        lines = diff_standards(parse_version(old), parse_version(new)).lines()
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    for line in lines:
        console.print(line, highlight=False, markup=False, soft_wrap=True)


def _print_rows(rows: list[dict[str, Any]], fmt: str) -> None:
    import csv
    import json
    import sys

    if fmt == "json":
        console.print_json(json.dumps(rows))
    elif fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    elif fmt == "markdown":
        cols = ["name", "entity", "hashtag", "type", "special", "since", "description"]
        print("| " + " | ".join([*cols, "allowed_values"]) + " |")
        print("|" + "---|" * (len(cols) + 1))
        for r in rows:
            r = {**r, "special": "yes" if r["special_category"] else ""}
            r["type"] += " (list)" if r["multiple"] else ""
            cells = [str(r[c] or "").replace("|", "/") for c in [*cols, "allowed_values"]]
            print("| " + " | ".join(cells) + " |")
    elif fmt == "table":
        table = RichTable("field", "hashtag", "type", "description", show_lines=False)
        for r in rows:
            desc = r["description"] + (
                f" [dim]({r['allowed_values']})[/]" if r["allowed_values"] else ""
            )
            kind = r["type"] + (" (list)" if r["multiple"] else "")
            table.add_row(r["name"], r["hashtag"], kind, desc)
        console.print(table)
    else:
        raise ConfigError(f"Unknown format {fmt!r}: use table, csv, json, markdown or json-schema.")


@app.command()
def serve(
    config: ConfigOpt = None,
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8001,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    funders: Annotated[
        bool,
        typer.Option("--funders", help="Serve only the funder view (funders.db, logins required)."),
    ] = False,
) -> None:
    """Browse the data in Datasette, with canned queries.

    By default this serves the store (and funders.db, once `harvest publish` has run) for
    your own staff. Once users exist (`harvest users add`), everyone must log in and
    funders see only funders.db. With --funders only the funder view is served.
    """
    from harvest.publish.datasette import serve as run_serve
    from harvest.publish.datasette import serve_funders
    from harvest.publish.funders import funders_path

    def ready() -> None:  # only once the port and the files are known to be fine
        console.print(f"Serving at http://{host}:{port}/ (Ctrl+C to stop)")

    def body() -> int:
        cfg = load_config(config)
        if funders:
            return serve_funders(cfg, host=host, port=port, ready=ready)
        return run_serve(
            cfg.organisation,
            cfg.database_path,
            host=host,
            port=port,
            funders_db=funders_path(cfg),
            settings=cfg.publish,
            logins=cfg.logins,
            config_path=cfg.path,
            ready=ready,
        )

    _run(body)


@app.command()
def demo(
    directory: Annotated[
        Path, typer.Option("--dir", help="Where to put the sample files and database.")
    ] = Path("demo-output"),
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Stop after the sync.")] = False,
    port: Annotated[int, typer.Option(help="Port for Datasette.")] = 8001,
) -> None:
    """Sync the sample data of a fictional charity, publish it, and browse it at http://127.0.0.1:8001.

    Two logins are made for the demo and printed: a funder (sees only the funder view)
    and a member of staff (sees the store as well).
    """
    from harvest.publish.datasette import serve as run_serve
    from harvest.publish.funders import funders_path, publish_funders
    from harvest.publish.users import Users, demo_logins, users_path
    from harvest.reporting import make_reporter
    from harvest.sync import sync as run_sync

    def body() -> int:
        cfg = _prepare_demo(directory)
        console.print(f"Demo files copied to {directory}/ — syncing {len(cfg.sources)} sources:")
        result = run_sync(cfg, reporter=make_reporter(console))
        if result.matching:
            console.print(result.matching.summary(), highlight=False)
        console.print(result.published or publish_funders(cfg).summary())
        if no_serve:
            return result.exit_code
        logins = demo_logins(Users(users_path(cfg.database_path)))

        def ready() -> None:  # only once the port is known to be free
            console.print(
                f"\nBrowse at [bold]http://127.0.0.1:{port}/[/] and log in (Ctrl+C to stop):"
            )
            for name, role, password in logins:
                console.print(f"  {role:>6}: user [bold]{name}[/]  password [bold]{password}[/]")
            console.print(f"A funder lands on the overview, http://127.0.0.1:{port}/dashboard")
            console.print(
                f"Staff: run harvest from the browser at http://127.0.0.1:{port}/-/console"
            )

        return run_serve(
            cfg.organisation,
            cfg.database_path,
            port=port,
            funders_db=funders_path(cfg),
            settings=cfg.publish,
            logins=cfg.logins,
            config_path=cfg.path,
            ready=ready,
        )

    _run(body)


def _prepare_demo(directory: Path) -> HarvestConfig:
    directory.mkdir(parents=True, exist_ok=True)
    demo_files = resources.files("harvest").joinpath("demo")
    for item in demo_files.iterdir():
        if item.is_file() and not item.name.startswith(("__", ".")):
            with resources.as_file(item) as src:
                shutil.copy2(src, directory / item.name)
    return load_config(directory / "harvest.yaml")


for _module in (cli_auth, cli_match, cli_publish, cli_privacy):
    _module.register(app)


def run() -> None:
    """The `harvest` command (the entry point): every file it writes is readable by its user
    only, whatever the umask of the shell or cron that started it (harvest/private_files.py)."""
    os.umask(UMASK)
    app()


if __name__ == "__main__":  # pragma: no cover
    run()
