"""The audit trail: who did what to the store, and when, never the personal data itself.

Each sync, publish, review decision, export, erasure, retention run and change to the
logins adds one row to ``audit_runs``: the time, the action, the command, the user on
this machine and some counts. Triggers in the schema refuse UPDATE and DELETE, so the
trail is append-only. Callers pass only the command's name and counts — never its
arguments, which can hold an email address or a name (``harvest forget --email …``).
"""

from __future__ import annotations

import getpass
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from harvest.store import now

Count = int | float | bool | None


@dataclass
class Entry:
    id: int
    at: str
    action: str
    command: str | None
    user: str | None
    counts: dict[str, Any]


def current_user() -> str:
    """The user on this machine running harvest (or 'unknown' in a bare container)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def record(
    db: sqlite_utils.Database,
    action: str,
    counts: dict[str, Count | list[str]] | None = None,
    command: str | None = None,
    user: str | None = None,
) -> int:
    """Append one entry; counts are numbers, or lists of source names. Returns its id."""
    for name, value in (counts or {}).items():
        if isinstance(value, str):  # a string could be anything: refuse it up front
            raise TypeError(f"audit counts are numbers or lists of names, not text ({name})")
    cur = db.execute(
        "INSERT INTO audit_runs (at, action, command, user, counts) VALUES (?, ?, ?, ?, ?)",
        [
            now(),
            action,
            command or action,
            user or current_user(),
            json.dumps(counts or {}, sort_keys=True),
        ],
    )
    assert cur.lastrowid is not None  # always set after an INSERT
    return int(cur.lastrowid)


def record_at(
    db_path: Path,
    action: str,
    counts: dict | None = None,
    command: str | None = None,
    user: str | None = None,
) -> None:
    """Append an entry to the store at ``db_path`` (for commands that hold no connection)."""
    from harvest import store

    db = store.connect(db_path)
    try:
        record(db, action, counts, command, user)
    finally:
        db.conn.close()


def entries(
    db: sqlite_utils.Database, limit: int | None = 50, action: str | None = None
) -> list[Entry]:
    """The latest entries, newest first."""
    sql = "SELECT id, at, action, command, user, counts FROM audit_runs"
    params: list[Any] = []
    if action:
        sql += " WHERE action = ? OR action LIKE ?"
        params += [action, f"{action}.%"]
    sql += " ORDER BY id DESC"
    if limit:
        sql += f" LIMIT {int(limit)}"
    return [
        Entry(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]))
        for row in db.execute(sql, params).fetchall()
    ]
