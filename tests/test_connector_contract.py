"""The connector contract: one suite that every registered connector passes, each against
its own local fake API (like the Singer SDK's standard tap tests).

A connector

- yields rows with unique keys, each as wide as its headers, and state that is JSON;
- reads nothing new on a second run with the state it saved;
- carries on from the stored state after a restart (a new process, a new connector);
- fails ``check()`` at once on a bad credential, naming the source and what to do;
- retries a 429 and a dropped connection (connectors that read over HTTP);
- is fine with an empty source.

The harnesses (tests/connector_contract.py) run the fakes; the example outside connector
(tests/example_connector) is installed with pip for this module and passes the same suite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import query, write_config
from connector_contract import EXAMPLE, HARNESSES, Harness, harvest_command, install
from typer.testing import CliRunner

from harvest.cli import app
from harvest.config import load_config
from harvest.connectors import registry
from harvest.connectors.base import Connector, Problem, Table
from harvest.errors import HarvestError
from harvest.sync import SourceResult, sync


@pytest.fixture(scope="module")
def example_installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The example outside connector, pip-installed into a folder on sys.path (and on
    PYTHONPATH for the processes the tests start) for this module only."""
    target = install(EXAMPLE, tmp_path_factory.mktemp("outside") / "site")
    sys.path.insert(0, str(target))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(
            "PYTHONPATH", os.pathsep.join(filter(None, [str(target), os.environ.get("PYTHONPATH")]))
        )
        yield target
    sys.path.remove(str(target))
    registry._LOADED.pop("example_signins", None)


@pytest.fixture(params=sorted(HARNESSES))
def harness(
    request: pytest.FixtureRequest,
    example_installed: Path,
    tmp_path: Path,
    token_store,
    monkeypatch,
) -> Iterator[Harness]:
    with HARNESSES[request.param](tmp_path, token_store, monkeypatch) as h:
        yield h


def config_path(h: Harness) -> Path:
    return write_config(h.folder, [h.source()])


def new_connector(h: Harness) -> Connector:
    config = load_config(config_path(h))
    return config.connector(config.sources[0])


def run(h: Harness) -> SourceResult:
    [result] = sync(load_config(config_path(h))).sources
    return result


def read(h: Harness, state: dict[str, Any] | None = None) -> tuple[list[Table], list[Problem], Any]:
    """Everything the connector yields from ``state`` (rows read to the end), and its state."""
    connector = new_connector(h)
    connector.check()
    tables, problems = [], []
    for item in connector.fetch(state or {}):
        if isinstance(item, Table):
            item.rows = list(item.rows)
            tables.append(item)
        elif isinstance(item, Problem):
            problems.append(item)
    return tables, problems, connector.state


def keys(tables: list[Table]) -> list[str]:
    """Each row's key: the source's own record id, or where the row is."""
    found = []
    for t in tables:
        at = t.headers.index(t.id_column) if t.id_column else None
        for row in t.rows:
            found.append(f"{t.key}|{row.values[at] if at is not None else row.number}")
    return found


def test_every_registered_connector_has_a_harness(example_installed):
    assert set(registry.connector_names()) == set(HARNESSES)
    assert registry.connector_entries()["example_signins"].package == "harvest-example-connector"


def test_rows_have_unique_keys_and_the_state_is_json(harness):
    harness.add(3)  # more than a page of each fake API
    tables, problems, state = read(harness)
    assert [p for p in problems if p.fatal] == []
    rows = [r for t in tables for r in t.rows]
    assert len(rows) == 3
    assert all(len(r.values) == len(t.headers) for t in tables for r in t.rows)
    assert all(len(set(t.headers)) == len(t.headers) and all(t.headers) for t in tables)
    found = keys(tables)
    assert len(set(found)) == len(found), Counter(found).most_common(2)
    assert json.loads(json.dumps(state)) == state and state


def test_a_second_run_with_the_saved_state_reads_nothing_new(harness):
    harness.add(3)
    first = run(harness)
    assert (first.status, first.counts.new) == ("ok", 3), first.messages
    again = run(harness)
    assert again.status == "ok", again.messages
    assert (again.counts.new, again.counts.changed) == (0, 0)
    tables, _, _ = read(harness, _stored_state(harness))  # the connector alone, too
    assert set(keys(tables)) <= set(keys(read(harness)[0]))


def test_the_state_survives_a_restart(harness):
    harness.add(2)
    assert run(harness).counts.new == 2
    harness.add(1)
    done = subprocess.run(
        [*harvest_command(), "sync", "--config", str(config_path(harness)), "--no-progress"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    [(status, new, changed)] = query(
        harness.folder / "harvest.db",
        "SELECT status, rows_new, rows_changed FROM source_runs ORDER BY id DESC LIMIT 1",
    )
    assert (status, new, changed) == ("ok", 1, 0)  # only the one added since: from the state


def test_check_fails_fast_and_clearly_on_a_bad_credential(harness):
    harness.add(1)
    harness.refuse_access()
    before = len(harness.fake.requests) if harness.fake else 0
    connector = new_connector(harness)
    with pytest.raises(HarvestError) as caught:
        connector.check()
    assert isinstance(caught.value, harness.refused)
    message = str(caught.value)
    assert f"'{harness.name}'" in message and harness.todo in message, message
    if harness.fake:  # at once: no request was tried twice
        tried = [(r.method, r.path) for r in harness.fake.requests[before:]]
        assert len(tried) == len(set(tried)), tried
    # And through the command: the same message, no traceback, the exit code of a failure.
    result = CliRunner().invoke(app, ["sync", "--config", str(config_path(harness))])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert harness.todo in " ".join(result.output.split()) and "Traceback" not in result.output


@pytest.mark.parametrize(
    "harness", sorted(t for t, h in HARNESSES.items() if h.http), indirect=True
)
@pytest.mark.parametrize("kind", ["429", "drop"])
def test_a_429_and_a_dropped_connection_are_retried(harness, kind):
    harness.add(3)
    path = harness.fail_next(kind)
    result = run(harness)
    assert (result.status, result.counts.new) == ("ok", 3), result.messages
    assert len(harness.fake.calls(path)) >= 2  # the failed request, and the one that worked


def test_an_empty_source_is_fine(harness):
    tables, problems, state = read(harness)
    assert sum(len(t.rows) for t in tables) == 0
    assert [p for p in problems if p.fatal] == []
    assert json.loads(json.dumps(state)) == state
    first = run(harness)
    assert (first.status, first.counts.read) == ("ok", 0), first.messages
    harness.add(2)  # what the empty source saved does not hide what comes later
    later = run(harness)
    assert (later.status, later.counts.new) == ("ok", 2), later.messages


def _stored_state(h: Harness) -> dict[str, Any]:
    [(state,)] = query(h.folder / "harvest.db", "SELECT state FROM source_state")
    return json.loads(state)
