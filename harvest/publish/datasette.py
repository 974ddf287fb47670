"""Publish the store with Datasette, for the charity's own staff on this computer.

``build_metadata`` describes every table and column (the record and person
columns come from the common data standard) and adds the canned queries in
``queries.yaml``. ``serve`` writes that metadata beside the database and runs
Datasette 0.65 in the foreground. The store holds personal data: this is not
the funder-safe view.
"""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from harvest.errors import PublishError
from harvest.normalise.standard import Field, load_standard
from harvest.store import PERSON_FIELDS

log = logging.getLogger(__name__)

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
SETTINGS = {
    "sql_time_limit_ms": "5000",
    "max_returned_rows": "5000",
    "default_page_size": "100",
}
LICENSE = "Private: personal data held by {organisation}. Not for publication."

RECORD_COLUMNS = {
    "id": "The record's id; the same as the id of the raw row it was cleaned from.",
    "source": "The source (sheet, form or tool) the row came from, as named in harvest.yaml.",
    "source_key": "The row's key within its source, stable from one sync to the next.",
    "is_current": "1 while the row is still in its source; 0 once it has changed or gone.",
    "person_id": "The person this row was matched to (see the people table).",
    "location": "Where in the source the row was found (file and sheet, form, or event).",
    "row_number": "The row's number in its sheet, counting the header row as 1.",
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
    "raw_rows": {"description": "Every row exactly as read from its source, kept unchanged. "
                 "A changed row is stored again as a new version."},
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
    "outcomes": {"description": "Outcomes achieved and scores taken (such as WEMWBS or PHQ-9), "
                 "one row per record that has one."},
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
    "source_runs": {"description": "What each sync did for each source: rows read, new, "
                    "changed, unchanged and problems found."},
    "source_state": {
        "description": "Where each source's next sync starts from, and its last successful sync.",
        "columns": {"last_success_at": "When this source last synced without failing (UTC)."},
    },
    "standard": {"description": "The common data standard: every field, what it means, its "
                 "hashtag and its allowed values."},
    "person_keys": {"description": "Keys used to match records to people.", "hidden": True},
    "meta": {"description": "Facts about the store, such as the standard's version.",
             "hidden": True},
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
        "records": {"description": "Every row from every source, cleaned into the common data "
                    "standard. One row per version of a source row.", "columns": records},
        "people": {"description": "Each person once, however many rows and sources they "
                   "appear in, with their best-known details.", "columns": people},
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
    path = metadata_path_for(Path(db_path))
    metadata = build_metadata(organisation, db_name=Path(db_path).stem)
    try:
        path.write_text(json.dumps(metadata, indent=2, ensure_ascii=False) + "\n", "utf-8")
    except OSError as exc:
        raise PublishError(f"Could not write the Datasette metadata to {path}: {exc}.") from None
    return path


def datasette_args(db_path: Path, metadata_path: Path, host: str, port: int) -> list[str]:
    """The command line that runs Datasette on the store (read-write, as sync may run too)."""
    args = [sys.executable, "-m", "datasette", "serve", str(db_path),
            "--metadata", str(metadata_path), "--host", host, "--port", str(port)]
    for name, value in SETTINGS.items():
        args += ["--setting", name, value]
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
        raise PublishError(
            f"There is no harvest database at {db_path}: run `harvest sync` first."
        )


def serve(organisation: str, db_path: Path, host: str = "127.0.0.1", port: int = 8001) -> int:
    """Run Datasette on the store in the foreground until stopped; return its exit code."""
    db_path = Path(db_path)
    check_database(db_path)
    check_port_free(host, port)
    if host not in LOCAL_HOSTS:
        log.warning("Serving personal data on %s: anyone who can reach this address can "
                    "read it. harvest serve is meant for localhost.", host)
    metadata_path = write_metadata(organisation, db_path)
    try:
        proc = subprocess.Popen(datasette_args(db_path, metadata_path, host, port))
    except OSError as exc:
        raise PublishError(f"Could not start Datasette ({exc}).") from None
    try:
        return proc.wait()
    except KeyboardInterrupt:  # Ctrl-C: the normal way to stop serving
        proc.terminate()
        proc.wait(timeout=15)
        return 0
