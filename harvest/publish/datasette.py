"""Run Datasette: the staff view of the store, and the funder view of funders.db.

``build_metadata`` describes every table and column of the store (the record and
person columns come from the common data standard) and adds the canned queries in
``queries.yaml``. ``serve`` writes that metadata beside the database and runs
Datasette 0.65 in the foreground on the store and, when it has been published,
funders.db. Until users are added (``harvest users add``) the staff view has no
logins and is for this computer only; after that everyone must log in and the
store is for staff only. ``serve_funders`` runs the funder view: funders.db only,
logins always (see site.py for who sees what).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from harvest.errors import PublishError
from harvest.normalise.standard import Field, load_standard
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
from harvest.publish.users import User
from harvest.secrets import TokenStore
from harvest.store import PERSON_FIELDS

log = logging.getLogger(__name__)

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
SETTINGS = {
    "sql_time_limit_ms": "5000",
    "max_returned_rows": "5000",
    "default_page_size": "100",
}
LOCKED = {"allow_download": "off", "default_allow_sql": "off"}  # when there are logins
LICENSE = "Private: personal data held by {organisation}. Not for publication."

RECORD_COLUMNS = {
    "id": "The record's id; the same as the id of the raw row it was cleaned from.",
    "source": "The source (sheet, form or tool) the row came from, as named in harvest.yaml.",
    "source_key": "The row's key within its source, stable from one sync to the next.",
    "is_current": "1 while the row is still in its source; 0 once it has changed or gone.",
    "person_id": "The person this row was matched to (see the people table).",
    "location": "Where in the source the row was found (file and sheet, form, or event).",
    "row_number": "The row's number in its sheet, counting the header row as 1.",
    "postcode_text": (
        "A postcode that is not a valid UK one (mistyped, overseas, an Irish Eircode), in"
        " capitals without spaces: kept for matching; the postcode column is then blank."
    ),
    "extra": "Columns the source had that are not part of the standard, as JSON.",
    "synced_at": "When harvest last wrote this record (UTC).",
}
PEOPLE_COLUMNS = {
    "person_id": "harvest's id for this person, shared by every record matched to them.",
    "first_seen": "When harvest first saw a record for this person (UTC).",
    "last_seen": "When harvest last saw a record for this person (UTC).",
    "record_count": "How many records are matched to this person.",
    "sources": "The sources this person appears in, as a JSON list.",
    "last_sync_run_id": "The sync run that last changed this person (see sync_runs).",
}
TABLES: dict[str, dict[str, Any]] = {
    "raw_rows": {
        "description": "Every row exactly as read from its source, kept unchanged. "
        "A changed row is stored again as a new version."
    },
    "activities": {"description": "Each activity, session, event or service, named once."},
    "attendances": {
        "description": "One row for each time a person registered for or came to an activity.",
        "columns": {
            "record_id": "The record this attendance was read from.",
            "person_id": "The person who attended (see the people table).",
            "activity_id": "The activity attended (see the activities table).",
            "activity_date": "The day the activity took place (YYYY-MM-DD).",
            "attendance_status": "Registered, attended, no show or cancelled.",
        },
    },
    "outcomes": {
        "description": "Outcomes achieved and scores taken (such as WEMWBS or PHQ-9), "
        "one row per record that has one."
    },
    "issues": {
        "description": "Data problems found while reading sources: the row, the field, the "
        "value and what was wrong with it.",
        "columns": {
            "problem": "What was wrong, in plain English.",
            "severity": "'warning' (the row was kept) or 'error' (it could not be used).",
            "value": "The value as it was in the source.",
        },
    },
    "sync_runs": {"description": "Each time `harvest sync` ran, and how it ended."},
    "source_runs": {
        "description": "What each sync did for each source: rows read, new, "
        "changed, unchanged and problems found."
    },
    "source_state": {
        "description": "Where each source's next sync starts from, and its last successful sync.",
        "columns": {"last_success_at": "When this source last synced without failing (UTC)."},
    },
    "standard": {
        "description": "The common data standard: every field, what it means, its "
        "hashtag and its allowed values."
    },
    "person_keys": {"description": "Keys used to match records to people.", "hidden": True},
    "person_merges": {
        "description": "People found to be the same person: each merged id and "
        "the person it now counts as."
    },
    "match_pairs": {
        "description": "Pairs of records that may be the same person, with the "
        "matching probability and whether they were linked or need a review."
    },
    "match_decisions": {
        "description": "Decisions on possible duplicates: same person or not, "
        "by whom and when (undone decisions are kept)."
    },
    "match_runs": {
        "description": "Each time people were matched: settings, counts and time taken."
    },
    "match_cache": {
        "description": "The identifying values of current records, grouped as "
        "matching uses them, kept so that a re-sync need not read every record "
        "again. Emptied whenever a record is deleted or its identifying values "
        "change.",
        "hidden": True,
    },
    "match_flips": {
        "description": "Ids of records that stopped or started being current since the last match.",
        "hidden": True,
    },
    # data protection (harvest/audit.py, harvest/dataprotection/)
    "audit_runs": {
        "description": "Who did what, and when: each sync, publish, review decision, "
        "export, erasure and login change, with counts (never personal data). "
        "Append-only."
    },
    "tombstones": {
        "description": "Keyed hashes of rows erased with `harvest forget`, so a sync "
        "never brings them back. They cannot be read back into values."
    },
    "erased_identities": {
        "description": "Keyed hashes of the identities of people erased with `harvest "
        "forget` (name with date of birth, email or phone with a name), so that an "
        "edited row of theirs from any source is not stored again. They cannot be read "
        "back into values."
    },
    "erasures": {
        "description": "Each erasure, and whether it is complete: the store and "
        "funders.db both cleaned. An unfinished one is finished by the next sync, "
        "publish or forget."
    },
    "geo_postcodes": {
        "description": "Each live UK postcode with its local authority, ward, "
        "region and country codes and deprivation decile (1 = most deprived), "
        "from the ONS Postcode Directory (`harvest geo import`). Source: Office "
        "for National Statistics, Open Government Licence v3.0."
    },
    "geo_areas": {"description": "The names of the areas in geo_postcodes."},
    "meta": {
        "description": "Facts about the store, such as the standard's version.",
        "hidden": True,
    },
}


def describe_field(f: Field) -> str:
    """A field's description, with a warning when it is personal or special category data."""
    text = f.description
    if f.identifying:
        text += " Identifies a person."
    if f.special:
        text += " Special category data under UK GDPR."
    return text


def load_queries() -> dict[str, dict[str, Any]]:
    """The canned queries from queries.yaml, keyed by name."""
    text = resources.files("harvest.publish").joinpath("queries.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def table_metadata() -> dict[str, dict[str, Any]]:
    """Descriptions of every table, with column descriptions for records and people."""
    std = load_standard()
    records = {**RECORD_COLUMNS, **{f.name: describe_field(f) for f in std.fields}}
    people = {
        "person_id": PEOPLE_COLUMNS["person_id"],
        **{name: describe_field(std.field(name)) for name in PERSON_FIELDS},
        **{k: v for k, v in PEOPLE_COLUMNS.items() if k != "person_id"},
    }
    return {
        "records": {
            "description": "Every row from every source, cleaned into the common data "
            "standard. One row per version of a source row.",
            "columns": records,
        },
        "people": {
            "description": "Each person once, however many rows and sources they "
            "appear in, with their best-known details.",
            "columns": people,
        },
        **TABLES,
    }


def build_metadata(organisation: str, db_name: str = "harvest") -> dict[str, Any]:
    """Datasette 0.65 metadata for the store: titles, descriptions and canned queries."""
    return {
        "title": f"{organisation} — harvest",
        "description": (
            f"{organisation}'s activity data, gathered by harvest from its sign-up sheets, "
            "forms and booking tools. It includes personal data: for staff use only."
        ),
        "license": LICENSE.format(organisation=organisation),
        "source": organisation,
        "databases": {
            db_name: {
                "description": "The harvest store: raw rows, cleaned records, people, "
                "activities, attendances, outcomes and data problems.",
                "tables": table_metadata(),
                "queries": load_queries(),
            }
        },
    }


def metadata_path_for(db_path: Path) -> Path:
    """Where the metadata for a database is written: harvest.db → harvest.metadata.json."""
    return db_path.with_name(f"{db_path.stem}.metadata.json")


def write_metadata(organisation: str, db_path: Path) -> Path:
    """Write the metadata as JSON next to the database and return its path."""
    return write_json(
        metadata_path_for(Path(db_path)), build_metadata(organisation, db_name=Path(db_path).stem)
    )


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


def write_json(path: Path, metadata: dict[str, Any]) -> Path:
    try:
        path.write_text(json.dumps(metadata, indent=2, ensure_ascii=False) + "\n", "utf-8")
    except OSError as exc:
        raise PublishError(f"Could not write the Datasette metadata to {path}: {exc}.") from None
    return path


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
