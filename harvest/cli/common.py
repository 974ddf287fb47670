"""What every CLI module shares: the consoles, the --config option, and error handling."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from harvest.errors import HarvestError

log = logging.getLogger("harvest")

console = Console()
err = Console(stderr=True)

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        envvar="HARVEST_CONFIG",
        help="The harvest.yaml to use (default: ./harvest.yaml, or $HARVEST_CONFIG).",
    ),
]
JsonOpt = Annotated[
    bool,
    typer.Option("--json", help="Print one JSON document for scripts instead (docs/scripting.md)."),
]


def _run(fn: Callable[[], int | None]) -> None:
    """Run a command body; a HarvestError becomes a plain message and its exit code.

    Anything else is a fault in harvest: a plain sentence on what to do, never a traceback
    (that goes to the log, shown with -v). Click's own exits and usage errors pass through.
    """
    try:
        code = fn() or 0
    except HarvestError as exc:
        err.print(f"[bold red]Error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None
    except Exception as exc:
        if isinstance(exc, typer.Exit | typer.Abort) or hasattr(exc, "show"):  # click's own
            raise
        log.debug("unexpected error", exc_info=True)
        err.print(
            f"[bold red]Error:[/] harvest stopped on a problem it did not expect "
            f"({type(exc).__name__}: {exc}). What was stored before it is kept: each source "
            "lands in one transaction. Run the command again with -v (harvest -v …) to see "
            "the details, and report them with the command you ran.",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1) from None
    raise typer.Exit(code)
