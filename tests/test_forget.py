"""`harvest forget` and subject access end to end on a real store, files and funders.db."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

import pytest
import typer
from conftest import (
    EVERY_FIGURE,
    fresh_figures,
    funders_figures,
    query,
    scalar,
    write_config,
    write_csv,
)
from openpyxl import load_workbook
from typer.testing import CliRunner

from harvest import store
from harvest.cli import app as main_app
from harvest.cli import match as cli_match
from harvest.cli import privacy as cli_privacy
from harvest.config import load_config
from harvest.dataprotection.erasure import Who, find_person, forget
from harvest.errors import NotFoundError
from harvest.people.write import refresh
from harvest.sync import sync

runner = CliRunner()
app = typer.Typer()
cli_privacy.register(app)
cli_match.register(app)

# Bartholomew's values, exactly as typed and as cleaned: none may survive `forget`.
SECRETS = [
    "Bartholomew",
    "Quackenbush",
    "bart@example.org",
    "900999",
    "SE15 4QF",
    "se154qf",
    "1961-03-02",
    "02/03/1961",
]
LUNCH = [
    ["First name", "Surname", "Phone", "Postcode", "Date of birth", "Email"],
    ["Bartholomew", "Quackenbush", "07700 900999", "se154qf", "02/03/1961", "bart@example.org"],
    ["Alice", "Jones", "07700900124", "M14 5TQ", "1970-05-06", "alice@example.org"],
    ["Carol", "Brown", "020 7946 0001", "SW1A1AA", "3/4/85", ""],
]
EVENTS = [
    ["ID", "Name", "Email", "Phone", "Status", "Date"],
    [
        "E1",
        "Bartholomew Quackenbush",
        "bart@example.org",
        "ask Quackenbush",
        "attended",
        "2026-03-02",
    ],
    ["E2", "Alice Jones", "alice@example.org", "", "attended", "2026-03-02"],
]


def make_project(project: Path) -> Path:
    """The lunch club and events files and a harvest.yaml reading them; returns its path."""
    write_csv(project / "lunch.csv", LUNCH)
    write_csv(project / "events.csv", EVENTS)
    return write_config(
        project,
        [
            {
                "name": "lunch",
                "type": "file",
                "options": {"path": "lunch.csv"},
                "constants": {"activity": "Lunch club"},
            },
            {
                "name": "events",
                "type": "file",
                "options": {"path": "events.csv"},
                "constants": {"activity": "Coffee morning"},
            },
        ],
        publish=EVERY_FIGURE,
    )


@pytest.fixture
def synced(project: Path) -> Path:
    cfg = make_project(project)
    result = sync(load_config(cfg))
    assert result.exit_code == 0, [s.summary() for s in result.sources]
    assert (project / "funders.db").exists()
    return cfg


def _bytes(project: Path) -> bytes:
    files = [p for p in project.iterdir() if p.name.startswith(("harvest.db", "funders.db"))]
    assert any(p.name == "harvest.db" for p in files) and any(p.name == "funders.db" for p in files)
    return b"".join(p.read_bytes() for p in files)


def _found(project: Path) -> list[str]:
    data = _bytes(project)
    return [s for s in SECRETS if s.encode() in data or s.lower().encode() in data.lower()]


def _dump(db_path: Path) -> list[str]:
    conn = sqlite3.connect(db_path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def _touch(*paths: Path) -> None:
    for p in paths:
        os.utime(p, ns=(time.time_ns(), time.time_ns() + 10**9))


def test_forget_by_email_leaves_no_byte_behind_and_resync_does_not_bring_it_back(
    synced: Path, project: Path
) -> None:
    db = project / "harvest.db"
    assert _found(project), "the byte search must see the values before forgetting"
    shown = runner.invoke(
        app, ["forget", "--email", "BART@example.org", "-c", str(synced)], input="y\n"
    )
    assert shown.exit_code == 0, shown.output
    assert "will be erased" in shown.output and "Forgotten: 2 record(s)" in shown.output
    assert "events, lunch" in shown.output  # the sources still holding the data
    assert _found(project) == []
    assert scalar(db, "SELECT count(*) FROM records WHERE given_name = 'Alice'") == 2
    assert b"alice@example.org" in _bytes(project)  # the others are untouched
    # Unchanged sources read again: the forgotten rows are skipped, counted and reported.
    _touch(project / "lunch.csv", project / "events.csv")
    again = sync(load_config(synced))
    assert sum(s.counts.forgotten for s in again.sources) == 2
    assert any("1 row of an erased person skipped" in s.summary() for s in again.sources)
    assert scalar(db, "SELECT count(*) FROM records WHERE given_name = 'Bartholomew'") == 0
    assert _found(project) == []
    [entry] = query(db, "SELECT user, counts FROM audit_runs WHERE action = 'forget'")
    counts = json.loads(entry[1])
    assert counts["records"] == 2 and counts["people_removed"] >= 1
    assert not any(s.lower() in entry[1].lower() for s in SECRETS)


def test_forget_by_person_id_and_by_name_and_date_of_birth(synced: Path, project: Path) -> None:
    db_path = project / "harvest.db"
    pid = scalar(db_path, "SELECT person_id FROM records WHERE given_name = 'Carol'")
    cfg = load_config(synced)
    db = store.connect(db_path)
    by_name = find_person(db, Who(name="carol BROWN", date_of_birth="03/04/1985"))
    by_id = find_person(db, Who(person_id=pid))
    db.conn.close()
    assert by_name.raw_ids == by_id.raw_ids and len(by_id.raw_ids) == 1
    result = forget(cfg, by_id)
    assert result.erased.people_removed == 1 and result.published
    assert scalar(db_path, "SELECT count(*) FROM people WHERE person_id = ?", (pid,)) == 0
    assert b"7946" not in _bytes(project)


def test_forgetting_somebody_who_is_not_there_changes_nothing(synced: Path, project: Path) -> None:
    before = _dump(project / "harvest.db")
    out = runner.invoke(
        app, ["forget", "--email", "nobody@example.org", "--yes", "-c", str(synced)]
    )
    assert out.exit_code == 1
    assert "Nobody in the store matches" in out.output
    assert _dump(project / "harvest.db") == before
    db = store.connect(project / "harvest.db")
    with pytest.raises(NotFoundError):
        find_person(db, Who(person_id=9999))
    db.conn.close()


def test_saying_no_at_the_prompt_changes_nothing(synced: Path, project: Path) -> None:
    before = _dump(project / "harvest.db")
    out = runner.invoke(app, ["forget", "--phone", "07700 900999", "-c", str(synced)], input="n\n")
    assert out.exit_code == 1 and "Nothing was changed" in out.output
    assert _dump(project / "harvest.db") == before


def test_a_mistaken_cluster_is_split_and_only_the_named_records_go(
    synced: Path, project: Path
) -> None:
    db_path = project / "harvest.db"
    db = store.connect(db_path)
    bart = db.execute("SELECT person_id FROM records WHERE given_name = 'Bartholomew'").fetchone()[
        0
    ]
    alice = db.execute("SELECT person_id FROM records WHERE given_name = 'Alice'").fetchone()[0]
    with store.transaction(db):  # matching joined Alice to Bartholomew by mistake
        db.execute("UPDATE records SET person_id = ? WHERE person_id = ?", [bart, alice])
        db.execute("INSERT INTO person_merges VALUES (?, ?, ?, NULL)", [alice, bart, store.now()])
        db.execute("DELETE FROM people WHERE person_id = ?", [alice])
        refresh(db, [bart], None)
    plan = find_person(db, Who(email="bart@example.org"))
    db.conn.close()
    assert {r["given_name"] for r in plan.records} == {"Bartholomew"}
    result = forget(load_config(synced), plan)
    assert result.erased.people_split == 1 and result.erased.people_removed == 0
    assert "cluster split" in result.summary()
    people = query(
        db_path, "SELECT given_name, email, record_count FROM people WHERE person_id = ?", (bart,)
    )
    assert people == [("Alice", "alice@example.org", 2)]
    assert _found(project) == []


def test_an_interrupted_erasure_leaves_everything_as_it_was(synced: Path, project: Path) -> None:
    db_path = project / "harvest.db"
    db = store.connect(db_path)
    plan = find_person(db, Who(email="bart@example.org"))
    # Fail after attendances, issues and pairs have been deleted, before records are.
    db.execute(
        "CREATE TRIGGER boom BEFORE DELETE ON records "
        "BEGIN SELECT RAISE(ABORT, 'the disk is on fire'); END"
    )
    db.conn.close()
    before = _dump(db_path)
    with pytest.raises(sqlite3.IntegrityError, match="on fire"):
        forget(load_config(synced), plan)
    assert _dump(db_path) == before
    assert scalar(db_path, "SELECT count(*) FROM tombstones") == 0
    assert scalar(db_path, "SELECT count(*) FROM audit_runs WHERE action = 'forget'") == 0


def test_subject_access_export_as_json_and_xlsx(synced: Path, project: Path) -> None:
    pid = scalar(
        project / "harvest.db", "SELECT person_id FROM records WHERE given_name = 'Alice' LIMIT 1"
    )
    out = runner.invoke(
        app, ["person", str(pid), "--export", str(project / "alice.json"), "-c", str(synced)]
    )
    assert out.exit_code == 0, out.output
    data = json.loads((project / "alice.json").read_text(encoding="utf-8"))
    sources = {r["source"] for r in data["raw_rows"]}
    assert sources == {"lunch", "events"}
    raw = next(r for r in data["raw_rows"] if r["source"] == "lunch")
    assert raw["data"]["Email"] == "alice@example.org" and raw["location"] and raw["first_seen"]
    assert data["person"][0]["given_name"] == "Alice"
    assert data["attendances"]
    out = runner.invoke(
        app, ["person", str(pid), "--export", str(project / "alice.xlsx"), "-c", str(synced)]
    )
    assert out.exit_code == 0, out.output
    wb = load_workbook(project / "alice.xlsx", read_only=True)
    assert wb.sheetnames[:3] == ["Person", "Records", "Raw rows"]
    assert "alice@example.org" in str(list(wb["Raw rows"].values))
    assert (
        scalar(
            project / "harvest.db",
            "SELECT count(*) FROM audit_runs WHERE action = 'export.subject_access'",
        )
        == 2
    )
    bad = runner.invoke(
        app, ["person", "9999", "--export", str(project / "x.json"), "-c", str(synced)]
    )
    assert bad.exit_code == 1 and "no person 9999" in bad.output


# --- erasure that sticks: an edited row of an erased person never lands again -------------


def _funders(project: Path) -> dict[str, list[tuple]]:
    return funders_figures(project / "funders.db")


def _funders_up_to_date(project: Path) -> bool:
    return _funders(project) == fresh_figures(project / "harvest.yaml", project / "fresh")


def _edited_lunch(extra_column: bool, retype: int | None) -> list[list[str]]:
    rows = [list(r) for r in LUNCH]
    if retype is not None:  # one cell of Bartholomew's row, typed again differently
        rows[1][retype] = {
            0: "BARTHOLOMEW",
            1: "Quackenbush-Smith",
            2: "+44 7700 900999",
            3: "SE15 4QF",
            4: "1961-03-02",
            5: "Bart@Example.org",
        }[retype]
    if extra_column:
        rows[0].insert(2, "Transport")
        for r, value in zip(rows[1:], ("minibus", "bus", ""), strict=True):
            r.insert(2, value)
    return rows


@pytest.mark.parametrize(
    ("extra_column", "retype"),
    [(True, None), (False, 0), (False, 1), (False, 2), (False, 4), (False, 5), (True, 3)],
)
def test_an_edited_row_of_an_erased_person_never_comes_back(
    synced: Path, project: Path, extra_column: bool, retype: int | None
) -> None:
    before = _funders(project)
    out = runner.invoke(app, ["forget", "--email", "bart@example.org", "--yes", "-c", str(synced)])
    assert out.exit_code == 0, out.output
    after = _funders(project)
    assert after != before and _funders_up_to_date(project)
    write_csv(project / "lunch.csv", _edited_lunch(extra_column, retype))
    events = [list(r) for r in EVENTS]
    events[1][5] = "2026-03-09"  # the event row too: one cell changed
    write_csv(project / "events.csv", events)
    _touch(project / "lunch.csv", project / "events.csv")
    again = sync(load_config(synced))
    assert again.exit_code == 0, [s.summary() for s in again.sources]
    assert _found(project) == []
    db = project / "harvest.db"
    assert scalar(db, "SELECT count(*) FROM raw_rows WHERE data LIKE '%Quackenbush%'") == 0
    alice = "SELECT count(*) FROM records WHERE given_name = 'Alice' AND is_current = 1"
    assert scalar(db, alice) == 2
    assert _funders_up_to_date(project)
    lunch = next(s for s in again.sources if s.name == "lunch")
    assert "1 row of an erased person skipped" in lunch.summary()
    assert lunch.counts.forgotten == 1
    messages = [m for (m,) in query(db, "SELECT message FROM source_runs ORDER BY id DESC")]
    assert "1 row of an erased person skipped in lunch" in messages
    checked = runner.invoke(main_app, ["check", "lunch", "-c", str(synced)])
    assert "1 row of an erased person skipped" in " ".join(checked.output.split())


def test_a_household_sharing_the_erased_persons_phone_still_lands(
    synced: Path, project: Path
) -> None:
    out = runner.invoke(app, ["forget", "--email", "bart@example.org", "--yes", "-c", str(synced)])
    assert out.exit_code == 0, out.output
    rows = [*LUNCH, ["Mabel", "Quackenbush", "07700 900999", "se154qf", "05/06/1962", ""]]
    write_csv(project / "lunch.csv", rows)
    _touch(project / "lunch.csv")
    sync(load_config(synced))
    db = project / "harvest.db"
    assert scalar(db, "SELECT count(*) FROM records WHERE given_name = 'Mabel'") == 1
    assert scalar(db, "SELECT count(*) FROM records WHERE given_name = 'Bartholomew'") == 0
