"""Landing at speed keeps every guarantee: a table of new rows cleaned in a child process
lands exactly as in one process, and a failure on the child or on the writer thread
leaves the store as it was for that source."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import ctrl_c_works, query, scalar, snapshot, write_config, write_csv
from hypothesis import given
from hypothesis import strategies as st

from harvest import store
from harvest.config import load_config
from harvest.connectors.base import Row
from harvest.landing import lander
from harvest.landing.rows import RowJson
from harvest.sync import QuietReporter, sync

ROOT = Path(__file__).resolve().parent.parent
ROWS = 2_600  # three batches: the first in one process, the rest cleaned in a child
TIMES = ("first_seen", "last_seen", "synced_at", "created_at", "updated_at", "last_success_at")


def signups(folder: Path, n: int = ROWS) -> Path:
    """The benchmark's messy sign-up sheet (bench/gen_signups.py), with repeated rows."""
    path = folder / "signups.csv"
    folder.mkdir(parents=True, exist_ok=True)
    gen = ROOT / "bench" / "gen_signups.py"
    subprocess.run([sys.executable, str(gen), str(n), str(path)], check=True)
    lines = path.read_text(encoding="utf-8").splitlines()
    bad = [  # rows with problems (a value dropped) and notes (a value kept, explained)
        "Ann,Lee,31/02/1990,F,not a postcode,07700 900999,ann@example.org,Choir,1 May 2025,Y,GP,",
        "Ann,Lee,1/2/1990,Martian,ZZ99 9ZZ,12,nobody,Choir,yesterday,perhaps,a friend of Bob,",
    ]
    # the same row three times (keyed ~2, ~3), early and in a later batch
    rows = [*lines, lines[5], lines[5], lines[1500], *bad]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def source(path: Path) -> dict:
    return {
        "name": "signups",
        "type": "file",
        "options": {"path": str(path)},
        "constants": {"activity": "Drop-in"},
    }


class Watcher(QuietReporter):
    """Notes, after each batch, how many child processes this process has."""

    def __init__(self) -> None:
        self.children: list[int] = []

    def rows_done(self, name: str, n: int) -> None:
        self.children.append(len(multiprocessing.active_children()))


def comparable(db: Path) -> dict[str, list[tuple]]:
    """Every table but the runs' logs, without the moments things happened."""
    out = {}
    for table, rows in snapshot(db).items():
        cols = [c[1] for c in query(db, f"PRAGMA table_info([{table}])")]
        keep = [i for i, c in enumerate(cols) if c not in TIMES]
        out[table] = [tuple(r[i] for i in keep) for r in rows]
    return out


def test_a_new_table_cleaned_in_a_child_lands_exactly_as_in_one_process(tmp_path, monkeypatch):
    csv_path = signups(tmp_path / "data")
    stores = {}
    for processes in (2, 1):
        monkeypatch.setattr(lander, "PROCESSES", processes)
        folder = tmp_path / f"p{processes}"
        folder.mkdir()
        watcher = Watcher()
        result = sync(load_config(write_config(folder, [source(csv_path)])), reporter=watcher)
        assert result.exit_code == 0, result.sources[0].messages
        assert result.sources[0].counts.new == ROWS + 5
        # a child cleaned the later batches (not the first: small tables stay in one process)
        assert (max(watcher.children) >= 1) is (processes == 2)
        stores[processes] = comparable(folder / "harvest.db")
    assert stores[2] == stores[1]
    db = tmp_path / "p2" / "harvest.db"
    keys = [k for (k,) in query(db, "SELECT source_key FROM raw_rows WHERE source_key LIKE '%~%'")]
    assert sorted(k[-2:] for k in keys) == ["~2", "~2", "~3"]
    assert scalar(db, "SELECT count(*) FROM issues WHERE record_id IS NOT NULL") > 0


def test_a_sync_on_another_thread_cleans_in_its_own_process(tmp_path):
    """The staff console syncs on a thread of its web server: no child is forked from it."""
    csv_path = signups(tmp_path / "data")
    watcher, results = Watcher(), []
    cfg = load_config(write_config(tmp_path, [source(csv_path)]))
    thread = threading.Thread(target=lambda: results.append(sync(cfg, reporter=watcher)))
    thread.start()
    thread.join()
    assert results[0].exit_code == 0 and results[0].sources[0].counts.new == ROWS + 5
    assert max(watcher.children) == 0


class Killer(QuietReporter):
    """Kills the cleaning child (SIGKILL, as the out-of-memory killer would) mid-table."""

    def rows_done(self, name: str, n: int) -> None:
        for child in multiprocessing.active_children():
            assert child.pid is not None
            os.kill(child.pid, signal.SIGKILL)


def test_a_killed_cleaning_process_fails_the_source_and_changes_nothing(tmp_path):
    csv_path = signups(tmp_path / "data", 5_000)  # batches left to clean after the kill
    cfg = load_config(write_config(tmp_path, [source(csv_path)]))
    result = sync(cfg, reporter=Killer())
    [src] = result.sources
    assert src.status == "failed" and "Nothing from this source was changed" in src.messages[0]
    db = tmp_path / "harvest.db"
    for table in ("raw_rows", "records", "people", "person_keys", "attendances", "issues"):
        assert scalar(db, f"SELECT count(*) FROM {table}") == 0, table
    assert scalar(db, "SELECT count(*) FROM source_state") == 0  # read again next time
    [again] = sync(cfg).sources
    assert again.status == "ok" and again.counts.new == 5_000 + 5
    assert scalar(db, "SELECT count(*) FROM raw_rows") == 5_000 + 5


@pytest.mark.parametrize("processes", [1, 2])
def test_a_write_failing_on_the_writer_thread_rolls_the_source_back(
    tmp_path, monkeypatch, processes
):
    monkeypatch.setattr(lander, "PROCESSES", processes)
    csv_path = signups(tmp_path / "data")
    db_path = tmp_path / "harvest.db"
    db = store.connect(db_path)  # a real failure inside SQLite, in the second batch's write
    db.execute(
        "CREATE TRIGGER boom BEFORE INSERT ON records WHEN new.row_number = 1500"
        " BEGIN SELECT RAISE(ABORT, 'the disk said no'); END"
    )
    db.conn.close()
    cfg = load_config(write_config(tmp_path, [source(csv_path)]))
    [src] = sync(cfg).sources
    assert src.status == "failed" and "the disk said no" in src.messages[0]
    assert scalar(db_path, "SELECT count(*) FROM raw_rows") == 0
    assert scalar(db_path, "SELECT count(*) FROM records") == 0
    assert scalar(db_path, "SELECT count(*) FROM people") == 0
    db = store.connect(db_path)
    db.execute("DROP TRIGGER boom")
    db.conn.close()
    [again] = sync(cfg).sources
    assert again.status == "ok" and again.counts.new == ROWS + 5


headers = st.lists(st.text(max_size=12), min_size=1, max_size=8, unique=True)


@given(headers, st.data())
def test_raw_json_is_json_dumps_of_the_row(names, data):
    values = data.draw(st.lists(st.text(max_size=20), min_size=len(names), max_size=len(names)))
    text = RowJson(names)(Row(2, values))
    assert text == json.dumps(dict(zip(names, values, strict=True)), separators=(",", ":"))
    assert json.loads(text) == dict(zip(names, values, strict=True))


def test_remembered_person_keys_never_hide_the_store_s_own(tmp_path):
    """A changed row keeps its person, and its keys are only added where the store has none;
    a row a batch later with the same identity gets the store's person, not the remembered."""
    head = ["ID", "First name", "Surname", "Date of birth"]
    filler = [[f"f{i}", f"Name{i}", f"Filler{i}", "1/1/1980"] for i in range(1_200)]
    path = tmp_path / "people.csv"
    src = {"name": "people", "type": "file", "options": {"path": str(path)}}
    cfg = load_config(write_config(tmp_path, [src], matching={"enabled": False}))
    ann, bob = ["1", "Ann", "Lee", "2/3/1970"], ["2", "Bob", "Ray", "4/5/1960"]
    write_csv(path, [head, ann, bob])
    sync(cfg)
    db = tmp_path / "harvest.db"
    person = dict(query(db, "SELECT source_key, person_id FROM records WHERE is_current = 1"))
    # Bob's row is edited into Ann's identity: it keeps Bob's person (matching decides)
    write_csv(path, [head, ann, ["2", "Ann", "Lee", "2/3/1970"], *filler, ["3", *ann[1:]]])
    assert sync(cfg).exit_code == 0
    now = dict(query(db, "SELECT source_key, person_id FROM records WHERE is_current = 1"))
    assert now["id:2"] == person["id:2"]
    assert now["id:3"] == person["id:1"]  # the store's person for Ann's keys


def test_ctrl_c_mid_table_stops_the_child_too_and_keeps_nothing_half_done(tmp_path):
    """Ctrl-C reaches the sync and its cleaning child (one process group, as at a
    terminal): the sync stops at once, the store has nothing of the source and the run
    is marked interrupted, no child is left behind, and nothing prints a traceback."""
    csv_path = signups(tmp_path / "data", 200_000)
    cfg = write_config(tmp_path, [source(csv_path)])
    harvest = Path(sys.executable).parent / "harvest"
    proc = subprocess.Popen(
        [str(harvest), "sync", "--config", str(cfg)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, like a terminal's job
        preexec_fn=ctrl_c_works,
    )
    children: list[str] = []
    deadline = time.monotonic() + 120
    while not children and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
        task = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
        children = task.read_text().split() if task.exists() else []
    assert children, "the sync finished before its cleaning child was seen"
    time.sleep(1.5)  # in its stride: the child, a batch ahead, mostly waits for the next
    os.killpg(proc.pid, signal.SIGINT)
    out = proc.communicate(timeout=120)[0].decode()
    assert proc.returncode == 130 and "Traceback" not in out, out
    assert not any(Path(f"/proc/{pid}").exists() for pid in children)
    db = tmp_path / "harvest.db"
    assert scalar(db, "SELECT count(*) FROM raw_rows") == 0
    assert query(db, "SELECT status FROM sync_runs") == [("interrupted",)]
