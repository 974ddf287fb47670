"""Land one source's tables in the store, batch by batch, within the caller's transaction.

For each batch: key and hash its rows, skip the forgotten, look up the versions already
stored, clean the rows that are new or changed, give them people, and hand the batch's
writes to a second thread (``writes.Background``) while the next batch is read. A table
read whole (a file) is a snapshot: its rows not seen this time stop being current.
"""

from __future__ import annotations

import gc
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from datetime import date
from itertools import chain
from multiprocessing import get_all_start_methods

import sqlite_utils

from harvest import store
from harvest.connectors.base import Row, Table
from harvest.dataprotection.tombstones import Tombstones
from harvest.landing.people import People
from harvest.landing.rows import (
    Counts,
    Existing,
    Pending,
    RowIdentity,
    RowJson,
    batches,
    erased_note,
)
from harvest.landing.tidy import Tidy
from harvest.landing.worker import Cleaned, Cleaner, normalised
from harvest.landing.writes import Background, Writes
from harvest.normalise.mapping import ColumnMap
from harvest.normalise.record import Normalised, RowNormaliser
from harvest.normalise.standard import load_standard
from harvest.store import now

BATCH = 1000
CHUNK = 500  # keys looked up per query
PROCESSES = 2  # 2: a table of new rows is cleaned in a child process (worker.py); 1: not
Job = tuple[RowIdentity, RowJson, RowNormaliser]
# a row to land: the row, its key and content hash, and (when cleaned already) its
# Normalised, JSON and person keys
Item = tuple[Row, str, str, Normalised | None, str | None, list[str] | None]


def _may_fork() -> bool:
    """Fork a cleaning child only from the main thread of a process that can: a sync the
    staff console started runs on a thread of the web server, and forking a copy of a
    server's threads (and the locks they hold) is not worth the risk."""
    return (
        "fork" in get_all_start_methods() and threading.current_thread() is threading.main_thread()
    )


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Python's cycle collector, tuned for landing: it makes millions of short-lived objects
    (cells, cleaned rows, parameters) and no cycles, and the collector's passes over every
    object alive (the standard, the remembered values) cost ~15% of a sync's CPU. Objects
    made before landing are frozen out of its passes, and it runs every 100,000 new objects
    rather than every 700; both are put back afterwards."""
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


class Lander(Tidy):
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
        self.people = People(db)
        self._activities = dict(db.execute("SELECT name, id FROM activities").fetchall())
        # data protection: a row that was forgotten (`harvest forget`) never lands again
        self.tombstones = Tombstones.for_source(db, source)
        # every row of this source in the store is from this run: all rows read are new
        self._fresh = not db.execute(
            "SELECT 1 FROM raw_rows WHERE source = ? LIMIT 1", [source]
        ).fetchone()
        self.writes = Writes(source, run_id, self.now, self.fields, self.counts)
        self.background = Background(db)

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
        job = (RowIdentity(table.key, table.headers, id_idx), RowJson(table.headers), normaliser)
        skipped = self.counts.forgotten
        with fewer_collections():
            try:
                self._land_rows(table, job, self._all_new(table, id_idx), progress)
            finally:  # never leave a write running when the transaction ends, either way
                self.background.wait()
        if self.counts.forgotten > skipped:  # shown by `harvest check`
            self.add_table_issue(
                table.location, erased_note(self.counts.forgotten - skipped), "info"
            )
        if table.complete:
            self._retire_missing(table.key)

    def _all_new(self, table: Table, id_idx: int | None) -> bool:
        """No row of the table can be in the store yet (nor forgotten): every row is cleaned."""
        if self.tombstones or PROCESSES < 2 or not _may_fork():
            return False
        if self._fresh:
            return True
        self.background.wait()
        return (
            id_idx is None
            and not self.db.execute(  # a new file: keys are its own
                "SELECT 1 FROM raw_rows WHERE source = ? AND table_key = ? LIMIT 1",
                [self.source, table.key],
            ).fetchone()
        )

    def _land_rows(
        self, table: Table, job: Job, all_new: bool, progress: Callable[[int], None] | None
    ) -> None:
        """The first batch here; the rest too, or, when every row is new and there are
        more, cleaned one batch ahead by a child process (see worker.py)."""
        identity, _, normaliser = job
        rows = batches(table.rows, BATCH)
        ahead: deque[tuple[list[Row], Future[list[Cleaned]]]] = deque()
        for n, batch in enumerate(rows):
            if n == 1 and all_new:
                self.background.wait()  # no thread is running when the child is forked
                with Cleaner(*job) as cleaner:
                    for later in chain([batch], rows):
                        ahead.append((later, cleaner.submit([r.values for r in later])))
                        if len(ahead) > 1:
                            self._land_cleaned(table, *ahead.popleft(), progress)
                    while ahead:
                        self._land_cleaned(table, *ahead.popleft(), progress)
                return
            items: list[Item] = [(row, *identity(row.values), None, None, None) for row in batch]
            if self.tombstones:  # data protection: skip (and count) rows that were forgotten
                kept = [i for i in items if not self.tombstones.forgotten(i[1], i[2])]
                self.counts.forgotten += len(items) - len(kept)
                items = kept
            if self._fresh:  # all new: cleaned while the last batch is written
                items = [(r, k, h, normaliser(r.values), None, None) for r, k, h, *_ in items]
            self._land_batch(table, items, normaliser)
            if progress:
                progress(len(batch))

    def _land_cleaned(
        self,
        table: Table,
        batch: list[Row],
        cleaned: Future[list[Cleaned]],
        progress: Callable[[int], None] | None,
    ) -> None:
        items = [(row, c[0], c[1], normalised(c), c[2], c[8])
                 for row, c in zip(batch, cleaned.result(), strict=True)]  # fmt: skip
        self._land_batch(table, items, None)
        if progress:
            progress(len(batch))

    def _land_batch(
        self, table: Table, items: Sequence[Item], normaliser: RowNormaliser | None
    ) -> None:
        self.background.wait()  # the store is read below: the last batch must be in
        existing = self._existing({item[1] for item in items})
        touched: list[tuple[str, int, int]] = []
        pending: list[Pending] = []
        recurrent: list[tuple[int, str, str]] = []
        for row, key, h, norm, data, keys in items:
            self.counts.read += 1
            key = self._deduplicate(key, h, existing)
            versions = existing.setdefault(key, [])
            match = next((v for v in versions if v.content_hash == h), None)
            if match:
                self.counts.unchanged += 1
                if match.run_id != self.run_id:
                    touched.append((self.now, self.run_id, match.id))
                    match.run_id = self.run_id
                if not match.is_current:
                    recurrent.append((match.id, self.source, key))
                    for v in versions:
                        v.is_current = int(v is match)
                continue
            if norm is None:
                assert normaliser is not None  # rows not cleaned ahead are cleaned here
                norm = normaliser(row.values)
            if self.tombstones and self.tombstones.erased_person(norm.fields):
                self.counts.read -= 1  # data protection: an erased person's row, edited
                self.counts.forgotten += 1
                continue
            p = self._pending(row, key, h, versions, norm)
            p.data, p.keys = data, keys
            pending.append(p)
        new_keys = self.people.assign(pending)
        statements = [
            ("UPDATE raw_rows SET last_seen = ?, sync_run_id = ? WHERE id = ?", touched),
            ("INSERT OR IGNORE INTO person_keys (key, person_id) VALUES (?, ?)", new_keys.items()),
            *self.writes.batch(table, pending, self.activity_id),
            (
                "UPDATE records SET is_current = (id = ?) WHERE id IN"
                " (SELECT id FROM raw_rows WHERE source = ? AND source_key = ?)",
                recurrent,
            ),
        ]
        self.background.submit([(sql, list(rows)) for sql, rows in statements if rows])

    def _pending(
        self, row: Row, key: str, h: str, versions: list[Existing], norm: Normalised
    ) -> Pending:
        """A new version of a row (its first, when ``versions`` is empty)."""
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
        return p

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
        for i in range(0, len(keys_list), CHUNK):
            chunk = keys_list[i : i + CHUNK]
            sql = f"""SELECT r.source_key, r.id, r.content_hash, r.version, r.sync_run_id,
                        coalesce(c.is_current, 0), c.person_id
                      FROM raw_rows r LEFT JOIN records c ON c.id = r.id
                      WHERE r.source = ? AND r.source_key IN ({",".join("?" * len(chunk))})"""
            for key, *rest in self.db.execute(sql, [self.source, *chunk]).fetchall():
                out[key].append(Existing(*rest))
        return out

    def activity_id(self, name: str) -> int:
        """The id of an activity by name, adding it the first time it is seen."""
        if name not in self._activities:
            self.background.wait()
            cur = self.db.execute(
                "INSERT INTO activities (name, first_source) VALUES (?, ?)", [name, self.source]
            )
            assert cur.lastrowid is not None  # always set after an INSERT
            self._activities[name] = int(cur.lastrowid)
        return self._activities[name]

    def finish(self) -> None:
        """Drop errors this sync did not find again, and contacts of records that are no
        longer current; refresh people touched."""
        self.background.wait()
        self._drop_mended_errors()
        if not self.counts.read:
            return  # nothing was read (unchanged files): nothing to tidy
        store.keep_last_raw_id(self.db, self._next_raw - 1)
        self._tidy_people()
