"""The pipeline end to end on real files and a real SQLite store."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

import pytest
from conftest import query, scalar, write_config, write_csv

from harvest.config import load_config
from harvest.errors import LockedError
from harvest.sync import QuietReporter, sync, sync_lock


def _sync(cfg_path: Path, **kw):
    return sync(load_config(cfg_path), **kw)


def test_first_sync_lands_raw_rows_records_people_and_attendances(
    project, signup_rows, lunch_source
):
    write_csv(project / "lunch.csv", signup_rows)
    cfg = write_config(project, [lunch_source()])
    result = _sync(cfg)
    assert result.exit_code == 0
    [src] = result.sources
    assert (src.counts.read, src.counts.new, src.counts.unchanged) == (3, 3, 0)
    db = project / "harvest.db"
    assert scalar(db, "SELECT count(*) FROM raw_rows") == 3
    bob = query(
        db,
        "SELECT given_name, family_name, phone, postcode, date_of_birth, email, age"
        " FROM records WHERE given_name = 'Bob'",
    )[0]
    assert bob[:6] == ("Bob", "Smith", "+447700900123", "NW1 2AB", "1961-03-02", "bob@example.org")
    assert isinstance(bob[6], int) and bob[6] >= 60
    # The typed value is kept verbatim, leading zero and all.
    raw = json.loads(scalar(db, "SELECT data FROM raw_rows WHERE row_number = 2"))
    assert raw["Phone"] == "07700 900123" and raw["Postcode"] == "nw12ab"
    assert scalar(db, "SELECT count(*) FROM people") == 3
    assert query(
        db, "SELECT DISTINCT a.name FROM attendances t JOIN activities a ON a.id = t.activity_id"
    ) == [("Lunch club",)]
    assert scalar(db, "SELECT count(*) FROM standard") >= 25


def test_resync_of_unchanged_data_changes_nothing(project, signup_rows, lunch_source):
    path = write_csv(project / "lunch.csv", signup_rows)
    cfg = write_config(project, [lunch_source()])
    _sync(cfg)
    db = project / "harvest.db"
    snapshot = query(db, "SELECT * FROM records ORDER BY id")
    again = _sync(cfg).sources[0]
    assert again.counts.read == 0  # the file was not even opened
    # Touch the file without changing it: read again, nothing new.
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    touched = _sync(cfg).sources[0]
    assert (touched.counts.read, touched.counts.new, touched.counts.unchanged) == (3, 0, 3)
    assert query(db, "SELECT * FROM records ORDER BY id") == snapshot
    assert scalar(db, "SELECT count(*) FROM raw_rows") == 3
    assert scalar(db, "SELECT count(*) FROM attendances") == 3


def test_changed_row_with_an_id_is_a_new_version_and_old_one_is_kept(project, lunch_source):
    rows = [
        ["ID", "Name", "Status"],
        ["A1", "Bob Smith", "registered"],
        ["A2", "Ann Lee", "registered"],
    ]
    write_csv(project / "lunch.csv", rows)
    cfg = write_config(project, [lunch_source()])
    _sync(cfg)
    rows[1][2] = "cancelled"
    write_csv(project / "lunch.csv", rows)
    os.utime(project / "lunch.csv", ns=(time.time_ns(), time.time_ns() + 10**9))
    res = _sync(cfg).sources[0]
    assert (res.counts.changed, res.counts.unchanged, res.counts.new) == (1, 1, 0)
    db = project / "harvest.db"
    assert query(
        db,
        "SELECT version, is_current FROM raw_rows JOIN records USING (id)"
        " WHERE raw_rows.source_key = 'id:A1' ORDER BY version",
    ) == [(1, 0), (2, 1)]
    # The attendance is updated, not added, and the person keeps their id.
    assert query(db, "SELECT attendance_status FROM attendances WHERE source_key = 'id:A1'") == [
        ("cancelled",)
    ]
    assert scalar(db, "SELECT count(*) FROM attendances") == 2
    assert (
        scalar(db, "SELECT count(DISTINCT person_id) FROM records WHERE source_key = 'id:A1'") == 1
    )


def test_edited_row_without_id_replaces_the_old_one_as_current(project, signup_rows, lunch_source):
    write_csv(project / "lunch.csv", signup_rows)
    cfg = write_config(project, [lunch_source()])
    _sync(cfg)
    signup_rows[3][3] = "SW1A 2AA"
    write_csv(project / "lunch.csv", signup_rows)
    os.utime(project / "lunch.csv", ns=(time.time_ns(), time.time_ns() + 10**9))
    _sync(cfg)
    db = project / "harvest.db"
    assert scalar(db, "SELECT count(*) FROM raw_rows") == 4  # nothing lost
    assert scalar(db, "SELECT count(*) FROM records WHERE is_current = 1") == 3
    assert (
        scalar(db, "SELECT postcode FROM records WHERE is_current = 1 AND given_name = 'Carol'")
        == "SW1A 2AA"
    )
    assert scalar(db, "SELECT count(*) FROM attendances") == 3


def test_identical_rows_in_one_sheet_are_both_kept(project, lunch_source):
    rows = [
        ["Name", "Postcode"],
        ["Bob Smith", "NW1 2AB"],
        ["Bob Smith", "NW1 2AB"],
        ["Ann Lee", ""],
    ]
    write_csv(project / "lunch.csv", rows)
    cfg = write_config(project, [lunch_source()])
    _sync(cfg)
    os.utime(project / "lunch.csv", ns=(time.time_ns(), time.time_ns() + 10**9))
    res = _sync(cfg).sources[0]
    db = project / "harvest.db"
    assert scalar(db, "SELECT count(*) FROM raw_rows") == 3
    assert scalar(db, "SELECT count(*) FROM records WHERE is_current = 1") == 3
    assert res.counts.unchanged == 3


def test_column_added_then_renamed_loses_nothing(project, signup_rows, lunch_source):
    write_csv(project / "lunch.csv", signup_rows)
    cfg = write_config(project, [lunch_source()])
    _sync(cfg)
    added = [r + [x] for r, x in zip(signup_rows, ["Gender", "M", "F", "F"], strict=False)]
    write_csv(project / "lunch.csv", added)
    os.utime(project / "lunch.csv", ns=(time.time_ns(), time.time_ns() + 10**9))
    _sync(cfg)
    db = project / "harvest.db"
    assert scalar(db, "SELECT count(*) FROM records WHERE is_current = 1") == 3
    assert query(db, "SELECT gender FROM records WHERE is_current = 1 ORDER BY id") == [
        ("male",),
        ("female",),
        ("female",),
    ]
    added[0][2] = "Mobile"  # renamed header
    write_csv(project / "lunch.csv", added)
    os.utime(project / "lunch.csv", ns=(time.time_ns(), time.time_ns() + 2 * 10**9))
    _sync(cfg)
    assert scalar(db, "SELECT count(*) FROM raw_rows") == 9
    assert scalar(db, "SELECT count(*) FROM records WHERE is_current = 1") == 3
    assert (
        scalar(db, "SELECT count(*) FROM records WHERE is_current = 1 AND phone IS NOT NULL") == 3
    )
    assert scalar(db, "SELECT count(*) FROM people") == 3  # same people, matched on exact keys


def test_people_are_matched_on_exact_keys_across_sources_and_ids_are_stable(project, lunch_source):
    write_csv(project / "lunch.csv", [["Name", "Email"], ["Bob Smith", "bob@example.org"]])
    write_csv(
        project / "forms.csv",
        [
            ["Full name", "E-mail", "Mobile", "Date"],
            ["Robert Smith", "BOB@example.org ", "07700 900123", "03/03/2026"],
        ],
    )
    write_csv(
        project / "youth.csv", [["Name", "Tel"], ["R Smith", "+44 7700 900123"], ["Zed Ali", ""]]
    )
    cfg = write_config(
        project,
        [
            lunch_source(),
            {"name": "forms", "type": "file", "options": {"path": "forms.csv"}},
            {"name": "youth", "type": "file", "options": {"path": "youth.csv"}},
        ],
    )
    _sync(cfg)
    db = project / "harvest.db"
    ids = query(db, "SELECT source, person_id FROM records ORDER BY source")
    bob = {pid for src, pid in ids if src in ("lunch", "forms")} | {ids[2][1]}
    assert len(bob) == 1, ids
    assert scalar(db, "SELECT count(*) FROM people") == 2
    sources = json.loads(scalar(db, "SELECT sources FROM people WHERE person_id = ?", (bob.pop(),)))
    assert sources == ["forms", "lunch", "youth"]
    before = query(db, "SELECT id, person_id FROM records ORDER BY id")
    write_csv(project / "new.csv", [["Name", "Email"], ["New Person", "new@example.org"]])
    cfg = write_config(
        project,
        [
            lunch_source(),
            {"name": "forms", "type": "file", "options": {"path": "forms.csv"}},
            {"name": "youth", "type": "file", "options": {"path": "youth.csv"}},
            {"name": "new", "type": "file", "options": {"path": "new.csv"}},
        ],
    )
    _sync(cfg, full=True)
    assert (
        query(db, "SELECT id, person_id FROM records WHERE source != 'new' ORDER BY id") == before
    )


def test_values_that_fail_cleaning_are_kept_and_reported(project, lunch_source):
    write_csv(
        project / "lunch.csv",
        [
            ["Name", "Postcode", "Email", "Phone"],
            ["Bob Smith", "not a postcode", "bob at example", "12"],
        ],
    )
    cfg = write_config(project, [lunch_source()])
    res = _sync(cfg).sources[0]
    assert res.counts.problems == 3 and res.status == "ok"
    db = project / "harvest.db"
    problems = query(
        db,
        "SELECT field, value, location, row_number FROM issues WHERE field IS NOT NULL ORDER BY field",
    )
    assert [p[:2] for p in problems] == [
        ("email", "bob at example"),
        ("phone", "12"),
        ("postcode", "not a postcode"),
    ]
    assert all(p[2] == "lunch.csv" and p[3] == 2 for p in problems)
    assert query(db, "SELECT postcode, email, phone FROM records") == [(None, None, None)]


def test_one_failing_source_does_not_stop_the_others(project, signup_rows, lunch_source):
    write_csv(project / "lunch.csv", signup_rows)
    (project / "broken.xlsx").write_bytes(b"this is not really a workbook")
    cfg = write_config(
        project,
        [
            {"name": "broken", "type": "file", "options": {"path": "broken.xlsx"}},
            {"name": "missing", "type": "file", "options": {"path": "nowhere/*.csv"}},
            lunch_source(),
        ],
    )
    result = _sync(cfg)
    status = {s.name: s.status for s in result.sources}
    assert status == {"broken": "problems", "missing": "failed", "lunch": "ok"}
    assert result.exit_code == 1
    messages = " ".join(result.sources[0].messages + result.sources[1].messages)
    assert "broken.xlsx" in messages and "nowhere/*.csv" in messages
    assert scalar(project / "harvest.db", "SELECT count(*) FROM records") == 3
    runs = query(project / "harvest.db", "SELECT source, status FROM source_runs ORDER BY id")
    assert runs == [("broken", "problems"), ("missing", "failed"), ("lunch", "ok")]


def test_a_file_that_failed_is_retried_next_time(project, signup_rows, lunch_source):
    bad = project / "lunch.csv"
    bad.mkdir()  # a folder where the file should be: unreadable
    cfg = write_config(project, [lunch_source()])
    assert _sync(cfg).exit_code == 1
    bad.rmdir()
    write_csv(bad, signup_rows)
    result = _sync(cfg)
    assert result.exit_code == 0 and result.sources[0].counts.new == 3


def test_a_second_sync_while_one_runs_stops_at_once(project, signup_rows, lunch_source):
    write_csv(project / "lunch.csv", signup_rows)
    cfg = load_config(write_config(project, [lunch_source()]))
    with sync_lock(cfg.database_path):
        with pytest.raises(LockedError, match="already running"):
            sync(cfg)
    assert sync(cfg).exit_code == 0


def test_wide_sheet_long_cell_and_messy_headers_land_without_loss(project, lunch_source):
    headers = ["Name", "Phone", "Name", ""] + [f"Q{i}" for i in range(296)]
    long_text = "x" * 100_000
    row = ["Bob Smith", "07700 900123", "Robert", "blank-header value"] + [
        str(i) for i in range(296)
    ]
    row[5] = long_text
    write_csv(project / "lunch.csv", [headers, row])
    cfg = write_config(project, [lunch_source(mapping={"Q1": "address"})])
    res = _sync(cfg).sources[0]
    assert res.status == "ok" and res.counts.new == 1
    db = project / "harvest.db"
    raw = json.loads(scalar(db, "SELECT data FROM raw_rows"))
    assert len(raw) == 300 and raw["Q1"] == long_text and raw["Name (2)"] == "Robert"
    assert raw["Column 4"] == "blank-header value"
    assert scalar(db, "SELECT phone FROM records") == "+447700900123"
    assert scalar(db, "SELECT address FROM records") is None
    assert query(db, "SELECT field, problem FROM issues WHERE field = 'address'") == [
        ("address", "a very long value (100,000 characters)")
    ]
    notes = " ".join(r[0] for r in query(db, "SELECT problem FROM issues WHERE record_id IS NULL"))
    assert "'Name'" in notes and "Column 4" in notes
    extra = json.loads(scalar(db, "SELECT extra FROM records"))
    assert extra["Q295"] == "295" and extra["Name (2)"] == "Robert"


def test_only_the_named_source_is_synced(project, signup_rows, lunch_source):
    write_csv(project / "lunch.csv", signup_rows)
    write_csv(project / "other.csv", signup_rows)
    cfg = write_config(
        project,
        [lunch_source(), {"name": "other", "type": "file", "options": {"path": "other.csv"}}],
    )
    result = _sync(cfg, only="other")
    assert [s.name for s in result.sources] == ["other"]
    assert query(project / "harvest.db", "SELECT DISTINCT source FROM records") == [("other",)]


def test_disabled_source_is_skipped(project, signup_rows, lunch_source):
    write_csv(project / "lunch.csv", signup_rows)
    cfg = write_config(project, [lunch_source(enabled=False)])
    assert _sync(cfg).sources == []


def test_hxl_row_windows_1252_and_workbook_dates_end_to_end(project):
    import datetime as dt

    import openpyxl

    rows = [
        ["Prénom", "Nom", "Où", "Téléphone"],
        ["#person+name+given", "#person+name+family", "#adm+postcode", "#contact+phone"],
        ["Zoë", "Smith", "m14 5tq", "07700 900125"],
    ]
    write_csv(project / "council.csv", rows, encoding="cp1252")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "March"
    sheet.append(["Riverside youth club – sign-in"])
    sheet.append([])
    sheet.append(["Name", "Session date", "Mobile"])
    sheet.append(["Ann Lee", dt.date(2026, 3, 3), "07700900126"])
    sheet.append(["Ann Lee", 46085, "07700900126"])  # an Excel serial typed as a number
    book.save(project / "youth.xlsx")
    cfg = write_config(
        project,
        [
            {"name": "council", "type": "file", "options": {"path": "council.csv"}},
            {
                "name": "youth",
                "type": "file",
                "options": {"path": "youth.xlsx"},
                "constants": {"activity": "Youth club"},
            },
        ],
    )
    assert _sync(cfg).exit_code == 0
    db = project / "harvest.db"
    assert query(
        db, "SELECT given_name, postcode, phone FROM records WHERE source = 'council'"
    ) == [("Zoë", "M14 5TQ", "+447700900125")]
    dates = query(db, "SELECT activity_date FROM attendances WHERE source = 'youth' ORDER BY 1")
    assert dates == [("2026-03-03",), ("2026-03-04",)]
    assert scalar(db, "SELECT count(DISTINCT person_id) FROM records WHERE source = 'youth'") == 1
    raw = json.loads(scalar(db, "SELECT data FROM raw_rows WHERE source = 'council'"))
    assert raw == {"Prénom": "Zoë", "Nom": "Smith", "Où": "m14 5tq", "Téléphone": "07700 900125"}


def test_every_sync_that_reads_something_rebuilds_funders_db(project, signup_rows, lunch_source):
    write_csv(project / "lunch.csv", signup_rows)
    cfg = write_config(project, [lunch_source()])
    first = _sync(cfg)
    funders = project / "funders.db"
    assert first.published and "Published funders.db" in first.published and funders.exists()
    built = funders.stat().st_mtime_ns
    again = _sync(cfg)  # nothing read: funders.db is left as it is
    assert again.published is None and funders.stat().st_mtime_ns == built
    os.utime(project / "lunch.csv", ns=(time.time_ns(), time.time_ns() + 10**9))
    assert _sync(cfg).published


def test_publishing_can_be_left_to_harvest_publish(project, signup_rows, lunch_source):
    write_csv(project / "lunch.csv", signup_rows)
    cfg = write_config(project, [lunch_source()], publish={"after_sync": False})
    assert _sync(cfg).published is None and not (project / "funders.db").exists()


def test_a_sync_that_only_failed_to_match_exits_1_and_says_why_plainly(
    project, signup_rows, lunch_source, capsys
):
    """Exit code 1 means something needs a person: a source, matching or funders.db failed.
    Whatever did sync is kept, and the run is marked failed, not left running."""
    path = write_csv(project / "lunch.csv", signup_rows)
    cfg = write_config(project, [lunch_source()])
    assert _sync(cfg).exit_code == 0
    db = project / "harvest.db"
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE match_runs SET model = '{}'")  # a damaged store: no model to use
    conn.close()
    write_csv(path, [*signup_rows, ["Dee", "Cole", "07700 900125", "E8 3PN", "", ""]])
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    result = _sync(cfg)
    assert [s.status for s in result.sources] == ["ok"]
    assert result.matching and result.matching.error.startswith("KeyError")
    assert result.exit_code == 1
    assert scalar(db, "SELECT count(*) FROM records WHERE given_name = 'Dee'") == 1
    assert query(db, "SELECT status FROM sync_runs ORDER BY id") == [("ok",), ("failed",)]
    assert "Traceback" not in capsys.readouterr().err


class _CtrlC(QuietReporter):
    """A person pressing Ctrl-C as the second source starts."""

    def source_started(self, name: str) -> None:
        if name == "other":
            raise KeyboardInterrupt


def test_a_sync_stopped_part_way_is_never_left_running(project, signup_rows, lunch_source):
    write_csv(project / "lunch.csv", signup_rows)
    write_csv(project / "other.csv", signup_rows)
    other = {"name": "other", "type": "file", "options": {"path": "other.csv"}}
    cfg = write_config(project, [lunch_source(), other])
    with pytest.raises(KeyboardInterrupt):
        _sync(cfg, reporter=_CtrlC())
    db = project / "harvest.db"
    assert query(db, "SELECT status FROM sync_runs") == [("interrupted",)]
    conn = sqlite3.connect(db)  # as a `kill -9` leaves it: no chance to say so
    with conn:
        conn.execute("INSERT INTO sync_runs (command, started_at) VALUES ('sync', '2026-01-01')")
    conn.close()
    assert _sync(cfg).exit_code == 0
    assert query(db, "SELECT status FROM sync_runs ORDER BY id") == [
        ("interrupted",),
        ("interrupted",),
        ("ok",),
    ]
