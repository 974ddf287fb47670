"""`harvest publish` and `harvest users`: the funders' view and who may see it."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table as RichTable

from harvest.cli_common import ConfigOpt, _run, console
from harvest.config import load_config
from harvest.errors import ConfigError

users_app = typer.Typer(
    name="users",
    help="Who may log in to the published Datasette: funders, and the charity's staff.",
    no_args_is_help=True,
)


def publish(
    config: ConfigOpt = None,
    serve: Annotated[
        bool, typer.Option("--serve", help="Then serve the funder view until Ctrl+C.")
    ] = False,
    port: Annotated[int, typer.Option(help="Port for the funder view.")] = 8002,
    host: Annotated[str, typer.Option(help="Address for the funder view.")] = "127.0.0.1",
) -> None:
    """Build **funders.db** from the store: figures for funders, with nobody identifiable.

    People become pseudonyms, ages become age bands, postcodes become postcode districts
    and days become months; the canned queries suppress small numbers. With --serve,
    the funder view (logins required: see `harvest users add`) runs afterwards.
    """
    from harvest.publish.datasette import serve_funders
    from harvest.publish.funders import publish_funders

    def body() -> int:
        cfg = load_config(config)
        summary = publish_funders(cfg)
        console.print(summary.summary())
        if not serve:
            return 0
        console.print(f"Serving the funder view at http://{host}:{port}/ (Ctrl+C to stop)")
        return serve_funders(cfg, host=host, port=port)

    _run(body)


def _users(config: ConfigOpt):  # type: ignore[no-untyped-def]
    from harvest.publish.users import Users, users_path

    return Users(users_path(load_config(config).database_path))


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return str(password)


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="The login name (lower case, no spaces).")],
    role: Annotated[str, typer.Option("--role", help="funder or staff.")],
    config: ConfigOpt = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    replace: Annotated[
        bool, typer.Option("--replace", help="Change an existing user's role or password.")
    ] = False,
) -> None:
    """Add a user who may log in. Only a salted hash of the password is kept."""

    def body() -> None:
        users = _users(config)
        password = _read_password(password_stdin)
        if not password:
            raise ConfigError("No password given: type one, or pipe it in with --password-stdin.")
        users.add(name, role, password, replace=replace)
        console.print(f"Added {name} ({role}) to {users.path}.")

    _run(body)


@users_app.command("list")
def users_list(config: ConfigOpt = None) -> None:
    """List who may log in, and their roles (never their passwords)."""

    def body() -> None:
        users = _users(config)
        if not users.all():
            console.print("No users yet: add one with `harvest users add NAME --role funder`.")
            return
        table = RichTable("name", "role")
        for user in users.all():
            table.add_row(user.name, user.role)
        console.print(table)

    _run(body)


@users_app.command("remove")
def users_remove(
    name: Annotated[str, typer.Argument(help="The login name to remove.")],
    config: ConfigOpt = None,
) -> None:
    """Remove a user. They can no longer log in once the server is restarted."""

    def body() -> int:
        users = _users(config)
        if not users.remove(name):
            raise ConfigError(f"There is no user called {name!r} (see `harvest users list`).")
        console.print(f"Removed {name}. Restart `harvest serve` or `harvest publish --serve`.")
        return 0

    _run(body)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command("publish")(publish)
    app.add_typer(users_app)
