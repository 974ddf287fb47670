"""Run Datasette: the staff view of the store, and the funder view of funders.db.

``build_metadata`` (store_metadata.py) describes every table and column of the store
and adds the canned queries in ``queries.yaml``. ``serve`` writes that metadata beside
the database and runs Datasette 0.65 in the foreground on the store and, when it has
been published, funders.db. Until users are added (``harvest users add``) the staff view has no
logins and is for this computer only; after that everyone must log in and the
store is for staff only. ``serve_funders`` runs the funder view: funders.db only,
logins always (see site.py for who sees what).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harvest.errors import PublishError
from harvest.publish.privacy import PublishConfig
from harvest.publish.sessions import LoginsConfig
from harvest.publish.site import (
    PLUGINS_DIR,
    TEMPLATES_DIR,
    datasette_secret,
    funder_metadata,
    funders_database_metadata,
    login_plugin_config,
    secure_staff_metadata,
)
from harvest.publish.store_metadata import (
    build_metadata,
    load_queries,
    metadata_path_for,
    write_json,
    write_metadata,
)
from harvest.publish.users import User
from harvest.secrets import TokenStore

# load_queries and write_metadata lived here before store_metadata.py: still importable
__all__ = ["load_queries", "serve", "serve_funders", "staff_command", "write_metadata"]

log = logging.getLogger(__name__)

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
SETTINGS = {
    "sql_time_limit_ms": "5000",
    "max_returned_rows": "5000",
    "default_page_size": "100",
}
LOCKED = {"allow_download": "off", "default_allow_sql": "off"}  # when there are logins


def datasette_args(
    db_path: Path | list[Path],
    metadata_path: Path,
    host: str,
    port: int,
    settings: dict[str, str] | None = None,
    plugins: bool = False,
) -> list[str]:
    """The command line that runs Datasette on the databases (read-write, as sync may run too)."""
    paths = db_path if isinstance(db_path, list) else [db_path]
    args = [
        sys.executable,
        "-m",
        "datasette",
        "serve",
        *map(str, paths),
        "--metadata",
        str(metadata_path),
        "--host",
        host,
        "--port",
        str(port),
    ]
    for name, value in (settings or SETTINGS).items():
        args += ["--setting", name, value]
    if plugins:
        args += ["--plugins-dir", str(PLUGINS_DIR), "--template-dir", str(TEMPLATES_DIR)]
    return args


def check_port_free(host: str, port: int) -> None:
    """Raise PublishError if something is already listening on host:port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            raise PublishError(
                f"port {port} is in use: pass --port with another number (e.g. --port {port + 1}), "
                f"or stop the program using it."
            ) from None


def check_database(db_path: Path) -> None:
    if not db_path.is_file():
        raise PublishError(f"There is no harvest database at {db_path}: run `harvest sync` first.")


def staff_command(
    organisation: str,
    db_path: Path,
    host: str = "127.0.0.1",
    port: int = 8001,
    funders_db: Path | None = None,
    users: list[User] | None = None,
    settings: PublishConfig | None = None,
    tokens: TokenStore | None = None,
    logins: LoginsConfig | None = None,
    config_path: Path | None = None,
) -> tuple[list[str], dict[str, str]]:
    """The command line and extra environment for the staff server (``config_path``:
    harvest.yaml, for the staff console).

    With no users it is the open, this-computer-only server of old; with users, everyone
    must log in, the store is for staff only and funders see what the funder view shows.
    Downloads are formula-safe either way (the plugins are always loaded).
    """
    from harvest.publish.users import Users, users_path

    db_path = Path(db_path)
    check_database(db_path)
    funders_db = funders_db or db_path.with_name("funders.db")
    funders = [Path(funders_db)] if Path(funders_db).is_file() else []
    users = users if users is not None else Users(users_path(db_path)).all()
    if not users:
        if host not in LOCAL_HOSTS:
            log.warning(
                "Serving personal data on %s with no logins: anyone who can reach this "
                "address can read it. Add users with `harvest users add`.",
                host,
            )
        metadata = build_metadata(organisation, db_name=db_path.stem)
        if funders:
            metadata["databases"][funders[0].stem] = funders_database_metadata(
                settings or PublishConfig(), with_auth=False
            )
        path = write_json(metadata_path_for(db_path), metadata)
        return datasette_args([db_path, *funders], path, host, port, plugins=True), {}
    metadata = secure_staff_metadata(
        build_metadata(organisation, db_name=db_path.stem),
        db_path.stem,
        login_plugin_config(users_path(db_path), db_path, logins, config_path),
        funders[0].stem if funders else None,
        settings or PublishConfig(),
    )
    path = write_json(metadata_path_for(db_path), metadata)
    env = login_env(tokens)
    args = datasette_args(
        [db_path, *funders], path, host, port, {**SETTINGS, **LOCKED}, plugins=True
    )
    return args, env


def funders_command(
    config: Any,
    host: str = "127.0.0.1",
    port: int = 8002,
    users: list[User] | None = None,
    tokens: TokenStore | None = None,
) -> tuple[list[str], dict[str, str]]:
    """The command line and extra environment for the funder view: funders.db only, logins."""
    from harvest.publish.funders import funders_path, publish_config
    from harvest.publish.users import Users, users_path

    db_path = funders_path(config)
    if not db_path.is_file():
        raise PublishError(f"There is no funders database at {db_path}: run `harvest publish`.")
    users = users if users is not None else Users(users_path(config.database_path)).all()
    if not users:
        raise PublishError(
            "Nobody can log in to the funder view yet: add a user with "
            "`harvest users add NAME --role funder` (and one with --role staff)."
        )
    plugins = login_plugin_config(
        users_path(config.database_path), config.database_path, config.logins
    )
    metadata = funder_metadata(config.organisation, publish_config(config), plugins, db_path.stem)
    path = write_json(metadata_path_for(db_path), metadata)
    env = login_env(tokens)
    return datasette_args(db_path, path, host, port, {**SETTINGS, **LOCKED}, plugins=True), env


def login_env(tokens: TokenStore | None) -> dict[str, str]:
    """The cookie-signing secret, for Datasette's environment (never in its metadata)."""
    return {"DATASETTE_SECRET": datasette_secret(tokens or TokenStore())}


def run_datasette(
    args: list[str], env: dict[str, str], ready: Callable[[], None] | None = None
) -> int:
    """Run Datasette in the foreground until it stops, Ctrl-C or a SIGTERM (a service
    manager, `kill`); return its exit code, 0 when stopped. Datasette never outlives us.
    ``ready`` (say where to browse) is called once everything before starting it worked."""
    if ready:
        ready()
    try:
        proc = subprocess.Popen(args, env={**os.environ, **env})
    except OSError as exc:
        raise PublishError(f"Could not start Datasette ({exc}).") from None

    def stop(*_: object) -> None:
        raise KeyboardInterrupt  # as Ctrl-C: stop Datasette, then return

    main = threading.current_thread() is threading.main_thread()  # signals: main thread only
    previous = signal.signal(signal.SIGTERM, stop) if main else None
    try:
        return proc.wait()
    except KeyboardInterrupt:  # Ctrl-C: the normal way to stop serving
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:  # still finishing requests: stop it outright
            proc.kill()
            proc.wait()
        return 0
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)


def serve(
    organisation: str,
    db_path: Path,
    host: str = "127.0.0.1",
    port: int = 8001,
    funders_db: Path | None = None,
    users: list[User] | None = None,
    settings: PublishConfig | None = None,
    logins: LoginsConfig | None = None,
    config_path: Path | None = None,
    ready: Callable[[], None] | None = None,
) -> int:
    """Run the staff Datasette on the store (and funders.db) in the foreground until stopped;
    with ``config_path`` (harvest.yaml) staff get the console at /-/console. ``ready`` is
    called once every check has passed, just before Datasette starts."""
    check_database(Path(db_path))
    check_port_free(host, port)
    args, env = staff_command(
        organisation,
        db_path,
        host,
        port,
        funders_db,
        users,
        settings,
        logins=logins,
        config_path=config_path,
    )
    return run_datasette(args, env, ready)


def serve_funders(
    config: Any,
    host: str = "127.0.0.1",
    port: int = 8002,
    ready: Callable[[], None] | None = None,
) -> int:
    """Run the funder view (funders.db only, logins required) until stopped."""
    check_port_free(host, port)
    return run_datasette(*funders_command(config, host, port), ready)
