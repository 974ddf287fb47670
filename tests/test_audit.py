"""The audit trail: append-only, written by each operation, counts and never personal data."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import typer
from conftest import query, write_config, write_csv
from typer.testing import CliRunner

from harvest import audit, store
from harvest.cli import app
from harvest.cli import privacy as cli_privacy
from harvest.config import load_config
from harvest.people import review
from harvest.sync import sync

runner = CliRunner()


def test_entries_are_appended_and_can_never_be_changed(tmp_path: Path) -> None:
    db = store.connect(tmp_path / "harvest.db")
    audit.record(db, "sync", {"rows_read": 3, "sources": ["lunch"]}, command="sync", user="ann")
    audit.record(db, "publish", {"people": 2})
    [latest, first] = audit.entries(db)
    assert (first.action, first.user, first.counts) == (
        "sync",
        "ann",
        {"rows_read": 3, "sources": ["lunch"]},
    )
    assert latest.action == "publish" and latest.user and latest.at
    for sql in ("UPDATE audit_runs SET user = 'someone else'", "DELETE FROM audit_runs"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute(sql)
    with pytest.raises(TypeError):
        audit.record(db, "forget", {"email": "bob@example.org"})  # type: ignore[dict-item]
    assert [e.action for e in audit.entries(db, action="sync")] == ["sync"]
    db.conn.close()


def test_sync_publish_users_and_review_are_audited_without_personal_data(
    project: Path, signup_rows, lunch_source
) -> None:
    write_csv(project / "lunch.csv", signup_rows)
    cfg = write_config(project, [lunch_source()])
    sync(load_config(cfg))
    assert runner.invoke(app, ["publish", "-c", str(cfg)]).exit_code == 0
    added = runner.invoke(
        app,
        ["users", "add", "fiona", "--role", "funder", "--password-stdin", "-c", str(cfg)],
        input="s3cret-pass\n",
    )
    assert added.exit_code == 0, added.output
    assert runner.invoke(app, ["users", "remove", "fiona", "-c", str(cfg)]).exit_code == 0
    db = store.connect(project / "harvest.db")
    side = review.Side(1, "lunch", "lunch.csv", 2, {})
    review.decide(db, review.Pair("1:2", 0.6, "review", [], side, side), "different", "ann", "test")
    review.undo(db)
    db.conn.close()
    rows = query(
        project / "harvest.db", "SELECT action, command, counts FROM audit_runs ORDER BY id"
    )
    assert [r[0] for r in rows] == [
        "sync",
        "publish",
        "users.add",
        "users.remove",
        "review.different",
        "review.undo",
    ]
    assert json.loads(rows[0][2])["rows_new"] == 3
    text = json.dumps(rows).lower()
    for value in ("bob", "smith", "alice", "07700", "example.org", "fiona", "s3cret"):
        assert value not in text
    privacy = typer.Typer()
    cli_privacy.register(privacy)
    out = runner.invoke(privacy, ["audit", "--action", "users", "-c", str(cfg)])
    assert out.exit_code == 0 and "users.add" in out.output and "sync" not in out.output


def test_entries_written_while_acting_as_someone_name_them(tmp_path: Path) -> None:
    db = store.connect(tmp_path / "harvest.db")
    with audit.acting_as("ann"):
        audit.record(db, "review.same", {"decisions": 1})
        audit.record(db, "sync", {"rows_read": 1}, user="cron")  # an explicit user wins
    audit.record(db, "publish", {"people": 2})
    assert [e.user for e in audit.entries(db, user="ann")] == ["ann"]
    assert audit.entries(db)[0].user == audit.current_user() != "ann"
    assert [e.action for e in audit.entries(db, action="review")] == ["review.same"]
    assert audit.entries(db, since="2999-01-01") == []
    assert audit.actions_and_users(db) == (
        ["publish", "review", "sync"],
        sorted({"ann", "cron", audit.current_user()}),
    )
    db.conn.close()
