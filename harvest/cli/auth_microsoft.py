"""`harvest auth microsoft`: sign in once with a device code; the sign-in goes to the token store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from harvest.cli.common import ConfigOpt, _run, console
from harvest.errors import ConfigError

if TYPE_CHECKING:
    from harvest.connectors.microsoft_auth import MicrosoftApp


def register(auth_app: typer.Typer) -> None:
    """Add `harvest auth microsoft` to the auth sub-app."""
    auth_app.command("microsoft")(microsoft)


def microsoft(
    config: ConfigOpt = None,
    tenant_id: Annotated[
        str | None,
        typer.Option(
            "--tenant-id",
            help="Directory (tenant) ID of the app registration (default: from "
            "the microsoft_excel sources in harvest.yaml).",
        ),
    ] = None,
    client_id: Annotated[
        str | None,
        typer.Option(
            "--client-id",
            help="Application (client) ID of the app registration (default: from harvest.yaml).",
        ),
    ] = None,
    authority_url: Annotated[
        str | None,
        typer.Option(
            "--authority-url", help="The Microsoft sign-in address (for tests and national clouds)."
        ),
    ] = None,
) -> None:
    """Sign in to Microsoft 365 once, for the microsoft_excel sources.

    Works on a server without a browser: it prints an address and a code; open the
    address on any device, type the code and sign in. harvest asks only to read files
    and sites (Files.Read.All, Sites.Read.All) and to stay signed in (offline_access).
    The sign-in is kept in the token store, never in harvest.yaml, and never printed.
    """
    from harvest.connectors.microsoft_auth import MicrosoftAuth

    def body() -> None:
        apps = _apps(config, tenant_id, client_id, authority_url)
        for app in apps:
            console.print(
                f"Signing in for tenant {app.tenant_id}, app {app.client_id}.", highlight=False
            )
            auth = MicrosoftAuth(app)
            user = auth.sign_in(lambda message: console.print(message, highlight=False))
            console.print(
                f"Signed in as {user}. The sign-in is stored in {auth.store.where}, "
                "not in harvest.yaml; each sync renews it.",
                highlight=False,
            )

    _run(body)


def _apps(
    config: Path | None, tenant_id: str | None, client_id: str | None, authority_url: str | None
) -> list[MicrosoftApp]:
    """The app registrations to sign in to: from the options, else from harvest.yaml."""
    from harvest.config import load_config
    from harvest.connectors.microsoft_auth import DEFAULT_AUTHORITY_URL, MicrosoftApp
    from harvest.signin_job import microsoft_apps

    if tenant_id and client_id:
        return [MicrosoftApp(tenant_id, client_id, authority_url or DEFAULT_AUTHORITY_URL)]
    if tenant_id or client_id:
        raise ConfigError(
            "Give both --tenant-id and --client-id, or neither (then they are "
            "read from the microsoft_excel sources in harvest.yaml)."
        )
    return microsoft_apps(load_config(config), authority_url)
