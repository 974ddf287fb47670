"""Invariant tests: a Hypothesis state machine over a real project folder and store.

In random order it adds, edits and removes rows and columns in two CSV files and a
workbook, renames sheets, answers review questions (same, different, skip, undo: the
library functions `harvest review` uses), forgets people, and runs sync, match and
publish. After every step:

* no exception escapes (a step that raises fails the test);
* every row ever read is still in the store, as it was (versions, not overwrites),
  but the rows of people forgotten; and every row of a source that synced is there;
* no current record is duplicated, and no sync run is left "running";
* every review decision in force still holds: same ⇒ one person, different ⇒ two;
* the people are the ones `harvest match --full` finds from the same store;
* a person whose current records did not change keeps their id.

Budgets are the Hypothesis profiles in conftest.py: short for `make test`, long for
`make soak`. Failures found are kept in tests/.hypothesis-examples and replayed first.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

import pytest
from conftest import query, write_config, write_csv
from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from invariants_project import (
    FIELDS,
    MOST_ROWS,
    OPTIONAL,
    PEOPLE,
    SHEET_NAMES,
    Project,
    Source,
    cells,
    landed,
    partition,
    people,
    person_row,
    raw_rows,
)

from harvest import store
from harvest.config import load_config
from harvest.dataprotection.erasure import Who, find_person, forget
from harvest.people import review
from harvest.people.features import IDENTITY_SQL
from harvest.people.match import match_people
from harvest.people.match_load import profile_hash
from harvest.publish.funders import publish_funders
from harvest.sync import sync

SOURCES = ("lunch", "events", "youth")
which = st.integers(0, len(SOURCES) - 1)
choice = st.tuples(*[st.integers(0, 5)] * len(FIELDS))
person = st.integers(0, len(PEOPLE) - 1)
STEPS = {"count": 0}  # steps run in this process, for `make soak`'s closing line


class SyncForever(RuleBasedStateMachine):
    """cron's `harvest sync`, every hour, while the charity edits its sheets and reviews."""

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="harvest-invariants-"))
        self.secrets = os.environ.get("HARVEST_SECRETS_FILE")
        os.environ["HARVEST_SECRETS_FILE"] = str(self.tmp / "secrets.json")
        folder = self.tmp / "project"
        folder.mkdir()
        self.project = Project(
            folder,
            [Source("lunch", "csv"), Source("events", "csv", ids=True), Source("youth", "xlsx")],
        )
        self.cfg = self.project.write_config()
        self.seen: dict[int, tuple] = {}  # every raw row version ever in the store
        self.erased: set[int] = set()  # raw rows removed by forget
        self.forgotten: dict[str, set[tuple]] = {}  # source → rows forgotten (never land again)
        self.forgotten_ids: set[tuple[str, str]] = set()  # (source, ID) of rows forgotten
        self.forgotten_people: set[tuple[str, str]] = set()  # (email, given name) erased
        self.forgotten_marks: set[str] = set()  # any email, phone or name of someone erased
        self.next_id = 1

    def teardown(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)
        if self.secrets is None:
            os.environ.pop("HARVEST_SECRETS_FILE", None)
        else:
            os.environ["HARVEST_SECRETS_FILE"] = self.secrets

    @initialize(rows=st.lists(st.tuples(which, person, choice), min_size=3, max_size=18))
    def first_sync(self, rows: list[tuple[int, int, tuple]]) -> None:
        for s, who, picks in rows:
            self._add(self.project.sources[s], who, picks, "")
        for source in self.project.sources:
            self.project.write(source)
        self.run_sync(None, False)

    # --- the charity edits its sheets ---------------------------------------------------

    @rule(
        s=which,
        added=st.lists(st.tuples(person, choice), min_size=1, max_size=3),
        note=st.sampled_from(["", "new", "lift"]),
    )
    def add_rows(self, s: int, added: list[tuple[int, tuple]], note: str) -> None:
        source = self.project.sources[s]
        for who, picks in added:
            self._add(source, who, picks, note)
        self.project.write(source)

    def _add(self, source: Source, who: int, picks: tuple, note: str) -> None:
        if len(source.rows) < MOST_ROWS:
            row = person_row(who, picks, note)
            if source.ids:
                row["ID"] = f"A{self.next_id}"
                self.next_id += 1
            source.rows.append(row)

    @rule(
        s=which,
        i=st.integers(0, 99),
        name=st.sampled_from([*FIELDS, "Notes"]),
        who=person,
        picks=choice,
    )
    def edit_row(self, s: int, i: int, name: str, who: int, picks: tuple) -> None:
        source = self.project.sources[s]
        if source.rows:
            value = person_row(who, picks, "edited")[name]
            source.rows[i % len(source.rows)][name] = value
            self.project.write(source)

    @rule(s=which, i=st.integers(0, 99))
    def remove_row(self, s: int, i: int) -> None:
        source = self.project.sources[s]
        if source.rows:
            del source.rows[i % len(source.rows)]
            self.project.write(source)

    @rule(s=which, column=st.sampled_from(OPTIONAL))
    def drop_or_bring_back_a_column(self, s: int, column: str) -> None:
        source = self.project.sources[s]
        if column in source.columns:
            source.columns.remove(column)
        else:
            order = [*FIELDS, "Notes"]
            source.columns = [c for c in order if c in source.columns or c == column]
        self.project.write(source)

    @rule(k=st.integers(0, 1), name=st.sampled_from(SHEET_NAMES))
    def rename_a_sheet(self, k: int, name: str) -> None:
        book = self.project.sources[2]
        if name not in book.sheets:
            book.sheets[k] = name
            self.project.write(book)

    # --- harvest runs ---------------------------------------------------------------------

    @rule(only=st.sampled_from([None, *SOURCES]), full=st.booleans())
    def run_sync(self, only: str | None, full: bool) -> None:
        before = people(self.project.db) if self.project.db.exists() else {}
        result = sync(load_config(self.cfg), only=only, full=full)
        assert result.matching is not None and not result.matching.error, result.matching
        event(f"sync: matching {result.matching.mode}")
        assert result.publish_error is None, result.publish_error
        for outcome in result.sources:
            if outcome.status == "ok":
                self._all_rows_landed(outcome.name)
        self._matched(before)

    @rule(full=st.booleans())
    def run_match(self, full: bool) -> None:
        before = people(self.project.db)
        cfg = load_config(self.cfg)
        db = store.connect(cfg.database_path)
        try:
            with store.transaction(db):
                match_people(db, cfg.matching.model_copy(update={"enabled": True}), full=full)
        finally:
            db.conn.close()
        self._matched(before)

    @rule()
    def run_publish(self) -> None:
        publish_funders(load_config(self.cfg))

    @rule(
        answer=st.sampled_from(["same", "different", "skip"]),
        i=st.integers(0, 9),
        joins=st.booleans(),
    )
    def answer_a_question(self, answer: str, i: int, joins: bool) -> None:
        """`harvest review`, or `harvest review --joins` (checking automatic joins)."""
        self._review(lambda db: _decide(db, answer, i, review.joins if joins else review.queue))

    @rule()
    def undo_the_last_answer(self) -> None:
        self._review(review.undo)

    @rule(i=st.integers(0, 99))
    def forget_someone(self, i: int) -> None:
        emails = query(
            self.project.db,
            "SELECT DISTINCT email FROM records WHERE is_current = 1 AND email IS NOT NULL"
            " ORDER BY email",
        )
        if not emails:
            return
        cfg = load_config(self.cfg)
        db = store.connect(cfg.database_path)
        try:
            plan = find_person(db, Who(email=emails[i % len(emails)][0]))
        finally:
            db.conn.close()
        before = raw_rows(self.project.db)
        forget(cfg, plan)
        after = raw_rows(self.project.db)
        gone = set(before) - set(after)
        assert gone == set(plan.raw_ids)
        event("forget: someone forgotten")
        self.erased |= gone
        self.forgotten_people |= _identities(self.project.db, plan.raw_ids, before)
        for rid in gone:
            self.forgotten_marks |= _marks(json.loads(before[rid][4]))
        for rid in gone:
            source, data = before[rid][0], json.loads(before[rid][4])
            self.forgotten.setdefault(source, set()).add(cells(data))
            if "ID" in data:  # the source's own id: an edit of the row stays forgotten too
                self.forgotten_ids.add((source, data["ID"]))

    # --- what must always hold ------------------------------------------------------------

    @invariant()
    def count_steps(self) -> None:
        STEPS["count"] += 1

    @invariant()
    def rows_are_versions_never_overwrites(self) -> None:
        now = raw_rows(self.project.db)
        for rid, row in self.seen.items():
            if rid not in self.erased:
                assert now.get(rid) == row, f"raw row {rid} changed or went: {row}"
        self.seen.update(now)
        for source, rows in self.forgotten.items():
            assert not rows & landed(self.project.db, source), "a forgotten row came back"
        if self.forgotten_people and self.project.db.exists():
            back = set(
                query(self.project.db, "SELECT lower(email), lower(given_name) FROM records")
            )
            assert not back & self.forgotten_people, "a forgotten person came back, edited"

    @invariant()
    def no_current_record_twice_and_no_run_left_running(self) -> None:
        if not self.project.db.exists():
            return
        twice = query(
            self.project.db,
            "SELECT source, source_key FROM records WHERE is_current = 1"
            " GROUP BY 1, 2 HAVING count(*) > 1",
        )
        assert twice == []
        assert query(self.project.db, "SELECT id FROM sync_runs WHERE status = 'running'") == []

    @invariant()
    def decisions_hold(self) -> None:
        if not self.project.db.exists():
            return
        for a, b, decision in _decisions(self.project.db):
            if not (a and b):  # one set of details has no current record any more
                continue
            if decision == "same":
                assert a == b and len(a) == 1, f"same, but people {a} and {b}"
            else:
                assert not a & b, f"different, but both person {a & b}"

    # --- helpers ----------------------------------------------------------------------------

    def _all_rows_landed(self, name: str) -> None:
        source = next(s for s in self.project.sources if s.name == name)
        rows = [r for r in source.written() if (name, r.get("ID")) not in self.forgotten_ids]
        # A row sharing an email, a phone or a name with someone erased may be theirs, edited:
        # erasure skips it by identity (the must-not-land side is rows_are_versions_...).
        rows = [r for r in rows if not _marks(r) & self.forgotten_marks]
        expected = {cells(r) for r in rows} - self.forgotten.get(name, set())
        missing = expected - landed(self.project.db, name)
        assert not missing, f"{name}: rows read but not in the store: {missing}"

    def _review(self, act) -> None:
        before = people(self.project.db)
        cfg = load_config(self.cfg)
        db = store.connect(cfg.database_path)
        try:
            act(db)
            review.apply(db, cfg.matching)
        finally:
            db.conn.close()
        self._matched(before)

    def _matched(self, before: dict[int, frozenset[int]]) -> None:
        """The people now are the ones a full match finds, and unchanged people kept ids."""
        after = people(self.project.db)
        owner = {records: pid for pid, records in after.items()}
        for pid, records in before.items():
            if pid is not None and records in owner:
                assert owner[records] == pid, f"person {pid} became {owner[records]}"
        now, full, moved = partition(self.project.db), *_fully_matched(self.project.db, self.cfg)
        profiles = _profiles(self.project.db)
        for group in now ^ full:  # only where a full match scored a pair anew (matching.md)
            assert {profiles[r] for r in group} & moved, f"{group}: not what a full match gives"


def _decide(db, answer: str, i: int, asked) -> None:
    pairs = asked(db)
    event(f"review ({asked.__name__}): {answer if pairs else 'nothing to review'}")
    if pairs and answer != "skip":
        review.decide(db, pairs[i % len(pairs)], answer, "tester", "terminal")


def _decisions(db_path: Path) -> list[tuple[set[int], set[int], str]]:
    """Each decision in force: the people of its two sets of details, and what was said."""
    person: dict[int, set[int]] = {}
    for pid, *values in query(
        db_path, f"SELECT person_id, {IDENTITY_SQL} FROM records WHERE is_current = 1"
    ):
        person.setdefault(profile_hash(tuple(values)), set()).add(pid)
    rows = query(
        db_path,
        """SELECT profile_a, profile_b, decision FROM match_decisions d
           WHERE undone_at IS NULL AND id = (
             SELECT max(id) FROM match_decisions e WHERE e.profile_a = d.profile_a
               AND e.profile_b = d.profile_b AND e.undone_at IS NULL)""",
    )
    return [(person.get(a, set()), person.get(b, set()), d) for a, b, d in rows]


def _fully_matched(db_path: Path, cfg_path: Path) -> tuple[set[frozenset[int]], set[int]]:
    """The people `harvest match --full` finds, on a copy of the store; and the profiles of
    pairs whose score it changed (it re-learns the weights and re-scores every pair)."""
    copy = db_path.with_name("full-copy.db")
    for leftover in copy.parent.glob("full-copy.db*"):
        leftover.unlink()
    src, dst = sqlite3.connect(db_path), sqlite3.connect(copy)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    settings = load_config(cfg_path).matching
    db = store.connect(copy)
    try:
        with store.transaction(db):
            match_people(db, settings.model_copy(update={"enabled": True}), full=True)
    finally:
        db.conn.close()
    before, after = _scores(db_path), _scores(copy)
    moved = {
        p for pair in set(before) | set(after) if before.get(pair) != after.get(pair) for p in pair
    }
    return partition(copy), moved


def _scores(db_path: Path) -> dict[tuple[int, int], float]:
    sql = "SELECT profile_a, profile_b, round(probability, 9) FROM match_pairs"
    return {(a, b): p for a, b, p in query(db_path, sql)}


def _profiles(db_path: Path) -> dict[int, int]:
    """Each current record's profile: the hash of its identifying values as matching reads
    them (IDENTITY_SQL: a postcode that is not a UK one is kept as its text)."""
    rows = query(db_path, f"SELECT id, {IDENTITY_SQL} FROM records WHERE is_current = 1")
    return {r[0]: profile_hash(tuple(r[1:])) for r in rows}


TestSyncForever = SyncForever.TestCase


def _marks(row: dict[str, str]) -> set[str]:
    """Loose marks of who a row is about (a superset of what erasure matches on)."""
    data = {k.lower(): (v or "").strip().lower() for k, v in row.items()}
    email = next((v for k, v in data.items() if "mail" in k), "")
    phone = "".join(
        c for c in next((v for k, v in data.items() if "phone" in k), "") if c.isdigit()
    )
    phone = "0" + phone[2:] if phone.startswith("44") else phone
    given = next((v for k, v in data.items() if "first" in k or "given" in k), "")
    family = next((v for k, v in data.items() if "surname" in k or "family" in k), "")
    marks = {f"e:{email}" if email else "", f"p:{phone}" if phone else ""}
    if given and family:
        marks.add(f"n:{given}|{family}")
    return marks - {""}


def _identities(db: Path, raw_ids: list[int], before: dict) -> set[tuple[str, str]]:
    """(email, given name) of the rows just forgotten, as cleaning stores them: whatever
    columns are added or cells retyped later, a row with both must never land again."""
    found = set()
    for rid in raw_ids:
        data = {k.lower(): v for k, v in json.loads(before[rid][4]).items()}
        email = next((v for k, v in data.items() if "mail" in k), "")
        given = next((v for k, v in data.items() if "first" in k or "given" in k), "")
        if email.strip() and given.strip():
            found.add((email.strip().lower(), given.strip().lower()))
    return found


@pytest.fixture(scope="module", autouse=True)
def say_how_many_steps():
    yield
    print(f"\nThe state machine ran {STEPS['count']} steps.")


def test_a_forgotten_person_stays_forgotten_when_a_column_goes(tmp_path: Path) -> None:
    header = ["First name", "Surname", "Email", "Notes"]
    ann = ["Ann", "Lee", "ann@example.org", ""]
    bob = ["Bob", "Ray", "bob@example.org", ""]
    path = tmp_path / "list.csv"
    write_csv(path, [header, ann, bob])
    source = {"name": "list", "type": "file", "options": {"path": "list.csv"}}
    cfg = load_config(write_config(tmp_path, [source]))
    sync(cfg)
    db = store.connect(cfg.database_path)
    plan = find_person(db, Who(email="ann@example.org"))
    db.conn.close()
    forget(cfg, plan)
    write_csv(path, [header[:3], ann[:3], bob[:3]])  # the Notes column deleted
    os.utime(path, ns=(time.time_ns() + 10**10, time.time_ns() + 10**10))
    sync(cfg)
    assert query(cfg.database_path, "SELECT given_name FROM records") == [("Bob",), ("Bob",)]


def test_profiles_are_keyed_as_matching_keys_them(tmp_path: Path) -> None:
    """The invariants find a record's profile as matching does: "E8 3PM" is no UK postcode,
    so matching keys Tom's first row by its text (a false "not what a full match gives")."""
    header = ["First name", "Surname", "Date of birth", "Postcode", "Email"]
    write_csv(
        tmp_path / "list.csv",
        [
            header,
            ["Tom", "Baker", "1960-01-10", "E8 3PM", "tom@example.org"],
            ["Tom", "Baker", "1960-01-01", "E8 3PN", ""],
        ],
    )
    source = {"name": "list", "type": "file", "options": {"path": "list.csv"}}
    cfg = load_config(write_config(tmp_path, [source], matching={"exact_keys": []}))
    sync(cfg)
    assert query(cfg.database_path, "SELECT count(*) FROM records WHERE postcode IS NULL") == [(1,)]
    pairs = query(cfg.database_path, "SELECT profile_a, profile_b FROM match_pairs")
    assert pairs and set(pairs[0]) == set(_profiles(cfg.database_path).values())
