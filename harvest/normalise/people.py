"""Write matching's result: person ids on records, merges, and people's best values.

Only what changed is written: records whose person changed (and their
attendances and outcomes), ids merged away (kept in ``person_merges`` so an old
id still resolves), and the people touched, whose best values are re-chosen
from their current records: for each field the newest non-blank value, a whole
name rather than an initial.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import numpy as np
import sqlite_utils

from harvest.normalise.clusters import Assignment
from harvest.store import PERSON_FIELDS, now

NAME_FIELDS = {"given_name", "family_name", "full_name"}


def write(
    db: sqlite_utils.Database,
    ids: np.ndarray,
    before: np.ndarray,
    result: Assignment,
    run_id: int | None,
) -> None:
    conn = db.conn
    moved = np.flatnonzero(result.person != before)
    changes = list(zip(result.person[moved].tolist(), ids[moved].tolist(), strict=False))
    conn.executemany("UPDATE records SET person_id = ? WHERE id = ?", changes)
    _update_contacts(db, changes)
    stamp = now()
    conn.executemany(
        "INSERT OR REPLACE INTO person_merges (merged_id, person_id, merged_at, sync_run_id)"
        " VALUES (?, ?, ?, ?)",
        [(old, new, stamp, run_id) for old, new in result.merged.items()],
    )
    conn.executemany(
        "UPDATE person_merges SET person_id = ? WHERE person_id = ?",
        [(new, old) for old, new in result.merged.items()],
    )
    conn.executemany(
        "UPDATE records SET person_id = ? WHERE person_id = ? AND is_current = 0",
        [(new, old) for old, new in result.merged.items()],
    )
    conn.executemany("DELETE FROM people WHERE person_id = ?", [(old,) for old in result.merged])
    touched = set(result.person[moved].tolist()) | set(before[moved].tolist())
    touched -= set(result.merged)
    touched.discard(0)
    if run_id is not None:
        touched.update(
            r[0]
            for r in db.execute(
                "SELECT person_id FROM people WHERE last_sync_run_id = ?", [run_id]
            ).fetchall()
        )
    refresh(db, touched, run_id)


def _update_contacts(db: sqlite_utils.Database, changes: list[tuple[int, int]]) -> None:
    if not changes:
        return
    db.execute("CREATE TEMP TABLE IF NOT EXISTS moved (record_id INTEGER PRIMARY KEY, person_id)")
    db.execute("DELETE FROM temp.moved")
    db.conn.executemany("INSERT INTO temp.moved (person_id, record_id) VALUES (?, ?)", changes)
    for table in ("attendances", "outcomes"):
        db.execute(
            f"""UPDATE {table} SET person_id = (
                  SELECT person_id FROM temp.moved m WHERE m.record_id = {table}.record_id)
                WHERE record_id IN (SELECT record_id FROM temp.moved)"""
        )
    db.execute("DELETE FROM temp.moved")


def refresh(db: sqlite_utils.Database, person_ids: Iterable[int], run_id: int | None) -> int:
    """Re-choose best values, counts and sources for these people from their current records."""
    db.execute("CREATE TEMP TABLE IF NOT EXISTS touched (person_id INTEGER PRIMARY KEY)")
    db.execute("DELETE FROM temp.touched")
    db.conn.executemany("INSERT OR IGNORE INTO temp.touched VALUES (?)", [(p,) for p in person_ids])
    cols = ", ".join(f"r.[{f}]" for f in PERSON_FIELDS)
    cursor = db.execute(  # CROSS JOIN: look up the touched people, never scan every record
        f"""SELECT r.person_id, r.source, r.synced_at, {cols} FROM temp.touched t
            CROSS JOIN records r ON r.person_id = t.person_id
            WHERE r.is_current = 1 ORDER BY r.person_id, r.id"""
    )
    rows, batch = 0, []
    group: list[tuple] = []  # one person's records
    sql = _upsert_sql()
    for row in cursor:
        if group and row[0] != group[0][0]:
            batch.append(_best(group, run_id))
            group = []
        group.append(row)
        if len(batch) >= 5000:
            db.conn.executemany(sql, batch)
            rows += len(batch)
            batch = []
    if group:
        batch.append(_best(group, run_id))
    db.conn.executemany(sql, batch)
    db.execute("DELETE FROM temp.touched")
    return rows + len(batch)


def _best(rows: list[tuple], run_id: int | None) -> tuple:
    """One person's row from their records, oldest first."""
    values: dict[str, object] = {}
    for row in rows:
        for name, value in zip(PERSON_FIELDS, row[3:], strict=False):
            if value is None or value == "":
                continue
            if name in NAME_FIELDS and len(str(value).strip(". ")) <= 1 and values.get(name):
                continue  # an initial never replaces a whole name
            values[name] = value
    sources = sorted({r[1] for r in rows})
    seen = sorted(r[2] for r in rows)
    return (
        rows[0][0],
        *[values.get(f) for f in PERSON_FIELDS],
        seen[0],
        seen[-1],
        len(rows),
        json.dumps(sources),
        run_id,
    )


def _upsert_sql() -> str:
    cols = [
        "person_id",
        *PERSON_FIELDS,
        "first_seen",
        "last_seen",
        "record_count",
        "sources",
        "last_sync_run_id",
    ]
    names = ", ".join(f"[{c}]" for c in cols)
    sets = ", ".join(f"[{f}] = excluded.[{f}]" for f in PERSON_FIELDS)
    return (
        f"INSERT INTO people ({names}) VALUES ({', '.join('?' for _ in cols)})"
        f" ON CONFLICT(person_id) DO UPDATE SET {sets},"
        " first_seen = min(people.first_seen, excluded.first_seen),"
        " last_seen = max(people.last_seen, excluded.last_seen),"
        " record_count = excluded.record_count, sources = excluded.sources,"
        " last_sync_run_id = coalesce(excluded.last_sync_run_id, people.last_sync_run_id)"
    )
