"""Scripting harvest: ``--json`` on sync, check, audit and users list; ``--quiet``;
``python -m harvest``. Through the real command (typer's runner, and once a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import write_config, write_csv
from typer.testing import CliRunner

from harvest.cli import app

runner = CliRunner()
HEADER = ["First name", "Surname", "Email", "Date of birth"]
ROWS = [
    ["Ann", "Lee", "ann@example.org", "01/02/1950"],
    ["Raj", "Patel", "not an email", "05/06/1977"],
    ["Bea", "Khan", "bea@example.org", "31/02/1980"],
]
SOURCE = {"name": "list", "type": "file", "options": {"path": "list.csv"}}


def _project(project: Path) -> Path:
    write_csv(project / "list.csv", [HEADER, *ROWS])
    return write_config(project, [SOURCE])


def _json(*args: str, code: int = 0) -> dict:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.stdout + result.stderr
    return json.loads(result.stdout)  # the whole of stdout is one JSON document


def test_sync_json_counts_each_source_and_a_second_run_reads_nothing_new(project: Path) -> None:
    cfg = str(_project(project))
    first = _json("sync", "--json", "-c", cfg)
    assert first["exit_code"] == 0 and first["run_id"] >= 1
    (source,) = first["sources"]
    assert {k: source[k] for k in ("name", "status", "read", "new", "changed")} == {
        "name": "list",
        "status": "ok",  # bad values are kept and counted, the source still synced
        "read": 3,
        "new": 3,
        "changed": 0,
    }
    assert source["problems"] == 2  # the email and the 31st of February
    assert first["matching"]["people"] == 3 and first["matching"]["error"] is None
    assert set(first) == {
        "run_id",
        "exit_code",
        "sources",
        "matching",
        "published",
        "publish_error",
        "retention",
        "erasures",
    }
    again = _json("sync", "--json", "-c", cfg)
    assert (again["sources"][0]["read"], again["sources"][0]["new"]) == (0, 0)  # file unchanged
    assert again["run_id"] > first["run_id"]


def test_sync_json_reports_a_failed_source_with_exit_code_1(project: Path) -> None:
    cfg = write_config(project, [{**SOURCE, "options": {"path": "missing.csv"}}])
    result = _json("sync", "--json", "-c", str(cfg), code=1)
    (source,) = result["sources"]
    assert source["status"] == "failed" and result["exit_code"] == 1
    assert any("missing.csv" in m for m in source["messages"])


def test_check_json_lists_each_source_with_its_problems(project: Path) -> None:
    cfg = str(_project(project))
    assert runner.invoke(app, ["sync", "-c", cfg]).exit_code == 0
    (checked,) = _json("check", "--json", "-c", cfg)["sources"]
    assert checked["source"] == "list" and checked["records"] == 3
    assert checked["last_run"]["status"] is not None
    problems = {p["field"]: p for p in checked["problems"]}
    assert problems["email"]["count"] == 1
    assert problems["email"]["examples"][0]["value"] == "not an email"
    assert checked["problem_count"] == sum(p["count"] for p in checked["problems"])


def test_audit_json_has_the_sync_entry_with_counts_only(project: Path) -> None:
    cfg = str(_project(project))
    assert runner.invoke(app, ["sync", "-c", cfg]).exit_code == 0
    entries = _json("audit", "--json", "-c", cfg)["entries"]
    sync_entry = next(e for e in entries if e["action"] == "sync")
    assert set(sync_entry) == {"id", "at", "action", "command", "user", "counts"}
    assert isinstance(sync_entry["counts"], dict) and sync_entry["counts"]
    assert "ann@example.org" not in json.dumps(entries)


def test_users_list_json_names_and_roles_never_the_password(project: Path) -> None:
    cfg = str(_project(project))
    assert _json("users", "list", "--json", "-c", cfg) == {"users": []}
    added = runner.invoke(
        app,
        ["users", "add", "fiona", "--role", "funder", "--password-stdin", "-c", cfg],
        input="s3cret-pass-123\n",
    )
    assert added.exit_code == 0, added.output
    listed = runner.invoke(app, ["users", "list", "--json", "-c", cfg])
    assert json.loads(listed.stdout) == {"users": [{"name": "fiona", "role": "funder"}]}
    assert "s3cret" not in listed.stdout and "$" not in listed.stdout  # no hash either


def test_quiet_prints_nothing_but_errors(project: Path) -> None:
    cfg = str(_project(project))
    loud = runner.invoke(app, ["sync", "-c", cfg])
    assert "list:" in loud.stdout  # the per-source summary a person sees
    quiet = runner.invoke(app, ["--quiet", "sync", "-c", cfg])
    assert quiet.exit_code == 0 and quiet.stdout == "" and quiet.stderr == ""
    wrong = runner.invoke(app, ["-q", "sync", "-c", str(project / "nowhere.yaml")])
    assert wrong.exit_code == 2 and wrong.stdout == ""
    assert "Error:" in wrong.stderr and "nowhere.yaml" in wrong.stderr
    after = runner.invoke(app, ["sync", "-c", cfg])  # --quiet lasts one command only
    assert "list:" in after.stdout


def test_quiet_json_sync_as_a_subprocess_prints_only_the_document(project: Path) -> None:
    cfg = _project(project)
    done = subprocess.run(
        [sys.executable, "-m", "harvest", "--quiet", "sync", "--json", "-c", str(cfg)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=project,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["sources"][0]["read"] == 3
    assert done.stderr == ""
