"""`harvest auth …`: authorise API sources once; secrets go to the token store."""

from __future__ import annotations

import typer

auth_app = typer.Typer(
    help="Authorise a source once (Eventbrite, Google, Microsoft). Secrets go to the token "
    "store, never into harvest.yaml or the database.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(auth_app, name="auth")
