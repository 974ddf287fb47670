"""`harvest auth google`: authorise once; the refresh token goes to the token store."""

from __future__ import annotations

import os
import webbrowser
from pathlib import Path
from typing import Annotated

import typer

from harvest.cli.common import _run, console


def register(auth_app: typer.Typer) -> None:
    """Add `harvest auth google` to the auth sub-app."""
    auth_app.command("google")(google)


def browser_usable() -> bool:
    """True where a web browser can be opened on this computer (not over SSH without one)."""
    if os.environ.get("SSH_CONNECTION") and not os.environ.get("DISPLAY"):
        return False
    try:
        webbrowser.get()
    except webbrowser.Error:
        return False
    return True


def google(
    client_file: Annotated[
        Path,
        typer.Option(
            "--client-file",
            help='The OAuth client JSON file (type "Desktop app") '
            "downloaded from Google Cloud; see docs/connectors/google.md.",
        ),
    ],
    no_browser: Annotated[
        bool,
        typer.Option(
            "--no-browser",
            help="Do not open a browser here (a server): open the "
            "address shown on any computer and paste back where it ends.",
        ),
    ] = False,
    api_url: Annotated[
        str | None,
        typer.Option("--api-url", help="One address for Google's APIs (for tests and proxies)."),
    ] = None,
) -> None:
    """Authorise harvest to read your Google Forms and Sheets (read-only), once.

    Opens Google's consent page in a browser (or, with --no-browser or on a server, shows
    its address to open on any computer). The refresh token Google gives is kept in the
    token store, never in harvest.yaml, and never printed.
    """
    from harvest.connectors.google_oauth import authorise

    def show(url: str) -> None:
        console.print(
            "Open this address, sign in with the Google account that owns the forms "
            "and sheets, and choose Allow:",
            highlight=False,
        )
        console.print(url, highlight=False, soft_wrap=True)

    def ask(url: str) -> str:
        console.print(
            "Your browser will end on a page that does not load (its address starts "
            "http://localhost:1/). That is expected: copy the whole address from the "
            "address bar.",
            highlight=False,
        )
        return typer.prompt("Paste the address here")

    def body() -> None:
        browser = not no_browser and browser_usable()
        result = authorise(
            client_file,
            browser=browser,
            show=show,
            ask=ask,
            api_url=api_url.rstrip("/") if api_url else None,
        )
        console.print(
            f"Google authorised harvest as {result.account} (read-only). The refresh "
            f"token is stored in {result.stored_in}, not in harvest.yaml.",
            highlight=False,
        )
        console.print(
            "Add a source to harvest.yaml, e.g.:\n  - name: feedback\n    type: "
            "google_forms\n    options:\n      form: https://docs.google.com/forms/d/"
            "<id>/edit",
            highlight=False,
        )

    _run(body)
