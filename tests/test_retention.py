"""Retention: `retention:` settings applied by every sync and by `harvest retention`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from conftest import query, scalar, write_config, write_csv
from typer.testing import CliRunner

from harvest import store
from harvest.cli import privacy as cli_privacy
from harvest.config import load_config
from harvest.dataprotection.retention import (
    BLANKED,
    RetentionConfig,
    retention_config,
    run_retention,
)
from harvest.sync import sync

runner = CliRunner()
app = typer.Typer()
cli_privacy.register(app)
LONG_AGO = "2015-01-01T00:00:00Z"
ROWS = [
    ["First name", "Surname", "Date of birth", "Email"],
    ["Old", "Timer", "1940-01-01", "old@example.org"],
    ["New", "Comer", "1990-01-01", "new@example.org"],
]


@pytest.fixture
def synced(project: Path) -> Path:
    write_csv(project / "lunch.csv", ROWS)
    cfg = write_config(
        project,
        [
            {
                "name": "lunch",
                "type": "file",
                "options": {"path": "lunch.csv"},
                "constants": {"activity": "Lunch club"},
            }
        ],
    )
    sync(load_config(cfg))
    db = project / "harvest.db"
    conn = store.connect(db)
    conn.execute(
        "UPDATE raw_rows SET first_seen = ?, last_seen = ? WHERE id IN ("
        "SELECT id FROM records WHERE given_name = 'Old')",
        [LONG_AGO, LONG_AGO],
    )
    conn.conn.close()
    return cfg


def _with(cfg_path: Path, **rules: float):
    """Write a `retention:` block into harvest.yaml and load it."""
    import yaml

    data = yaml.safe_load(cfg_path.read_text(encoding="utf-8"))
    data["retention"] = rules
    cfg_path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return load_config(cfg_path)


def test_dry_run_says_what_would_go_and_changes_nothing(synced: Path, project: Path) -> None:
    db = store.connect(project / "harvest.db")
    before = list(db.conn.iterdump())
    result = run_retention(db, RetentionConfig(records_years=6), dry_run=True)
    assert (result.records_deleted, result.people_removed) == (1, 1)
    assert "would" in result.summary()
    assert list(db.conn.iterdump()) == before
    db.conn.close()


def test_records_older_than_the_policy_are_deleted_with_their_person(
    synced: Path, project: Path
) -> None:
    db_path = project / "harvest.db"
    db = store.connect(db_path)
    result = run_retention(db, RetentionConfig(records_years=6))
    db.conn.close()
    assert (result.records_deleted, result.people_removed) == (1, 1)
    assert query(db_path, "SELECT given_name FROM people") == [("New",)]
    assert scalar(db_path, "SELECT count(*) FROM attendances") == 1
    counts = json.loads(scalar(db_path, "SELECT counts FROM audit_runs WHERE action='retention'"))
    assert counts["records_deleted"] == 1


def test_raw_rows_past_their_time_are_blanked_and_records_kept(synced: Path, project: Path) -> None:
    db_path = project / "harvest.db"
    db = store.connect(db_path)
    result = run_retention(db, RetentionConfig(raw_rows_years=2))
    db.conn.close()
    assert result.raw_rows_blanked == 1
    assert scalar(db_path, "SELECT count(*) FROM raw_rows WHERE data = ?", (BLANKED,)) == 1
    assert scalar(db_path, "SELECT count(*) FROM records") == 2


def test_people_not_seen_for_years_are_removed(synced: Path, project: Path) -> None:
    db_path = project / "harvest.db"
    db = store.connect(db_path)
    kept = run_retention(db, RetentionConfig(people_unseen_years=20))
    gone = run_retention(db, RetentionConfig(people_unseen_years=3))
    db.conn.close()
    assert kept.people_removed == 0
    assert (gone.people_removed, gone.records_deleted) == (1, 1)
    assert query(db_path, "SELECT given_name FROM records") == [("New",)]


def test_every_sync_applies_the_policy(synced: Path, project: Path) -> None:
    assert retention_config(load_config(synced)).active is False  # none set: keep everything
    result = sync(_with(synced, records_years=6))
    assert result.retention is not None and result.retention.records_deleted == 1
    assert query(project / "harvest.db", "SELECT given_name FROM people") == [("New",)]


def test_the_command_dry_run_and_apply(synced: Path, project: Path) -> None:
    out = runner.invoke(app, ["retention", "--dry-run", "-c", str(synced)])
    assert out.exit_code == 0 and "No retention policy" in out.output
    _with(synced, records_years=6)
    out = runner.invoke(app, ["retention", "--dry-run", "-c", str(synced)])
    assert out.exit_code == 0 and "would" in out.output
    assert scalar(project / "harvest.db", "SELECT count(*) FROM records") == 2
    out = runner.invoke(app, ["retention", "-c", str(synced)])
    assert out.exit_code == 0 and "applied" in out.output
    assert scalar(project / "harvest.db", "SELECT count(*) FROM records") == 1
    assert b"old@example.org" not in (project / "harvest.db").read_bytes()


def test_the_command_never_deletes_while_a_sync_runs(synced: Path, project: Path) -> None:
    from harvest.lock import sync_lock

    _with(synced, records_years=6)
    with sync_lock(project / "harvest.db"):  # a sync is running
        out = runner.invoke(app, ["retention", "-c", str(synced)])
        assert out.exit_code == 3 and "Another harvest sync is already running" in out.output
        assert scalar(project / "harvest.db", "SELECT count(*) FROM records") == 2
        dry = runner.invoke(app, ["retention", "--dry-run", "-c", str(synced)])
        assert dry.exit_code == 0 and "would" in dry.output  # only reads
    out = runner.invoke(app, ["retention", "-c", str(synced)])
    assert out.exit_code == 0 and "applied" in out.output
    assert scalar(project / "harvest.db", "SELECT count(*) FROM records") == 1
