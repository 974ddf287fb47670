"""`harvest publish` and `harvest users`: the funders' view and who may see it."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
