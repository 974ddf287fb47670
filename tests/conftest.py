"""Shared fixtures: a project folder with a harvest.yaml, files written for real, and the store."""

from __future__ import annotations

import csv
import os
import re
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

from harvest.config import load_config
from harvest.secrets import TokenStore
from harvest.sync import SourceResult, sync

pytest_plugins = ["fakes.google_fixtures"]

# Hypothesis: failures found are kept in the repository (tests/.hypothesis-examples) so that
# every run, CI's included, replays them first. `make test` uses the short "ci" budget;
# `make soak` sets HYPOTHESIS_PROFILE=soak for a long one (see docs/testing.md).
EXAMPLES = DirectoryBasedExampleDatabase(str(Path(__file__).parent / ".hypothesis-examples"))
settings.register_profile(
    "ci",
    database=EXAMPLES,
    deadline=None,
    max_examples=10,
    stateful_step_count=20,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "soak", settings.get_profile("ci"), max_examples=100, stateful_step_count=40
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def write_csv(
    path: Path, rows: list[list[Any]], encoding: str = "utf-8", delimiter: str = ","
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding=encoding) as fh:
        csv.writer(fh, delimiter=delimiter).writerows(rows)
    return path


def write_config(folder: Path, sources: list[dict[str, Any]], **extra: Any) -> Path:
    data = {"organisation": "Test Trust", "database": "harvest.db", "sources": sources, **extra}
    path = folder / "harvest.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def query(db_path: Path, sql: str, params: tuple = ()) -> list[tuple]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def scalar(db_path: Path, sql: str, params: tuple = ()) -> Any:
    return query(db_path, sql, params)[0][0]


def run(project: Path, *sources: dict[str, Any], **kw: Any) -> list[SourceResult]:
    """Sync these sources, written as the project's harvest.yaml: each one's result."""
    return sync(load_config(write_config(project, list(sources))), **kw).sources


def snapshot(db_path: Path, columns: dict[str, str] | None = None) -> dict[str, list[tuple]]:
    """Every table's rows, but the log of runs; ``columns`` picks a table's columns to compare."""
    columns = columns or {}
    tables = [
        t
        for (t,) in query(db_path, "SELECT name FROM sqlite_master WHERE type = 'table'")
        if not t.endswith("_runs")
    ]
    return {
        t: query(db_path, f"SELECT {columns.get(t, '*')} FROM [{t}] ORDER BY 1") for t in tables
    }


# Publish settings that let every person count in funders.db, for tests of what a
# publish or an erasure changes on a handful of people (the defaults hide them all).
EVERY_FIGURE = {
    "suppress_below": 1,
    "round_to": 1,
    "special_suppress_below": 1,
    "min_population": 1,
}


def funders_figures(path: Path) -> dict[str, list[tuple]]:
    """Every table of a funders.db, but the moment it was published and each source's last
    sync (a sync with nothing new does not publish again)."""
    tables = snapshot(path)
    tables["coverage"] = [r[:-1] for r in tables.get("coverage", [])]
    tables["about"] = [r for r in tables.get("about", []) if r[0] != "published_at"]
    return tables


def fresh_figures(config_path: Path, folder: Path) -> dict[str, list[tuple]]:
    """What a publish of the store as it is now would put in funders.db, with the same key:
    funders.db is up to date (an erased person is out of it) when it holds the same."""
    from harvest.publish.funders import publish_funders

    cfg = load_config(config_path)
    folder.mkdir(parents=True, exist_ok=True)
    cfg.publish.funders_database = str(folder / "fresh-funders.db")
    publish_funders(cfg, TokenStore())
    return funders_figures(folder / "fresh-funders.db")


# --- real servers (Datasette) started by tests -------------------------------------


def ctrl_c_works() -> None:
    """For ``Popen(preexec_fn=...)``: a child that Ctrl-C (SIGINT) stops, as at a terminal.
    A test run started in the background inherits SIGINT ignored, and Python keeps it so."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(proc: subprocess.Popen, url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"Datasette exited with code {proc.returncode} before starting")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"Datasette did not answer at {url} within {timeout} seconds")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def serving(
    args: list[str], port: int, env: dict[str, str] | None = None, ready: str = "/-/login"
) -> Iterator[str]:
    """Run a server (Datasette, or harvest running it) on ``port``; yield its base URL once
    ``ready`` answers; always stop it."""
    proc = subprocess.Popen(
        args,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=ctrl_c_works,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(proc, base + ready)
        yield base
    finally:
        stop(proc)


def post_login(client: httpx.Client, name: str, password: str, **headers: str) -> httpx.Response:
    """Fill in and send the login form (with its CSRF token); the response, as it comes."""
    token = re.search(r'name="csrftoken" value="([^"]+)"', client.get("/-/login").text)
    assert token, "no login form"
    form = {"username": name, "password": password, "csrftoken": token.group(1)}
    return client.post("/-/login", data=form, headers=headers)


def login(base: str, name: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=10)
    response = post_login(client, name, password)
    assert response.status_code == 302 and "ds_actor" in client.cookies
    return client


@pytest.fixture(autouse=True)
def private_token_store(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Every test (and every subprocess it starts) gets its own token store, never ~/.config.

    Its path is the fixture's value. A module-scoped fixture runs before this one, so one that
    needs a token store sets ``HARVEST_SECRETS_FILE`` itself.
    """
    path = tmp_path_factory.mktemp("secrets") / "secrets.json"
    monkeypatch.setenv("HARVEST_SECRETS_FILE", str(path))
    return path


@pytest.fixture
def token_store(private_token_store: Path) -> TokenStore:
    """The test's own token store (at ``private_token_store``), opened as harvest opens it."""
    return TokenStore()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def signup_rows() -> list[list[str]]:
    return [
        ["First name", "Surname", "Phone", "Postcode", "Date of birth", "Email"],
        ["Bob", "Smith", "07700 900123", "nw12ab", "02/03/1961", "bob@example.org"],
        ["Alice", "Jones", "07700900124", "M14 5TQ", "1970-05-06", "ALICE@example.org"],
        ["Carol", "Brown", "020 7946 0001", "SW1A1AA", "3/4/85", ""],
    ]


@pytest.fixture
def lunch_source() -> Callable[..., dict[str, Any]]:
    def make(path: str = "lunch.csv", **extra: Any) -> dict[str, Any]:
        return {
            "name": "lunch",
            "type": "file",
            "options": {"path": path},
            "constants": {"activity": "Lunch club"},
            **extra,
        }

    return make
