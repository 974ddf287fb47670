"""A sync started from the browser: in a background thread, under the usual lock, its
progress kept for the page and its audit entry in the staff member's name."""

from __future__ import annotations

import time
from pathlib import Path

from conftest import query, write_config, write_csv

from harvest import sync_job
from harvest.config import load_config
from harvest.lock import sync_lock


def _wait(path: Path) -> sync_job.JobState:
    deadline = time.monotonic() + 60
    while sync_job.state(path).running:
        assert time.monotonic() < deadline, "the background sync never finished"
        time.sleep(0.05)
    return sync_job.state(path)


def _lunch(project: Path, rows: list[list[str]]) -> Path:
    write_csv(project / "lunch.csv", rows)
    return write_config(
        project, [{"name": "lunch", "type": "file", "options": {"path": "lunch.csv"}}]
    )


def test_a_background_sync_reports_each_source_and_names_who_started_it(
    project: Path, signup_rows: list[list[str]]
) -> None:
    cfg = _lunch(project, signup_rows)
    assert sync_job.state(cfg).running is False and sync_job.state(cfg).done_at is None
    assert sync_job.start(cfg, "ann")
    job = _wait(cfg)
    assert job.error is None and job.started_by == "ann"
    assert job.rows == {"lunch": 3}
    assert job.finished and job.finished[0].startswith("lunch: 3 rows read")
    db = load_config(cfg).database_path
    assert query(db, "SELECT user FROM audit_runs WHERE action = 'sync'") == [("ann",)]


def test_a_background_sync_gives_way_to_one_already_running(
    project: Path, signup_rows: list[list[str]]
) -> None:
    cfg = _lunch(project, signup_rows)
    with sync_lock(load_config(cfg).database_path):
        assert sync_job.start(cfg, "ann", only="lunch")
        job = _wait(cfg)
    assert job.error and "Another harvest sync is already running" in job.error
    assert job.finished == []
