"""Write matching's result: person ids on records, merges, and people's best values.

Only what changed is written: records whose person changed (and their
attendances and outcomes), ids merged away (kept in ``person_merges`` so an old
id still resolves), and the people touched, whose best values are re-chosen
from their current records: for each field the newest non-blank value; for the
names, the best-supported spelling (see ``best_name``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

import numpy as np
import sqlite_utils

from harvest.people.clusters import Assignment
from harvest.people.features import family_key, given_key
from harvest.store import PERSON_FIELDS, now

NAME_FIELDS = {"given_name", "family_name", "full_name"}
# (column, name key) → how many profiles in the whole store have it there: "given" or
# "family", the key as given_key / family_key make it (features.Features.used_as)
NameUse = Callable[[str, str], int]


def write(
    db: sqlite_utils.Database,
    ids: np.ndarray,
    before: np.ndarray,
    result: Assignment,
    run_id: int | None,
    use: NameUse | None = None,
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
    refresh(db, touched, run_id, use)


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


def refresh(
    db: sqlite_utils.Database,
    person_ids: Iterable[int],
    run_id: int | None,
    use: NameUse | None = None,
) -> int:
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
            batch.append(_best(group, run_id, use))
            group = []
        group.append(row)
        if len(batch) >= 5000:
            db.conn.executemany(sql, batch)
            rows += len(batch)
            batch = []
    if group:
        batch.append(_best(group, run_id, use))
    db.conn.executemany(sql, batch)
    db.execute("DELETE FROM temp.touched")
    return rows + len(batch)


def _best(rows: list[tuple], run_id: int | None, use: NameUse | None = None) -> tuple:
    """One person's row from their records, oldest first."""
    values: dict[str, object] = {}
    for row in rows:
        for name, value in zip(PERSON_FIELDS, row[3:], strict=False):
            if value is None or value == "":
                continue
            if name in NAME_FIELDS and len(str(value).strip(". ")) <= 1 and values.get(name):
                continue  # an initial never replaces a whole name
            values[name] = value
    _best_names(values, rows, use)
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


_G, _F, _FULL = (PERSON_FIELDS.index(f) + 3 for f in ("given_name", "family_name", "full_name"))
_KEYS = {"given": given_key, "family": family_key}


def _best_names(values: dict[str, object], rows: list[tuple], use: NameUse | None) -> None:
    """The person's given and family names: each the best-supported spelling across their
    records (``best_name``), not the newest record's, so one "Margret" or one "SMITH
    Robert" (typed family name first) among "Margaret"s and "Robert Smith"s does not
    become the person's name. The whole name follows when both come from one record."""
    if len(rows) < 2:
        return
    given = best_name(rows, _G, "given", use)
    family = best_name(rows, _F, "family", use)
    if given is None and family is None:
        return
    values["given_name"], values["family_name"] = given, family
    same = [r[_FULL] for r in rows if r[_G] == given and r[_F] == family and r[_FULL]]
    values["full_name"] = same[-1] if same else " ".join(n for n in (given, family) if n)


def best_name(rows: list[tuple], i: int, column: str, use: NameUse | None) -> str | None:
    """The spelling at ``rows[*][i]`` that the records support best: a whole name before an
    initial; then the name (as its key: case, accents and punctuation aside) on most
    records; then the one more people in the whole store have in this column (Margaret
    before Margret, Robert before Smith as a given name); then the spelling on most
    records; then the one with its apostrophes and hyphens (O'Neil before ONeil); then
    the newest."""
    key = _KEYS[column]
    spelled = [(str(r[i]), key(str(r[i])) or "") for r in rows if r[i]]
    if not spelled:
        return None
    keys = [k for _, k in spelled]
    spellings = [s for s, _ in spelled]

    def rank(j: int) -> tuple:
        text, k = spelled[j]
        whole = len(text.strip(". ")) > 1
        store = use(column, k) if use and k else 0
        marks = sum(c in "'’-" for c in text)
        return (whole, keys.count(k), store, spellings.count(text), marks, j)

    return spelled[max(range(len(spelled)), key=rank)][0]


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
