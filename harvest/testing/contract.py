"""The connector contract: one suite of tests that every connector passes against a local
fake of its API, as taps run the Singer SDK's standard tests. A connector

- yields rows with unique keys, each as wide as its headers, and state that is JSON;
- reads nothing new on a second run with the state it saved;
- carries on from the stored state after a restart (a new process, a new connector);
- fails ``check()`` at once on a bad credential, naming the source and what to do, and
  the ``harvest sync`` command says so with no traceback;
- retries a 429 and a dropped connection (connectors that read over HTTP);
- is fine with an empty source.

To run it on a connector, write a :class:`Harness` (its fake API, records added, access
refused, a request failed) and subclass :class:`ConnectorContract` in a test module::

    class TestLunchClub(ConnectorContract):
        harnesses = {"lunch_club_api": LunchClubHarness}

pytest then runs every test below once per harness (docs/connectors/writing.md).
"""

from __future__ import annotations

import builtins
import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from harvest.config import load_config
from harvest.connectors.base import Connector, Problem, Row, Table
from harvest.errors import AuthError, HarvestError
from harvest.secrets import TokenStore
from harvest.sync import SourceResult, sync
from harvest.testing.fake_api import FakeServer

PEOPLE = [
    ("Ann", "Lee", "NW1 2AB"),
    ("Bob", "Smith", "SW1A 1AA"),
    ("Cat", "Khan", "E1 6AN"),
    ("Dev", "Patel", "M14 5TQ"),
    ("Eve", "Jones", "LS1 4AP"),
    ("Fay", "Brown", "B1 1AA"),
]  # first name, surname, postcode: what a harness puts in its source, in this order


class Harness:
    """One connector against its fake: a source of ``type`` that starts with no records.

    Subclasses start the fake in :meth:`start` (and set ``fake``, a
    :class:`~harvest.testing.fake_api.FakeServer`, when the connector reads over HTTP)
    and say how to add records, refuse access and find the records' requests."""

    type: ClassVar[str]  # the connector's source type
    http: ClassVar[bool] = True  # reads over HTTP (so 429s and dropped connections apply)
    refused: ClassVar[builtins.type[HarvestError]] = (
        AuthError  # what check() raises once access goes
    )
    todo: ClassVar[str]  # what that message tells a person to do, e.g. "run `harvest auth x`"
    name = "contract"  # the source's name in harvest.yaml

    def __init__(self, folder: Path, tokens: TokenStore, monkeypatch: pytest.MonkeyPatch):
        self.folder, self.tokens, self.monkeypatch = folder, tokens, monkeypatch
        self.added = 0
        self.fake: FakeServer | None = None

    def __enter__(self) -> Harness:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fake is not None:
            self.fake.stop()

    def start(self) -> None:
        """Start the fake with the source there but empty, and the credential in place."""

    def options(self) -> dict[str, Any]:
        """The source's options in harvest.yaml."""
        raise NotImplementedError

    def add(self, n: int) -> None:
        """Put ``n`` new records in the source (the next people of :data:`PEOPLE`)."""
        people = [PEOPLE[(self.added + i) % len(PEOPLE)] for i in range(n)]
        self.added += n
        self.put(people)

    def put(self, people: list[tuple[str, str, str]]) -> None:
        raise NotImplementedError

    def refuse_access(self) -> None:
        """Make the credential bad (or, for a connector with none, the source unreachable)."""
        raise NotImplementedError

    def data_path(self) -> str:
        """The path (or its start) of the requests that read the source's records."""
        raise NotImplementedError

    def fail_next(self, kind: str) -> str:
        """Make the next request for the records fail as ``kind`` ("429", "drop"); its path."""
        assert self.fake is not None, "a harness of an HTTP connector sets fake in start()"
        path = self.data_path()
        self.fake.fail(path, kind, retry_after="0.01" if kind == "429" else None)
        return path

    def source(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "options": self.options()}

    def config(self) -> Path:
        """harvest.yaml with this one source (written afresh: options may have changed)."""
        path = self.folder / "harvest.yaml"
        data = {"organisation": "Contract Trust", "sources": [self.source()]}
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return path

    def connector(self) -> Connector:
        """A new connector for the source, made as a sync makes it."""
        config = load_config(self.config())
        return config.connector(config.sources[0])

    def sync(self) -> SourceResult:
        [result] = sync(load_config(self.config())).sources
        return result

    def read(self, state: dict[str, Any] | None = None) -> tuple[list[Table], list[Problem], Any]:
        """What a new connector yields from ``state`` (its rows read to the end), and the
        state it leaves."""
        connector = self.connector()
        connector.check()
        tables, problems = [], []
        for item in connector.fetch(state or {}):
            if isinstance(item, Table):
                item.rows = list(item.rows)
                tables.append(item)
            elif isinstance(item, Problem):
                problems.append(item)
        return tables, problems, connector.state

    def stored_state(self) -> dict[str, Any]:
        """The state the last sync stored for the source."""
        found = _query(self.folder / "harvest.db", "SELECT state FROM source_state")
        return json.loads(found[0][0])


def all_rows(tables: list[Table]) -> list[Row]:
    return [row for t in tables for row in t.rows]


def row_keys(tables: list[Table]) -> list[str]:
    """Each row's key: the source's own record id, or where the row is."""
    found = []
    for t in tables:
        at = t.headers.index(t.id_column) if t.id_column else None
        for row in t.rows:
            found.append(f"{t.key}|{row.values[at] if at is not None else row.number}")
    return found


def harvest_command() -> list[str]:
    """The ``harvest`` command installed beside the Python running the tests."""
    return [str(Path(sys.executable).with_name("harvest"))]


class ConnectorContract:
    """The contract's tests; subclass it in a test module and set ``harnesses``."""

    harnesses: ClassVar[dict[str, type[Harness]]] = {}

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "harness_type" in metafunc.fixturenames:
            http_only = getattr(metafunc.function, "http_only", False)
            types = [t for t, h in self.harnesses.items() if h.http or not http_only]
            metafunc.parametrize("harness_type", sorted(types))

    @pytest.fixture
    def harness(
        self, harness_type: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> Iterator[Harness]:
        monkeypatch.setenv("HARVEST_SECRETS_FILE", str(tmp_path / "secrets.json"))
        with self.harnesses[harness_type](tmp_path, TokenStore(), monkeypatch) as h:
            yield h

    def test_rows_have_unique_keys_and_the_state_is_json(self, harness: Harness) -> None:
        harness.add(3)  # more than a page of a fake that pages two at a time
        tables, problems, state = harness.read()
        assert [p for p in problems if p.fatal] == []
        assert len(all_rows(tables)) == 3
        for t in tables:
            assert all(t.headers) and len(set(t.headers)) == len(t.headers), t.headers
            assert all(len(r.values) == len(t.headers) for r in t.rows)
        keys = row_keys(tables)
        assert len(set(keys)) == len(keys), Counter(keys).most_common(2)
        assert state and json.loads(json.dumps(state)) == state

    def test_a_second_run_with_the_saved_state_reads_nothing_new(self, harness: Harness) -> None:
        harness.add(3)
        first = harness.sync()
        assert (first.status, first.counts.new) == ("ok", 3), first.messages
        again = harness.sync()
        assert again.status == "ok", again.messages
        assert (again.counts.new, again.counts.changed) == (0, 0)
        tables, _, _ = harness.read(harness.stored_state())  # the connector alone, too
        assert set(row_keys(tables)) <= set(row_keys(harness.read()[0]))

    def test_the_state_survives_a_restart(self, harness: Harness) -> None:
        harness.add(2)
        assert harness.sync().counts.new == 2
        harness.add(1)
        done = subprocess.run(
            [*harvest_command(), "sync", "--config", str(harness.config()), "--no-progress"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        last = "SELECT status, rows_new, rows_changed FROM source_runs ORDER BY id DESC LIMIT 1"
        # Only the one added since: the new process carried on from the stored state.
        assert _query(harness.folder / "harvest.db", last) == [("ok", 1, 0)]

    def test_check_fails_fast_and_clearly_on_a_bad_credential(self, harness: Harness) -> None:
        harness.add(1)
        harness.refuse_access()
        before = len(harness.fake.requests) if harness.fake else 0
        with pytest.raises(HarvestError) as caught:
            harness.connector().check()
        assert isinstance(caught.value, harness.refused), repr(caught.value)
        message = str(caught.value)
        assert f"'{harness.name}'" in message and harness.todo in message, message
        if harness.fake:  # at once: no request was tried twice
            tried = [(r.method, r.path) for r in harness.fake.requests[before:]]
            assert len(tried) == len(set(tried)), tried
        done = subprocess.run(
            [*harvest_command(), "sync", "--config", str(harness.config()), "--no-progress"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        said = " ".join((done.stdout + done.stderr).split())
        assert done.returncode == 1 and harness.todo in said and "Traceback" not in said, said

    @pytest.mark.parametrize("kind", ["429", "drop"])
    def test_a_429_and_a_dropped_connection_are_retried(self, harness: Harness, kind: str) -> None:
        harness.add(3)
        path = harness.fail_next(kind)
        result = harness.sync()
        assert (result.status, result.counts.new) == ("ok", 3), result.messages
        assert harness.fake is not None
        assert len(harness.fake.calls(path)) >= 2  # the failed request, and the one that worked

    test_a_429_and_a_dropped_connection_are_retried.http_only = True  # type: ignore[attr-defined]

    def test_an_empty_source_is_fine(self, harness: Harness) -> None:
        tables, problems, state = harness.read()
        assert all_rows(tables) == []
        assert [p for p in problems if p.fatal] == []
        assert json.loads(json.dumps(state)) == state
        first = harness.sync()
        assert (first.status, first.counts.read) == ("ok", 0), first.messages
        harness.add(2)  # what the empty source saved does not hide what comes later
        later = harness.sync()
        assert (later.status, later.counts.new) == ("ok", 2), later.messages


def _query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()
