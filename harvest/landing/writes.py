"""The rows of one batch as SQL: raw rows, records, people, contacts and problems.

``Writes`` turns a batch of pending rows into statements with their parameters, on
the thread that reads and cleans; ``Background`` runs them on a second thread, in
order, while the next batch is read and cleaned (SQLite lets go of Python's lock while
it works, so the two use both cores). Nothing else touches the connection while a
batch is being written: the lander waits for it before every read, and before the
source's transaction ends either way. Statements name only the columns the batch fills,
so a sheet of twelve columns binds the dozen fields it fills, not all forty-five.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

import sqlite_utils

from harvest.connectors.base import Table
from harvest.landing.rows import Counts, Pending, RowJson
from harvest.store import PERSON_FIELDS

Statements = list[tuple[str, list[tuple]]]
CONTACT_FIELDS = ("activity", "activity_date", "attendance_status")
OUTCOME_FIELDS = ("outcome", "measure", "score")
RAW_SQL = (
    "INSERT INTO raw_rows (id, source, source_key, version, content_hash, table_key,"
    " location, row_number, data, first_seen, last_seen, sync_run_id)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
NOT_CURRENT_SQL = (
    "UPDATE records SET is_current = 0"
    " WHERE id IN (SELECT id FROM raw_rows WHERE source = ? AND source_key = ?)"
)
ATTENDANCES_SQL = """INSERT INTO attendances (source, source_key, record_id, person_id,
     activity_id, activity_date, attendance_status, ticket_type, referral_source)
   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
   ON CONFLICT(source, source_key) DO UPDATE SET record_id = excluded.record_id,
     person_id = excluded.person_id, activity_id = excluded.activity_id,
     activity_date = excluded.activity_date, attendance_status = excluded.attendance_status,
     ticket_type = excluded.ticket_type, referral_source = excluded.referral_source"""
OUTCOMES_SQL = """INSERT INTO outcomes (source, source_key, record_id, person_id, outcome,
     outcome_date, measure, score) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
   ON CONFLICT(source, source_key) DO UPDATE SET record_id = excluded.record_id,
     person_id = excluded.person_id, outcome = excluded.outcome,
     outcome_date = excluded.outcome_date, measure = excluded.measure, score = excluded.score"""
ISSUES_SQL = (
    "INSERT INTO issues (sync_run_id, source, source_key, record_id, location,"
    " row_number, field, value, problem, severity, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def insert_sql(table: str, cols: list[str]) -> str:
    names = ", ".join(f"[{c}]" for c in cols)
    return f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' for _ in cols)})"


def records_sql(fields: tuple[str, ...]) -> str:
    head = ["id", "source", "source_key", "is_current", "person_id", "location", "row_number"]
    return insert_sql("records", [*head, *fields, "postcode_text", "extra", "synced_at"])


def people_sql(fields: tuple[str, ...]) -> str:
    """An upsert: a value given replaces the person's, a blank never does."""
    sql = insert_sql(
        "people", ["person_id", *fields, "first_seen", "last_seen", "last_sync_run_id"]
    )
    updates = "".join(f"[{f}] = coalesce(excluded.[{f}], people.[{f}]), " for f in fields)
    return (
        f"{sql} ON CONFLICT(person_id) DO UPDATE SET {updates}"
        "last_seen = excluded.last_seen, last_sync_run_id = excluded.last_sync_run_id"
    )


class Writes:
    """Statements for one source's batches (see the module's docstring)."""

    def __init__(
        self, source: str, run_id: int, now: str, fields: list[str], counts: Counts
    ) -> None:
        self.source, self.run_id, self.now, self.counts = source, run_id, now, counts
        self.order = {name: i for i, name in enumerate(fields)}  # the standard's order
        self.person_fields = set(PERSON_FIELDS)
        self._sql: dict[tuple[str, tuple[str, ...]], str] = {}

    def batch(
        self, table: Table, pending: list[Pending], activity_id: Callable[[str], int]
    ) -> Statements:
        if not pending:
            return []
        filled: set[str] = set()
        for p in pending:
            filled.update(p.norm.fields)
        fields = tuple(sorted(filled, key=self.order.__getitem__))
        people = tuple(f for f in fields if f in self.person_fields)
        out: Statements = [(RAW_SQL, self._raw_rows(table, pending))]
        changed = [(self.source, p.key) for p in pending if p.version > 1]
        if changed:
            out.append((NOT_CURRENT_SQL, changed))
        out.append((self._cached("records", fields), self._records(table, pending, fields)))
        out.append((self._cached("people", people), self._people(pending, people)))
        out += self._contacts(pending, activity_id)
        problems = self._problems(table, pending)
        if problems:
            out.append((ISSUES_SQL, problems))
        return out

    def _cached(self, table: str, fields: tuple[str, ...]) -> str:
        sql = self._sql.get((table, fields))
        if sql is None:
            make = records_sql if table == "records" else people_sql
            sql = self._sql[(table, fields)] = make(fields)
        return sql

    def _raw_rows(self, table: Table, pending: list[Pending]) -> list[tuple]:
        as_json = RowJson(table.headers)
        src, key, loc, now, run = self.source, table.key, table.location, self.now, self.run_id
        return [
            (p.raw_id, src, p.key, p.version, p.content_hash, key, loc, p.row.number,
             p.row.raw or p.data or as_json(p.row), now, now, run)
            for p in pending
        ]  # fmt: skip

    def _records(self, table: Table, pending: list[Pending], fields: tuple[str, ...]) -> list:
        src, loc, now = self.source, table.location, self.now
        rows = []
        for p in pending:
            get, norm = p.norm.fields.get, p.norm
            extra = json.dumps(norm.extra) if norm.extra else None
            rows.append(
                (p.raw_id, src, p.key, 1, p.person_id, loc, p.row.number,
                 *[get(f) for f in fields], norm.postcode_text, extra, now)
            )  # fmt: skip
        return rows

    def _people(self, pending: list[Pending], fields: tuple[str, ...]) -> list[tuple]:
        now, run = self.now, self.run_id
        return [
            (p.person_id, *[p.norm.fields.get(f) for f in fields], now, now, run) for p in pending
        ]

    def _contacts(self, pending: list[Pending], activity_id: Callable[[str], int]) -> Statements:
        attendances, outcomes = [], []
        for p in pending:
            f = p.norm.fields
            if any(f.get(k) for k in CONTACT_FIELDS):
                activity = activity_id(f.get("activity") or self.source)
                attendances.append(
                    (self.source, p.key, p.raw_id, p.person_id, activity, f.get("activity_date"),
                     f.get("attendance_status"), f.get("ticket_type"), f.get("referral_source"))
                )  # fmt: skip
            if any(f.get(k) is not None for k in OUTCOME_FIELDS):
                outcomes.append(
                    (self.source, p.key, p.raw_id, p.person_id, f.get("outcome"),
                     f.get("outcome_date") or f.get("activity_date"), f.get("measure"),
                     f.get("score"))
                )  # fmt: skip
        return [(sql, rows) for sql, rows in ((ATTENDANCES_SQL, attendances),
                (OUTCOMES_SQL, outcomes)) if rows]  # fmt: skip

    def _problems(self, table: Table, pending: list[Pending]) -> list[tuple]:
        rows = []
        for p in pending:
            said = [(*x, "warning") for x in p.norm.problems] + [(*x, "info") for x in p.norm.notes]
            for fname, value, problem, severity in said:
                rows.append(
                    (self.run_id, self.source, p.key, p.raw_id, table.location, p.row.number,
                     fname, value, problem, severity, self.now)
                )  # fmt: skip
                if severity != "info":  # a note explains a value that was kept
                    self.counts.problem_kinds[(fname, problem)] += 1
                    self.counts.problems += 1
        return rows


class Background:
    """Runs one batch's statements at a time on a second thread (see the module's docstring)."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.conn = db.conn
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def submit(self, statements: Statements) -> None:
        self.wait()
        if statements:
            self._thread = threading.Thread(target=self._run, args=(statements,), daemon=True)
            self._thread.start()

    def _run(self, statements: Statements) -> None:
        try:
            for sql, rows in statements:
                self.conn.executemany(sql, rows)
        except BaseException as exc:  # handed to the lander's thread, which rolls back
            self._error = exc

    def wait(self) -> None:
        """Until the batch being written is in; its error, if it failed, is raised here."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error
