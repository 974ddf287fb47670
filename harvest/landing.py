"""Land one source's tables in the store.

For every row read: keep it verbatim in ``raw_rows`` (a new version when it
changed, untouched when it did not), clean it into a ``records`` row, find its
person by exact keys (same email, same phone, or same name and date of birth),
and derive attendances and outcomes. Rows are written in batches with
``executemany``; the caller holds one transaction for the whole source.

Row identity (``source_key``): the source's own record id when a column maps to
``source_record_id``, else a key from the table and the row's content (a repeat of
an identical row in the same table gets ``~2``, ``~3``…). A table that is read
whole (a file) is a snapshot: its rows not seen this time stop being current.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from hashlib import blake2b
from itertools import islice
from json.encoder import encode_basestring_ascii as _json_str
from typing import Any

import sqlite_utils

from harvest import store
from harvest.connectors.base import Row, Table
from harvest.dataprotection.tombstones import Tombstones
from harvest.normalise.mapping import ColumnMap
from harvest.normalise.record import Normalised, RowNormaliser
from harvest.normalise.standard import load_standard
from harvest.people.features import email_key, family_key, given_key, phone_key
from harvest.store import PERSON_FIELDS, now

BATCH = 1000
CONTACT_FIELDS = ("activity", "activity_date", "attendance_status")
OUTCOME_FIELDS = ("outcome", "measure", "score")


@dataclass
class Existing:
    id: int
    content_hash: str
    version: int
    run_id: int
    is_current: int
    person_id: int | None


@dataclass
class Pending:
    """A row that needs a new raw_rows/records entry."""

    row: Row
    key: str
    content_hash: str
    version: int
    norm: Normalised
    person_id: int | None = None
    raw_id: int = 0


@dataclass
class Counts:
    read: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    problems: int = 0
    forgotten: int = 0  # rows skipped because they were forgotten (tombstones)
    problem_kinds: Counter = field(default_factory=Counter)


def _hash(text: str) -> str:
    return blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


def _batches(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    it = iter(rows)
    while batch := list(islice(it, size)):
        yield batch


def _row_json(keys: list[str], values: list[str]) -> str:
    """The row as a JSON object of header → text (keys are pre-encoded ``"header":``)."""
    return "{" + ",".join([k + _json_str(v) for k, v in zip(keys, values, strict=False)]) + "}"


def erased_note(n: int) -> str:
    """Plain words for rows skipped because the person was erased (``harvest forget``)."""
    rows = "1 row" if n == 1 else f"{n:,} rows"
    return (
        f"{rows} of an erased person skipped: they asked to be forgotten (`harvest forget`), "
        "so their rows are never stored again. Delete them from the source too."
    )


def person_keys(rec: dict[str, Any]) -> list[str]:
    """Exact keys safe to join records on as they land, before matching.

    Only whole identities: the same given name, family name and date of birth; or
    the same email or phone *with* the same names (and date of birth, when given).
    A shared email or phone on its own never joins anyone (a household's landline,
    an office's inbox): the matching step after the sync weighs those. Placeholder
    values ("Test", none@none.com, 07777 777777) are not keys.
    """
    given = given_key(rec["given_name"]) if rec.get("given_name") else None
    family = family_key(rec["family_name"]) if rec.get("family_name") else None
    if not (given and family) or len(given) < 2:
        return []
    dob = rec.get("date_of_birth") or ""
    keys = [f"n:{given}|{family}|{dob}"] if dob else []
    email = email_key(rec["email"]) if rec.get("email") else None
    if email:
        keys.append(f"e:{email}|{given}|{family}|{dob}")
    phone = phone_key(rec["phone"]) if rec.get("phone") else None
    if phone:
        keys.append(f"p:{phone}|{given}|{family}|{dob}")
    return keys


class Lander:
    """Writes one source's rows into the store during one sync run."""

    def __init__(
        self,
        db: sqlite_utils.Database,
        source: str,
        run_id: int,
        constants: dict[str, str] | None = None,
        today: date | None = None,
    ) -> None:
        self.db, self.source, self.run_id = db, source, run_id
        self.constants = constants or {}
        self.today = today or date.today()
        self.now = now()
        self.counts = Counts()
        self.fields = [f.name for f in load_standard().fields]
        self._next_raw = store.next_raw_id(db)  # never an id erasure or retention freed
        self._next_person = self._max("SELECT max(person_id) FROM people") + 1
        self._activities = dict(db.execute("SELECT name, id FROM activities").fetchall())
        self._record_sql = self._insert_sql(
            "records",
            [
                "id",
                "source",
                "source_key",
                "is_current",
                "person_id",
                "location",
                "row_number",
                *self.fields,
                "postcode_text",
                "extra",
                "synced_at",
            ],
        )
        self._people_sql = self._people_upsert_sql()
        # data protection: a row that was forgotten (`harvest forget`) never lands again
        self.tombstones = Tombstones.for_source(db, source)

    def _max(self, sql: str) -> int:
        return int(self.db.execute(sql).fetchone()[0] or 0)

    @staticmethod
    def _insert_sql(table: str, cols: list[str]) -> str:
        names = ", ".join(f"[{c}]" for c in cols)
        return f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' for _ in cols)})"

    # --- tables ------------------------------------------------------------------

    def land_table(
        self, table: Table, maps: list[ColumnMap], progress: Callable[[int], None] | None = None
    ) -> None:
        """Land every row of one table; retire rows of a whole-table snapshot that have gone."""
        std_names = set(self.fields)
        fill = {**self.constants, **{k: v for k, v in table.context.items() if k in std_names}}
        normaliser = RowNormaliser(table.headers, maps, fill, self.today)
        id_idx = next((i for i, m in enumerate(maps) if m.field == "source_record_id"), None)
        if id_idx is None and table.id_column in table.headers:
            id_idx = table.headers.index(table.id_column)
        prefix = "\x1d".join(table.headers) + "\x1e"
        skipped = self.counts.forgotten
        for batch in _batches(table.rows, BATCH):
            self._land_batch(table, batch, normaliser, id_idx, prefix)
            if progress:
                progress(len(batch))
        if self.counts.forgotten > skipped:  # shown by `harvest check`
            self.add_table_issue(
                table.location, erased_note(self.counts.forgotten - skipped), "info"
            )
        if table.complete:
            self._retire_missing(table.key)

    def _row_key(self, table: Table, row: Row, id_idx: int | None, joined: str) -> str:
        if id_idx is not None:
            sid = row.values[id_idx].strip()
            if sid:
                return "id:" + sid.removesuffix(".0")
        return "row:" + _hash(table.key + "\x1e" + joined)

    def _land_batch(
        self,
        table: Table,
        batch: list[Row],
        normaliser: RowNormaliser,
        id_idx: int | None,
        prefix: str,
    ) -> None:
        items = []
        for row in batch:
            joined = "\x1f".join(row.values)
            items.append((row, self._row_key(table, row, id_idx, joined), _hash(prefix + joined)))
        if self.tombstones:  # data protection: skip (and count) rows that were forgotten
            kept = [i for i in items if not self.tombstones.forgotten(i[1], i[2])]
            self.counts.forgotten += len(items) - len(kept)
            items = kept
        existing = self._existing({key for _, key, _ in items})
        touched: list[int] = []
        pending: list[Pending] = []
        recurrent: list[tuple[int, str]] = []
        for row, key, h in items:
            self.counts.read += 1
            key = self._deduplicate(key, h, existing)
            versions = existing.setdefault(key, [])
            match = next((v for v in versions if v.content_hash == h), None)
            if match:
                self.counts.unchanged += 1
                if match.run_id != self.run_id:
                    touched.append(match.id)
                    match.run_id = self.run_id
                if not match.is_current:
                    recurrent.append((match.id, key))
                    for v in versions:
                        v.is_current = int(v is match)
                continue
            norm = normaliser(row.values)
            if self.tombstones and self.tombstones.erased_person(norm.fields):
                self.counts.read -= 1  # data protection: an erased person's row, edited
                self.counts.forgotten += 1
                continue
            p = Pending(row, key, h, max((v.version for v in versions), default=0) + 1, norm)
            p.raw_id = self._next_raw
            self._next_raw += 1
            if versions:
                self.counts.changed += 1
                p.person_id = next((v.person_id for v in versions if v.person_id), None)
            else:
                self.counts.new += 1
            for v in versions:
                v.is_current = 0
            versions.append(Existing(p.raw_id, h, p.version, self.run_id, 1, None))
            pending.append(p)
        self._touch(touched)
        self._assign_people(pending)
        self._write(table, pending)
        for raw_id, key in recurrent:
            self._make_current(raw_id, key)

    def _deduplicate(self, key: str, h: str, existing: dict[str, list[Existing]]) -> str:
        """An identical keyless row seen earlier in this run is a repeat: key it ``~2``, ``~3``…"""
        if not key.startswith("row:"):
            return key
        base, n = key, 1
        while any(v.content_hash == h and v.run_id == self.run_id for v in existing.get(key, [])):
            n += 1
            key = f"{base}~{n}"
            if key not in existing:
                existing.update(self._existing({key}))
        return key

    def _existing(self, keys: set[str]) -> dict[str, list[Existing]]:
        out: dict[str, list[Existing]] = {k: [] for k in keys}
        keys_list = list(keys)
        for i in range(0, len(keys_list), 500):
            chunk = keys_list[i : i + 500]
            sql = f"""SELECT r.source_key, r.id, r.content_hash, r.version, r.sync_run_id,
                        coalesce(c.is_current, 0), c.person_id
                      FROM raw_rows r LEFT JOIN records c ON c.id = r.id
                      WHERE r.source = ? AND r.source_key IN ({",".join("?" * len(chunk))})"""
            for key, *rest in self.db.execute(sql, [self.source, *chunk]).fetchall():
                out[key].append(Existing(*rest))
        return out

    def _touch(self, ids: list[int]) -> None:
        if ids:
            self.db.conn.executemany(
                "UPDATE raw_rows SET last_seen = ?, sync_run_id = ? WHERE id = ?",
                [(self.now, self.run_id, i) for i in ids],
            )

    def _make_current(self, raw_id: int, key: str) -> None:
        self.db.execute(
            "UPDATE records SET is_current = (id = ?)"
            " WHERE id IN (SELECT id FROM raw_rows WHERE source = ? AND source_key = ?)",
            [raw_id, self.source, key],
        )

    # --- people ------------------------------------------------------------------

    def _assign_people(self, pending: list[Pending]) -> None:
        """A provisional person for each new row: its earlier version's, one with the same
        exact key (see ``person_keys``), else a new one. Matching then decides."""
        if not self._ids_checked:  # ids merged away by matching are never given again
            merged = self._max("SELECT max(merged_id) FROM person_merges")
            self._next_person = max(self._next_person, merged + 1)
            self._ids_checked = True
        all_keys = [person_keys(p.norm.fields) for p in pending]
        wanted = {
            k
            for p, keys in zip(pending, all_keys, strict=True)
            if p.person_id is None
            for k in keys
        }
        found = self._lookup_keys(wanted)
        new_keys: dict[str, int] = {}
        for p, keys in zip(pending, all_keys, strict=True):
            if p.person_id is None:
                ids = [found[k] for k in keys if k in found]
                if ids:
                    p.person_id = min(ids)
                else:
                    p.person_id = self._next_person
                    self._next_person += 1
            for k in keys:
                if k not in found:
                    found[k] = new_keys[k] = p.person_id
        if new_keys:
            self.db.conn.executemany(
                "INSERT OR IGNORE INTO person_keys (key, person_id) VALUES (?, ?)", new_keys.items()
            )

    _ids_checked = False

    def _lookup_keys(self, keys: set[str]) -> dict[str, int]:
        """Person ids of known keys, following ids that matching merged into others."""
        found: dict[str, int] = {}
        keys_list = list(keys)
        for i in range(0, len(keys_list), 500):
            chunk = keys_list[i : i + 500]
            sql = f"""SELECT k.key, coalesce(m.person_id, k.person_id) FROM person_keys k
                      LEFT JOIN person_merges m ON m.merged_id = k.person_id
                      WHERE k.key IN ({",".join("?" * len(chunk))})"""
            found.update(self.db.execute(sql, chunk).fetchall())
        return found

    def _people_upsert_sql(self) -> str:
        cols = ["person_id", *PERSON_FIELDS, "first_seen", "last_seen", "last_sync_run_id"]
        updates = ", ".join(
            f"[{f}] = coalesce(excluded.[{f}], people.[{f}])" for f in PERSON_FIELDS
        )
        return (
            self._insert_sql("people", cols)
            + f" ON CONFLICT(person_id) DO UPDATE SET {updates}, last_seen = excluded.last_seen,"
            " last_sync_run_id = excluded.last_sync_run_id"
        )

    # --- writes ------------------------------------------------------------------

    def _write(self, table: Table, pending: list[Pending]) -> None:
        if not pending:
            return
        conn = self.db.conn
        keys = [_json_str(h) + ":" for h in table.headers]  # the row as a JSON object, built fast
        conn.executemany(
            "INSERT INTO raw_rows (id, source, source_key, version, content_hash, table_key,"
            " location, row_number, data, first_seen, last_seen, sync_run_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    p.raw_id,
                    self.source,
                    p.key,
                    p.version,
                    p.content_hash,
                    table.key,
                    table.location,
                    p.row.number,
                    p.row.raw or _row_json(keys, p.row.values),
                    self.now,
                    self.now,
                    self.run_id,
                )
                for p in pending
            ],
        )
        changed = [(self.source, p.key) for p in pending if p.version > 1]
        if changed:
            conn.executemany(
                "UPDATE records SET is_current = 0"
                " WHERE id IN (SELECT id FROM raw_rows WHERE source = ? AND source_key = ?)",
                changed,
            )
        conn.executemany(self._record_sql, [self._record_row(table, p) for p in pending])
        conn.executemany(
            self._people_sql,
            [
                (
                    p.person_id,
                    *[p.norm.fields.get(f) for f in PERSON_FIELDS],
                    self.now,
                    self.now,
                    self.run_id,
                )
                for p in pending
            ],
        )
        self._write_contacts(pending)
        self._write_problems(table, pending)

    def _record_row(self, table: Table, p: Pending) -> tuple:
        f = p.norm.fields
        extra = json.dumps(p.norm.extra) if p.norm.extra else None
        return (
            p.raw_id,
            self.source,
            p.key,
            1,
            p.person_id,
            table.location,
            p.row.number,
            *[f.get(name) for name in self.fields],
            p.norm.postcode_text,
            extra,
            self.now,
        )

    def activity_id(self, name: str) -> int:
        """The id of an activity by name, adding it the first time it is seen."""
        if name not in self._activities:
            cur = self.db.execute(
                "INSERT INTO activities (name, first_source) VALUES (?, ?)", [name, self.source]
            )
            assert cur.lastrowid is not None  # always set after an INSERT
            self._activities[name] = int(cur.lastrowid)
        return self._activities[name]

    def _write_contacts(self, pending: list[Pending]) -> None:
        attendances, outcomes = [], []
        for p in pending:
            f = p.norm.fields
            if any(f.get(k) for k in CONTACT_FIELDS):
                activity = self.activity_id(f.get("activity") or self.source)
                attendances.append(
                    (
                        self.source,
                        p.key,
                        p.raw_id,
                        p.person_id,
                        activity,
                        f.get("activity_date"),
                        f.get("attendance_status"),
                        f.get("ticket_type"),
                        f.get("referral_source"),
                    )
                )
            if any(f.get(k) is not None for k in OUTCOME_FIELDS):
                outcomes.append(
                    (
                        self.source,
                        p.key,
                        p.raw_id,
                        p.person_id,
                        f.get("outcome"),
                        f.get("outcome_date") or f.get("activity_date"),
                        f.get("measure"),
                        f.get("score"),
                    )
                )
        self.db.conn.executemany(
            """INSERT INTO attendances (source, source_key, record_id, person_id, activity_id,
                 activity_date, attendance_status, ticket_type, referral_source)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT(source, source_key) DO UPDATE SET record_id = excluded.record_id,
                 person_id = excluded.person_id, activity_id = excluded.activity_id,
                 activity_date = excluded.activity_date,
                 attendance_status = excluded.attendance_status,
                 ticket_type = excluded.ticket_type, referral_source = excluded.referral_source""",
            attendances,
        )
        self.db.conn.executemany(
            """INSERT INTO outcomes (source, source_key, record_id, person_id, outcome,
                 outcome_date, measure, score) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT(source, source_key) DO UPDATE SET record_id = excluded.record_id,
                 person_id = excluded.person_id, outcome = excluded.outcome,
                 outcome_date = excluded.outcome_date, measure = excluded.measure,
                 score = excluded.score""",
            outcomes,
        )

    def _write_problems(self, table: Table, pending: list[Pending]) -> None:
        rows = []
        for p in pending:
            said = [(*x, "warning") for x in p.norm.problems] + [(*x, "info") for x in p.norm.notes]
            for fname, value, problem, severity in said:
                rows.append(
                    (
                        self.run_id,
                        self.source,
                        p.key,
                        p.raw_id,
                        table.location,
                        p.row.number,
                        fname,
                        value,
                        problem,
                        severity,
                        self.now,
                    )
                )
                if severity != "info":  # a note explains a value that was kept
                    self.counts.problem_kinds[(fname, problem)] += 1
                    self.counts.problems += 1
        if rows:
            self.db.conn.executemany(
                "INSERT INTO issues (sync_run_id, source, source_key, record_id, location,"
                " row_number, field, value, problem, severity, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def add_table_issue(self, location: str, problem: str, severity: str = "warning") -> None:
        """A problem with a table or file as a whole (no row). It replaces those an earlier
        sync recorded at the same place, which was read again, so they never pile up."""
        self.db.execute(
            "DELETE FROM issues WHERE source = ? AND location = ? AND record_id IS NULL"
            " AND sync_run_id IS NOT ?",
            [self.source, location, self.run_id],
        )
        self.db.execute(
            "INSERT INTO issues (sync_run_id, source, location, problem, severity, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [self.run_id, self.source, location, problem, severity, self.now],
        )
        if severity != "info":
            self.counts.problems += 1

    def clear_table_issues(self, location: str) -> None:
        self.db.execute(
            "DELETE FROM issues WHERE source = ? AND location = ? AND record_id IS NULL",
            [self.source, location],
        )

    # --- end of source -------------------------------------------------------------

    def _drop_mended_errors(self) -> None:
        """An error with a file or table (a sheet that is not there, a path that matches
        nothing) stops it being marked as read, so every sync reads it again and reports
        the error again while it lasts. One this sync did not report has been mended."""
        self.db.execute(
            "DELETE FROM issues WHERE source = ? AND record_id IS NULL AND severity = 'error'"
            " AND sync_run_id IS NOT ?",
            [self.source, self.run_id],
        )

    def _retire_missing(self, table_key: str) -> None:
        """Rows of a snapshot table not read this time are no longer current (still kept)."""
        self.db.execute(
            """UPDATE records SET is_current = 0 WHERE is_current = 1 AND id IN (
                 SELECT id FROM raw_rows WHERE source = ? AND table_key = ? AND sync_run_id != ?)""",
            [self.source, table_key, self.run_id],
        )

    def finish(self) -> None:
        """Drop errors this sync did not find again, and contacts of records that are no
        longer current; refresh people touched."""
        self._drop_mended_errors()
        if not self.counts.read:
            return  # nothing was read (unchanged files): nothing to tidy
        store.keep_last_raw_id(self.db, self._next_raw - 1)
        for table in ("attendances", "outcomes"):
            self.db.execute(
                f"""DELETE FROM {table} WHERE source = ? AND record_id IN (
                      SELECT id FROM records WHERE source = ? AND is_current = 0)""",
                [self.source, self.source],
            )
        self.db.execute(
            """UPDATE people SET
                 record_count = (SELECT count(*) FROM records r
                                 WHERE r.person_id = people.person_id AND r.is_current = 1),
                 sources = (SELECT json_group_array(source) FROM (
                              SELECT DISTINCT source FROM records r
                              WHERE r.person_id = people.person_id AND r.is_current = 1
                              ORDER BY source))
               WHERE last_sync_run_id = ?""",
            [self.run_id],
        )
