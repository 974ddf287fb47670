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
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from harvest.store import now

Count = int | float | bool | None
_ACTING: ContextVar[str | None] = ContextVar("harvest_acting_user", default=None)


@dataclass
class Entry:
    id: int
    at: str
    action: str
    command: str | None
    user: str | None
    counts: dict[str, Any]


@contextmanager
def acting_as(user: str) -> Iterator[None]:
    """Entries recorded inside this block (in this thread or context) are by ``user``:
    the staff member logged in to the browser console, not the server's account."""
    token = _ACTING.set(user)
    try:
        yield
    finally:
        _ACTING.reset(token)


def current_user() -> str:
    """Who is acting: the console's logged-in user inside ``acting_as``, else the user on
    this machine running harvest (or 'unknown' in a bare container)."""
    acting = _ACTING.get()
    if acting:
        return acting
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
    db: sqlite_utils.Database,
    limit: int | None = 50,
    action: str | None = None,
    user: str | None = None,
    since: str | None = None,
) -> list[Entry]:
    """The latest entries, newest first; only an action (and its kinds: ``review`` is
    ``review.same`` too), only one user's, only those on or after a day (YYYY-MM-DD)."""
    sql = "SELECT id, at, action, command, user, counts FROM audit_runs WHERE 1"
    params: list[Any] = []
    if action:
        sql += " AND (action = ? OR action LIKE ?)"
        params += [action, f"{action}.%"]
    if user:
        sql += " AND user = ?"
        params.append(user)
    if since:
        sql += " AND at >= ?"
        params.append(since)
    sql += " ORDER BY id DESC"
    if limit:
        sql += f" LIMIT {int(limit)}"
    return [
        Entry(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]))
        for row in db.execute(sql, params).fetchall()
    ]


def actions_and_users(db: sqlite_utils.Database) -> tuple[list[str], list[str]]:
    """The kinds of action (``review``, not ``review.same``) and the users in the trail."""
    actions = sorted(
        {a.partition(".")[0] for (a,) in db.execute("SELECT DISTINCT action FROM audit_runs")}
    )
    users = [u for (u,) in db.execute("SELECT DISTINCT user FROM audit_runs ORDER BY user") if u]
    return actions, users
