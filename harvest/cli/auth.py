"""`harvest auth …`: authorise API sources once; secrets go to the token store."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from pydantic import SecretStr

from harvest.cli.common import _run, console

auth_app = typer.Typer(
    help="Authorise a source once (Eventbrite, Google, Microsoft). Secrets go to the token "
    "store, never into harvest.yaml or the database.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    from harvest.cli import auth_google as cli_auth_google
    from harvest.cli import auth_microsoft as cli_auth_microsoft

    cli_auth_google.register(auth_app)
    cli_auth_microsoft.register(auth_app)
    app.add_typer(auth_app, name="auth")


@auth_app.command("eventbrite")
def eventbrite(
    token_stdin: Annotated[
        bool,
        typer.Option("--token-stdin", help="Read the token from standard input (for scripts)."),
    ] = False,
    api_url: Annotated[
        str | None,
        typer.Option("--api-url", help="The Eventbrite API address (for tests and proxies)."),
    ] = None,
) -> None:
    """Check your organisation's Eventbrite private token and keep it in the token store.

    The token is asked for with hidden typing (or read from standard input with
    --token-stdin), checked against Eventbrite, and never printed or logged.
    """
    from harvest.connectors.eventbrite import DEFAULT_API_URL, TOKEN_HINT, authorise

    def body() -> None:
        if token_stdin:
            token = sys.stdin.readline()
        else:
            console.print(TOKEN_HINT, highlight=False)
            token = typer.prompt("Private token", hide_input=True)
        result = authorise(SecretStr(token), api_url or DEFAULT_API_URL)
        console.print(
            f"Eventbrite accepted the token (user: {result.user}). It can read:", highlight=False
        )
        for org_id, name in result.organisations:
            console.print(f"  - {name} (organization_id: {org_id})", highlight=False)
        console.print(
            f"The token is stored in {result.stored_in}, not in harvest.yaml.", highlight=False
        )
        hint = "  - name: eventbrite\n    type: eventbrite"
        if len(result.organisations) > 1:
            hint += f'\n    options:\n      organization_id: "{result.organisations[0][0]}"'
        console.print(f"Add it to harvest.yaml under sources:\n{hint}", highlight=False)

    _run(body)
