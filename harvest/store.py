"""The SQLite store: schema and every write.

One file holds everything: raw rows exactly as read (never overwritten), the
records cleaned into the standard, people, activities, attendances, outcomes,
data problems, sync runs and each source's incremental state. State is written
in the same transaction as the rows it covers, so a crash leaves both as they were.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from harvest.errors import StoreError
from harvest.normalise.standard import load_standard
from harvest.private_files import private_file
from harvest.store_schema import PERSON_FIELDS as PERSON_FIELDS  # re-exported
from harvest.store_schema import SCHEMA_VERSION, schema_sql
from harvest.store_schema import SQL_TYPES as SQL_TYPES  # re-exported
from harvest.store_schema import ensure_match_cache as ensure_match_cache  # re-exported


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def connect(path: str | Path) -> sqlite_utils.Database:
    """Open (creating if needed) the store, with WAL and the schema in place."""
    path = Path(path)
    private_store(path)
    try:
        return _open(path)
    except sqlite3.DatabaseError as exc:  # a folder, a damaged file, another program's file
        raise StoreError(
            f"harvest cannot use its database {path} ({exc}). Check that `database:` in "
            "harvest.yaml names harvest's own database file (a new file name starts an empty "
            "one), that its folder exists and is yours, and that the disk is not full. If the "
            "file is damaged, put back your latest backup of it."
        ) from None


def _open(path: Path) -> sqlite_utils.Database:
    # landing writes a batch on a second thread, never while this one uses the connection
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=30, check_same_thread=False)
    db = sqlite_utils.Database(conn)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.execute("PRAGMA cache_size=-65536")  # 64 MB of page cache: index inserts stay in memory
    conn.execute("PRAGMA temp_store=MEMORY")
    ensure_schema(db)
    return db


def private_store(path: Path) -> None:
    """The store is 0600 in a folder harvest makes 0700; SQLite gives its -wal and -shm files
    the store's own mode. An older store (made under umask 022) is tightened."""
    for suffix in ("", "-wal", "-shm"):
        try:
            private_file(path.with_name(path.name + suffix), create=not suffix)
        except PermissionError:  # not ours (a read-only look at someone else's store)
            if not suffix:
                return


def ensure_schema(db: sqlite_utils.Database) -> None:
    current = db.execute("PRAGMA user_version").fetchone()[0]
    if current == SCHEMA_VERSION and standard_version(db) == load_standard().version:
        return
    db.conn.executescript(schema_sql())
    from harvest.upgrade import upgrade_standard  # it writes with this module's helpers

    upgrade_standard(db)
    if "postcode_text" not in db.table("records").columns_dict:  # a store made before 6
        db.execute("ALTER TABLE records ADD COLUMN postcode_text TEXT")
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")


def standard_version(db: sqlite_utils.Database) -> int | None:
    """The version of the standard the store was last upgraded to (None: a new store)."""
    try:
        row = db.execute("SELECT value FROM meta WHERE key = 'standard_version'").fetchone()
    except sqlite3.OperationalError:  # no meta table yet
        return None
    return int(row[0]) if row else None


@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[None]:
    """BEGIN IMMEDIATE … COMMIT, rolling back on any exception (or a kill: SQLite's journal)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


# --- sync runs and state -------------------------------------------------------------


def start_run(db: sqlite_utils.Database, command: str) -> int:
    cur = db.execute("INSERT INTO sync_runs (command, started_at) VALUES (?, ?)", [command, now()])
    assert cur.lastrowid is not None  # always set after an INSERT
    return int(cur.lastrowid)


def finish_run(db: sqlite_utils.Database, run_id: int, status: str) -> None:
    db.execute("UPDATE sync_runs SET finished_at=?, status=? WHERE id=?", [now(), status, run_id])


def end_interrupted_runs(db: sqlite_utils.Database) -> int:
    """Mark runs left "running" by a sync that was killed (a power cut, `kill -9`) as
    "interrupted"; only call this holding the sync lock. Returns how many there were."""
    cur = db.execute("UPDATE sync_runs SET status = 'interrupted' WHERE status = 'running'")
    return cur.rowcount


def next_raw_id(db: sqlite_utils.Database) -> int:
    """The id for the next raw row (and its record): above every id ever given, so that an
    id freed by `harvest forget` or retention is never given again. Matching goes by ids
    (its watermark, the kept profiles), and would take a new row with an old id for one
    it had already matched. Stores from before ``last_raw_id`` was kept fall back on the
    watermark of the last match."""
    row = db.execute(
        """SELECT max(coalesce((SELECT max(id) FROM raw_rows), 0),
                      coalesce((SELECT CAST(value AS INTEGER) FROM meta
                                WHERE key = 'last_raw_id'), 0),
                      coalesce((SELECT max(watermark) FROM match_runs), 0))"""
    ).fetchone()
    return int(row[0]) + 1


def keep_last_raw_id(db: sqlite_utils.Database, last: int) -> None:
    """Remember the highest raw row id given (in the transaction that lands it)."""
    db.execute(
        "INSERT INTO meta (key, value) VALUES ('last_raw_id', ?) ON CONFLICT(key) DO UPDATE"
        " SET value = max(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER))",
        [str(last)],
    )


def get_state(db: sqlite_utils.Database, source: str) -> dict[str, Any]:
    row = db.execute("SELECT state FROM source_state WHERE source=?", [source]).fetchone()
    return json.loads(row[0]) if row else {}


def set_state(db: sqlite_utils.Database, source: str, state: dict[str, Any], success: bool) -> None:
    db.execute(
        """INSERT INTO source_state (source, state, updated_at, last_success_at)
           VALUES (?, ?, ?, ?)
           ON CONFLICT(source) DO UPDATE SET state=excluded.state, updated_at=excluded.updated_at,
           last_success_at=coalesce(excluded.last_success_at, last_success_at)""",
        [source, json.dumps(state, sort_keys=True), now(), now() if success else None],
    )


def record_source_run(db: sqlite_utils.Database, run_id: int, source: str, **values: Any) -> None:
    db.table("source_runs").insert({"sync_run_id": run_id, "source": source, **values})


def add_issues(db: sqlite_utils.Database, rows: Iterable[dict[str, Any]]) -> None:
    db.table("issues").insert_all(rows, batch_size=1000)
