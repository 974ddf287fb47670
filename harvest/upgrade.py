"""Bring a store made with an older standard up to this one, in place.

``upgrade_standard`` adds the new fields' columns (``store.connect`` calls it, so any
command that opens an older store does it) and notes the upgrade in the audit trail.
The rows a source sends again unchanged are not cleaned again, so the first ``harvest sync``
after an upgrade fills what it can from what the store already holds: a column the old
standard kept as an extra ("Religion", "Dietary requirements") whose header, or the
source's ``mapping:``, now names a new field is cleaned into that field and leaves
``extra``; a field whose cleaning changed (``preferred_language`` became a value list) is
cleaned again from its stored value. Raw rows are never touched. Each person's new fields
are then filled from their records, and the audit trail says how much was filled.
"""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from harvest import audit, store
from harvest.config import HarvestConfig
from harvest.normalise.clean_lists import clean_cell
from harvest.normalise.mapping import map_columns
from harvest.normalise.standard import Field, load_standard

RECLEANED = ("preferred_language",)  # v1 fields whose cleaning changed in v2
DONE = "standard_backfilled"


def upgrade_standard(db: sqlite_utils.Database) -> list[str]:
    """Bring a store made with an older standard up to this one, in place: add the columns
    of new fields to ``records``, ``people`` and ``standard`` (never dropping or rewriting
    one), refresh the ``standard`` table and record the version in ``meta``. Raw rows are
    not touched. An upgrade is noted in the audit trail. Returns the columns added."""
    std = load_standard()
    wanted = {
        "records": [(f.name, store.SQL_TYPES.get(f.type, "TEXT")) for f in std.fields],
        "people": [
            (n, store.SQL_TYPES.get(std.field(n).type, "TEXT")) for n in store.PERSON_FIELDS
        ],
        "standard": [("multiple", "INTEGER"), ("since", "INTEGER")],
    }
    added: list[str] = []
    with store.transaction(db):  # a second process waits here, then finds the columns made
        was = store.standard_version(db)
        for table, columns in wanted.items():
            have = {r[1] for r in db.execute(f"PRAGMA table_info([{table}])").fetchall()}
            for name, sql_type in columns:
                if name not in have:
                    db.execute(f"ALTER TABLE [{table}] ADD COLUMN [{name}] {sql_type}")
                    added.append(f"{table}.{name}")
        db.execute("DELETE FROM standard")
        db.table("standard").insert_all(std.dictionary_rows())
        db.execute("INSERT OR REPLACE INTO meta VALUES ('standard_version', ?)", [str(std.version)])
        if was is not None and was < std.version:
            db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('standard_upgraded_from', ?)", [str(was)]
            )
            _audit_upgrade(db, was, std.version, added)
    return added


def _audit_upgrade(db: sqlite_utils.Database, was: int, version: int, added: list[str]) -> None:
    counts: dict[str, audit.Count | list[str]] = {
        "standard_from": was,
        "standard_to": version,
        "columns_added": len(added),
    }
    audit.record(db, "upgrade.standard", counts, command="upgrade")


def pending(db: sqlite_utils.Database) -> int | None:
    """The version a store was upgraded from, while its records still wait to be filled."""
    meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    if "standard_upgraded_from" not in meta or meta.get(DONE) == str(load_standard().version):
        return None
    return int(meta["standard_upgraded_from"])


def backfill(db: sqlite_utils.Database, config: HarvestConfig) -> int:
    """Fill new fields of an upgraded store's current records; the number of values filled."""
    was = pending(db)
    if was is None:
        return 0
    std = load_standard()
    new = {f.name: f for f in std.fields if f.since > was}
    mappings = {s.name: s.mapping for s in config.sources}
    filled = records = 0
    with store.transaction(db):
        rows = db.execute(
            f"SELECT id, source, extra, {', '.join(f'[{n}]' for n in RECLEANED)}"
            " FROM records WHERE is_current = 1"
        ).fetchall()
        for rid, source, extra, *old in rows:
            changes = _from_extra(new, extra, mappings.get(source) or {})
            changes.update(_recleaned(std.by_name, dict(zip(RECLEANED, old, strict=True))))
            if changes:
                sets = ", ".join(f"[{k}] = ?" for k in changes)
                db.execute(f"UPDATE records SET {sets} WHERE id = ?", [*changes.values(), rid])
                filled += len(changes) - ("extra" in changes)
                records += 1
        _fill_people(db, [*new, *RECLEANED])
        db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [DONE, str(std.version)])
        audit.record(db, "upgrade.backfill", {"records": records, "values": filled}, command="sync")
    return filled


def _from_extra(
    new: dict[str, Field], extra: str | None, mapping: dict[str, Any]
) -> dict[str, Any]:
    """New fields found among a record's extras, and the extras left."""
    if not extra:
        return {}
    kept: dict[str, str] = json.loads(extra)
    headers = list(kept)
    changes: dict[str, Any] = {}
    for m in map_columns(headers, None, mapping):
        f = new.get(m.field or "")
        if f is None:
            continue
        value, _ = clean_cell(f, kept[m.header])
        if value is not None:
            changes[f.name] = value
            del kept[m.header]
    if changes:
        changes["extra"] = json.dumps(kept) if kept else None
    return changes


def _recleaned(fields: dict[str, Field], old: dict[str, Any]) -> dict[str, Any]:
    changes = {}
    for name, value in old.items():
        if value is not None:
            clean, _ = clean_cell(fields[name], str(value))
            if clean is not None and clean != value:
                changes[name] = clean
    return changes


def _fill_people(db: sqlite_utils.Database, names: list[str]) -> None:
    """Each person's field from their newest current record that has it."""
    for name in names:
        if name in store.PERSON_FIELDS:
            db.execute(
                f"""UPDATE people SET [{name}] = (
                      SELECT r.[{name}] FROM records r WHERE r.person_id = people.person_id
                      AND r.is_current = 1 AND r.[{name}] IS NOT NULL ORDER BY r.id DESC LIMIT 1)
                    WHERE EXISTS (SELECT 1 FROM records r WHERE r.person_id = people.person_id
                      AND r.is_current = 1 AND r.[{name}] IS NOT NULL)"""
            )
