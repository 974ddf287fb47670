"""Unfinished erasures: `harvest forget` killed part-way (SIGKILL, as a power cut) and
finished by the next command, and `forget` asked for while a sync runs.

Each test runs the real `harvest` command as a subprocess with ``HARVEST_TEST_CRASH_AT``
(a test-only hook, harvest/dataprotection/pending.py) naming the step to die at.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import fresh_figures, funders_figures, query, scalar
from test_forget import SECRETS, make_project

from harvest.config import load_config
from harvest.sync import QuietReporter, sync

HARVEST = [sys.executable, "-m", "harvest.cli"]


def harvest(*args: str, crash_at: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "HARVEST_TEST_CRASH_AT"}
    if crash_at:
        env["HARVEST_TEST_CRASH_AT"] = crash_at
    return subprocess.run([*HARVEST, *args], capture_output=True, text=True, timeout=120, env=env)


@pytest.fixture
def synced(project: Path) -> Path:
    cfg = make_project(project)
    done = harvest("sync", "-c", str(cfg))
    assert done.returncode == 0, done.stdout + done.stderr
    return cfg


def _state(project: Path) -> dict:
    db = project / "harvest.db"
    actions = [a for (a,) in query(db, "SELECT action FROM audit_runs WHERE action LIKE 'forget%'")]
    stored = b"".join(p.read_bytes() for p in project.glob("harvest.db*") if p.is_file())
    return {
        "bart_in_store": b"bart@example.org" in stored,
        "funders": funders_figures(project / "funders.db"),
        "audit": actions,
        "unfinished": scalar(db, "SELECT count(*) FROM erasures WHERE status = 'unfinished'"),
    }


def _funders_clean(project: Path, before: dict) -> None:
    """funders.db was rebuilt from the store without him: what a publish now would give."""
    figures = funders_figures(project / "funders.db")
    assert figures != before
    assert figures == fresh_figures(project / "harvest.yaml", project / "fresh")
    data = b"".join(p.read_bytes() for p in project.glob("*.db*") if p.is_file())
    assert not [s for s in SECRETS if s.lower().encode() in data.lower()]


@pytest.mark.parametrize("step", ["after_commit", "publish", "published"])
def test_a_forget_killed_after_its_commit_is_finished_by_the_next_sync(
    synced: Path, project: Path, step: str
) -> None:
    people = funders_figures(project / "funders.db")
    killed = harvest(
        "forget", "--email", "bart@example.org", "--yes", "-c", str(synced), crash_at=step
    )
    assert killed.returncode == -9, killed.stdout + killed.stderr
    state = _state(project)
    assert state["audit"] == ["forget"] and state["unfinished"] == 1  # not complete
    [counts] = query(
        project / "harvest.db", "SELECT counts FROM audit_runs WHERE action = 'forget'"
    )
    assert json.loads(counts[0])["complete"] is False
    if step != "published":
        assert state["funders"] == people  # he is still published
    again = harvest("sync", "-c", str(synced))  # nothing new to read
    assert again.returncode == 0, again.stdout + again.stderr
    state = _state(project)
    assert state["audit"] == ["forget", "forget.complete"] and state["unfinished"] == 0
    assert not state["bart_in_store"]
    _funders_clean(project, people)


def test_a_forget_killed_before_its_commit_changes_nothing(synced: Path, project: Path) -> None:
    people = funders_figures(project / "funders.db")
    killed = harvest(
        "forget",
        "--email",
        "bart@example.org",
        "--yes",
        "-c",
        str(synced),
        crash_at="before_commit",
    )
    assert killed.returncode == -9, killed.stdout + killed.stderr
    state = _state(project)
    assert state == {"bart_in_store": True, "funders": people, "audit": [], "unfinished": 0}
    done = harvest("forget", "--email", "bart@example.org", "--yes", "-c", str(synced))
    assert done.returncode == 0, done.stdout + done.stderr
    assert _state(project)["audit"] == ["forget", "forget.complete"]
    _funders_clean(project, people)


@pytest.mark.parametrize(
    "command", [["publish"], ["forget", "--email", "alice@example.org", "--yes"]]
)
def test_publish_or_another_forget_finishes_an_unfinished_erasure_first(
    synced: Path, project: Path, command: list[str]
) -> None:
    people = funders_figures(project / "funders.db")
    killed = harvest(
        "forget", "--email", "bart@example.org", "--yes", "-c", str(synced), crash_at="publish"
    )
    assert killed.returncode == -9
    done = harvest(*command, "-c", str(synced))
    assert done.returncode == 0, done.stdout + done.stderr
    assert _state(project)["audit"][:2] == ["forget", "forget.complete"]
    assert _state(project)["unfinished"] == 0
    assert not _state(project)["bart_in_store"]
    if command == ["publish"]:
        _funders_clean(project, people)


class ForgetDuringSync(QuietReporter):
    """Runs `harvest forget` (a real subprocess) while the sync holds its lock."""

    def __init__(self, cfg: Path) -> None:
        self.cfg, self.output = cfg, ""

    def source_started(self, name: str) -> None:
        if not self.output:
            done = harvest("forget", "--email", "bart@example.org", "--yes", "-c", str(self.cfg))
            assert done.returncode == 0, done.stdout + done.stderr
            self.output = done.stdout


def test_an_erasure_asked_for_during_a_sync_is_done_by_that_sync(
    synced: Path, project: Path
) -> None:
    people = funders_figures(project / "funders.db")
    reporter = ForgetDuringSync(synced)
    result = sync(load_config(synced), reporter=reporter)
    assert "queued" in reporter.output and "that sync does it" in reporter.output
    assert result.erasures == 1 and result.exit_code == 0
    state = _state(project)
    assert state["audit"] == ["forget", "forget.complete"] and state["unfinished"] == 0
    assert not state["bart_in_store"]
    _funders_clean(project, people)
    assert not (project / "harvest.db.erasure-queue").exists()  # emptied and removed
