"""The `harvest` command: CliRunner for each command, and real subprocesses for cron's view."""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import typer
import yaml
from conftest import ctrl_c_works, free_port, login, scalar, wait_until_up, write_config, write_csv
from typer.testing import CliRunner

from harvest.cli import app
from harvest.normalise.standard import load_standard

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
HARVEST = [sys.executable, "-m", "harvest"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*HARVEST, *args], capture_output=True, text=True, timeout=120)


def test_every_command_has_help_and_is_documented() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = [(c.name or c.callback.__name__.rstrip("_"), c) for c in app.registered_commands]
    assert len(commands) >= 7
    for name, command in commands:
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0, name
        assert command.callback.__doc__, f"{name} has no help text"
        assert f"harvest {name}" in readme, f"`harvest {name}` is not in the README"


def test_init_writes_a_config_that_loads(tmp_path: Path) -> None:
    target = tmp_path / "harvest.yaml"
    result = runner.invoke(app, ["init", str(target)])
    assert result.exit_code == 0 and target.exists()
    assert yaml.safe_load(target.read_text())["sources"][0]["type"] == "file"
    again = runner.invoke(app, ["init", str(target)])
    assert again.exit_code == 2 and "--force" in again.output


def test_standard_prints_the_dictionary_in_each_format() -> None:
    table = runner.invoke(app, ["standard"])
    assert table.exit_code == 0 and "#person+name+given" in table.output
    csv_out = runner.invoke(app, ["standard", "--format", "csv"])
    assert csv_out.output.splitlines()[0].startswith("name,entity,hashtag,type")
    assert "attendance_status" in csv_out.output
    bad = runner.invoke(app, ["standard", "--format", "pdf"])
    assert bad.exit_code == 2


def test_sync_and_check_through_the_cli(project, signup_rows, lunch_source) -> None:
    signup_rows[2][3] = "M1"  # only part of a postcode
    write_csv(project / "lunch.csv", signup_rows)
    cfg = write_config(project, [lunch_source()])
    result = runner.invoke(app, ["sync", "--config", str(cfg), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "lunch: 3 rows read in 1 table(s) — 3 new" in result.output
    check = runner.invoke(app, ["check", "--config", str(cfg)], terminal_width=200)
    assert check.exit_code == 0
    assert "3 current records about 3 people" in check.output
    assert (
        "postcode" in check.output
        and "row 3 of lunch.csv" in check.output
        and "'M1'" in check.output
    )


@pytest.mark.parametrize("command", ["sync", "check", "audit"])
@pytest.mark.parametrize("what", ["another program's file", "a folder"])
def test_a_database_that_is_not_harvests_is_a_plain_error_not_a_traceback(
    project, lunch_source, command: str, what: str
) -> None:
    cfg = write_config(project, [lunch_source()])
    store = project / "harvest.db"
    if what == "a folder":
        store.mkdir()
    else:
        store.write_bytes(b"Minutes of the trustees' meeting\n" * 200)
    before = store.read_bytes() if store.is_file() else None
    result = run(command, "--config", str(cfg))
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "╭" not in result.stderr, result.stderr
    assert f"harvest cannot use its database {store}" in result.stderr
    assert "`database:` in harvest.yaml" in result.stderr
    assert (store.read_bytes() if store.is_file() else None) == before  # nothing overwritten


def test_a_fault_in_harvest_is_a_sentence_on_what_to_do_not_a_traceback() -> None:
    from harvest.cli.common import _run

    faulty = typer.Typer()

    @faulty.command()
    def divide(by: int = 0) -> None:
        _run(lambda: 1 // by)

    @faulty.command()
    def usage() -> None:
        _run(lambda: (_ for _ in ()).throw(typer.BadParameter("not a number")))

    result = CliRunner().invoke(faulty, ["divide"])
    assert result.exit_code == 1
    assert "problem it did not expect (ZeroDivisionError" in result.output
    assert "harvest -v" in result.output and "Traceback" not in result.output
    assert CliRunner().invoke(faulty, ["usage"]).exit_code == 2  # click's own errors pass


def test_bad_config_exits_2_and_syncs_nothing(project) -> None:
    cfg = write_config(project, [{"name": "x", "type": "file", "options": {}}])
    result = run("sync", "--config", str(cfg))
    assert result.returncode == 2
    assert "sources[0].options.path: is required" in result.stderr
    assert not (project / "harvest.db").exists()


def test_map_shows_and_writes_the_mapping_keeping_comments(
    project, signup_rows, lunch_source
) -> None:
    write_csv(
        project / "lunch.csv",
        [r + [n] for r, n in zip(signup_rows, ["Notes", "", "", ""], strict=False)],
    )
    cfg = write_config(project, [lunch_source()])
    cfg.write_text("# my comment\n" + cfg.read_text())
    shown = runner.invoke(app, ["map", "lunch", "--config", str(cfg)], terminal_width=200)
    assert shown.exit_code == 0
    assert re.search(r"First name\s+│\s+given_name\s+│\s+100%", shown.output)
    assert "kept as an extra" in shown.output
    written = runner.invoke(app, ["map", "lunch", "--config", str(cfg), "--write"])
    assert written.exit_code == 0
    text = cfg.read_text()
    assert text.startswith("# my comment")
    saved = yaml.safe_load(text)["sources"][0]["mapping"]
    assert (
        saved["First name"] == "given_name" and saved["Phone"] == "phone" and "Notes" not in saved
    )


def test_demo_syncs_the_bundled_sample_data(tmp_path: Path) -> None:
    result = run("demo", "--no-serve", "--dir", str(tmp_path / "demo"))
    assert result.returncode == 0, result.stdout + result.stderr
    db = tmp_path / "demo" / "harvest.db"
    assert scalar(db, "SELECT count(DISTINCT source) FROM records") == 7
    # The same people appear across lists: fewer people than records.
    assert scalar(db, "SELECT count(*) FROM people") < scalar(db, "SELECT count(*) FROM records")
    assert scalar(db, "SELECT count(*) FROM attendances") > 0
    # Every field of the standard has values, outcomes and score changes included.
    for f in load_standard().fields:
        assert scalar(db, f"SELECT count([{f.name}]) FROM records") > 0, f.name
    assert scalar(db, "SELECT count(*) FROM outcomes WHERE outcome IS NOT NULL") > 0
    assert scalar(db, "SELECT count(*) FROM people WHERE role = 'volunteer'") == 8
    assert scalar(db, "SELECT sum(volunteer_hours) FROM records") > 50
    assert (
        scalar(  # people with a second wellbeing score: a change to report
            db,
            "SELECT count(*) FROM (SELECT person_id FROM outcomes WHERE score IS NOT NULL"
            " GROUP BY person_id HAVING count(*) > 1)",
        )
        > 5
    )


def test_a_second_sync_exits_3_while_the_first_holds_the_lock(project, lunch_source) -> None:
    from harvest.config import load_config
    from harvest.lock import sync_lock

    write_csv(project / "lunch.csv", [["Name"], ["Bob"]])
    cfg = write_config(project, [lunch_source()])
    with sync_lock(load_config(cfg).database_path):
        result = run("sync", "--config", str(cfg))
    assert result.returncode == 3 and "already running" in result.stderr


def test_a_first_sync_with_nothing_in_it_matches_nobody_and_says_so(tmp_path: Path) -> None:
    """`harvest init && harvest sync` in an empty folder, then a form with no responses
    yet: matching says plainly that there is nobody to match, and learns nothing from
    nothing (the first rows get a full match); rows all gone again is no failure either."""
    cfg = tmp_path / "harvest.yaml"
    assert runner.invoke(app, ["init", str(cfg)]).exit_code == 0
    first = runner.invoke(app, ["sync", "-c", str(cfg), "--no-progress"])
    assert first.exit_code == 1  # the starter's source matches no file yet: it failed
    assert "matching: no records yet, so nobody to match" in first.output
    assert "ValueError" not in first.output and "Traceback" not in first.output
    matched = runner.invoke(app, ["match", "-c", str(cfg)])
    assert matched.exit_code == 0, matched.output
    assert matched.output.strip() == "matching: no records yet, so nobody to match"
    header = ["First name", "Surname", "Email"]
    write_csv(tmp_path / "form.csv", [header])
    cfg = write_config(
        tmp_path, [{"name": "form", "type": "file", "options": {"path": "form.csv"}}]
    )
    empty = runner.invoke(app, ["sync", "-c", str(cfg), "--no-progress"])
    assert empty.exit_code == 0, empty.output
    assert "matching: no records yet, so nobody to match" in empty.output
    write_csv(tmp_path / "form.csv", [header, ["Ann", "Lee", "ann@example.org"]])
    os.utime(tmp_path / "form.csv", ns=(time.time_ns(), time.time_ns() + 10**9))
    landed = runner.invoke(app, ["sync", "-c", str(cfg), "--no-progress"])
    assert landed.exit_code == 0 and "matching (full): 1 records are 1 people" in landed.output
    write_csv(tmp_path / "form.csv", [header])  # every response deleted
    os.utime(tmp_path / "form.csv", ns=(time.time_ns(), time.time_ns() + 2 * 10**9))
    gone = runner.invoke(app, ["sync", "-c", str(cfg), "--no-progress"])
    assert gone.exit_code == 0 and "FAILED" not in gone.output, gone.output
    assert runner.invoke(app, ["match", "--full", "-c", str(cfg)]).exit_code == 0


def _big_csv(path: Path, n: int) -> None:
    with path.open("w", encoding="utf-8") as fh:
        fh.write("ID,First name,Surname,Phone,Postcode,Date of birth\n")
        for i in range(n):
            fh.write(
                f"{i},Name{i},Family{i % 977},07700 9{i % 100000:05d},NW1 {i % 9}AB,0{1 + i % 9}/03/19{50 + i % 50}\n"
            )


def test_sigkill_part_way_through_loses_and_duplicates_nothing(project, signup_rows) -> None:
    write_csv(project / "small.csv", signup_rows)
    _big_csv(project / "big.csv", 60_000)
    cfg = write_config(
        project,
        [
            {"name": "small", "type": "file", "options": {"path": "small.csv"}},
            {"name": "big", "type": "file", "options": {"path": "big.csv"}},
        ],
    )
    db = project / "harvest.db"
    proc = subprocess.Popen(
        [*HARVEST, "sync", "--config", str(cfg), "--no-progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:  # wait until the big source has started landing
        if "big: syncing" in line:
            break
    wal = db.with_name(db.name + "-wal")
    deadline = time.time() + 60
    while time.time() < deadline and (not wal.exists() or wal.stat().st_size < 2_000_000):
        time.sleep(0.01)
    assert proc.poll() is None, "the sync finished before it could be killed; make the file bigger"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM raw_rows WHERE source = 'small'").fetchone()[0] == 3
    assert conn.execute("SELECT count(*) FROM raw_rows WHERE source = 'big'").fetchone()[0] == 0
    conn.close()
    again = run("sync", "--config", str(cfg), "--no-progress")
    assert again.returncode == 0, again.stdout + again.stderr
    assert scalar(db, "SELECT count(*) FROM raw_rows WHERE source = 'big'") == 60_000
    assert (
        scalar(db, "SELECT count(DISTINCT source_key) FROM records WHERE source = 'big'") == 60_000
    )
    assert scalar(db, "SELECT count(*) FROM raw_rows WHERE source = 'small'") == 3
    assert scalar(db, "SELECT count(*) FROM attendances") == 0
    conn = sqlite3.connect(db)  # the killed run is not left "running" for ever
    runs = conn.execute("SELECT status FROM sync_runs ORDER BY id").fetchall()
    conn.close()
    assert runs == [("interrupted",), ("ok",)]


def test_serve_on_a_port_in_use_says_so_without_claiming_to_serve(
    project, signup_rows, lunch_source
) -> None:
    write_csv(project / "lunch.csv", signup_rows)
    cfg = write_config(project, [lunch_source()])
    assert runner.invoke(app, ["sync", "-c", str(cfg), "--no-progress"]).exit_code == 0
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        for args in (["serve"], ["serve", "--funders"], ["publish", "--serve"]):
            result = runner.invoke(app, [*args, "-c", str(cfg), "--port", port])
            assert result.exit_code == 1, (args, result.output)
            assert f"port {port} is in use" in result.output
            assert "Serving" not in result.output, args


@pytest.mark.parametrize("args", [["--help"], ["sync", "--help"], ["--version"]])
def test_real_subprocess_runs(args: list[str]) -> None:
    result = run(*args)
    assert result.returncode == 0 and result.stdout


def test_demo_serves_the_store_and_funder_view_with_printed_logins(tmp_path: Path) -> None:
    import httpx

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [*HARVEST, "demo", "--dir", str(tmp_path / "demo"), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=ctrl_c_works,
    )
    assert proc.stdout is not None
    logins: dict[str, tuple[str, str]] = {}
    seen = []
    try:
        for line in proc.stdout:
            seen.append(line)
            found = re.search(r"(funder|staff): user (\S+)\s+password (\S+)", line)
            if found:
                logins[found.group(1)] = (found.group(2), found.group(3))
            if len(logins) == 2:
                break
        assert set(logins) == {"funder", "staff"}
        wait_until_up(proc, base + "/-/login", timeout=60)
        assert httpx.get(base + "/harvest/people_per_month").status_code == 302  # log in first
        staff = login(base, *logins["staff"])
        rows = staff.get("/harvest/attendances_by_activity.json?_shape=array").json()
        assert {r["activity"] for r in rows} >= {"Lunch club", "Youth club", "Food bank"}
        assert "People reached each month" in staff.get("/harvest/people_per_month").text
        funder = login(base, *logins["funder"])
        assert funder.get("/harvest/records").status_code == 403
        assert funder.get("/funders").headers["location"] == "/dashboard/tables"
        assert funder.get("/").headers["location"] == "/dashboard"  # lands on the overview
        assert funder.get("/dashboard").status_code == 200
        staff.close()  # no open connections for Datasette to wait on when it stops
        funder.close()
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert f"Browse at {base}/" in "".join(seen) + out


def test_progress_bar_mode_still_prints_one_summary_line_per_source(
    project, signup_rows, lunch_source
) -> None:
    write_csv(project / "lunch.csv", signup_rows)
    cfg = write_config(project, [lunch_source()])
    result = runner.invoke(app, ["sync", "--config", str(cfg), "--progress"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert result.output.count("lunch: 3 rows read") == 1
    assert "syncing" not in result.output  # the plain cron lines are not used


def test_python_dash_m_harvest_is_the_harvest_command() -> None:
    from harvest import __version__

    done = run("--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"harvest {__version__}"
    assert "harvest sync" in run("--help").stdout
