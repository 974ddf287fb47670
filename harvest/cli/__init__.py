"""The `harvest` command: one typer sub-app per command group (``main`` holds the top-level
commands and the entry point; ``auth``, ``match``, ``privacy``, ``publish`` the groups;
``common`` the shared options and the one place errors become exit codes)."""

from __future__ import annotations

from harvest.cli.main import app, run

__all__ = ["app", "run"]
