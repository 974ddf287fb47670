"""`harvest auth microsoft`: authorise once; tokens go to the token store."""

from __future__ import annotations

import typer


def register(auth_app: typer.Typer) -> None:
    """Add `harvest auth microsoft` to the auth sub-app."""
