"""What every CLI module shares: the consoles, the --config option, and error handling."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from harvest.errors import HarvestError

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
    """Run a command body; a HarvestError becomes a plain message and its exit code."""
    try:
        code = fn() or 0
    except HarvestError as exc:
        err.print(f"[bold red]Error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None
    raise typer.Exit(code)
