"""A store made with the standard's version 1 (tests/fixtures/store-v1, made by harvest before
issue 21) is upgraded to version 2 in place by `harvest sync`, with nothing lost."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from conftest import query, scalar, write_csv

from harvest import store
from harvest.config import load_config
from harvest.normalise.standard import load_standard
from harvest.publish.funders import publish_funders
from harvest.sync import sync
from harvest.upgrade import upgrade_standard

FIXTURE = Path(__file__).parent / "fixtures" / "store-v1"
RAW = "SELECT id, source, source_key, version, content_hash, data, first_seen FROM raw_rows"
V1_COLUMNS = [f.name for f in load_standard(1).fields if f.name != "preferred_language"]


@pytest.fixture
def old_store(tmp_path: Path) -> Path:
    folder = tmp_path / "charity"
    shutil.copytree(FIXTURE, folder)
    return folder


def _columns(db: Path, table: str) -> list[str]:
    return [r[1] for r in query(db, f"PRAGMA table_info([{table}])")]


def test_the_fixture_is_a_version_1_store(old_store: Path) -> None:
    db = old_store / "harvest.db"
    assert scalar(db, "SELECT value FROM meta WHERE key = 'standard_version'") == "1"
    assert scalar(db, "PRAGMA user_version") == 4
    assert "religion" not in _columns(db, "records")


def test_sync_upgrades_a_version_1_store_in_place_with_nothing_lost(old_store: Path) -> None:
    db = old_store / "harvest.db"
    raw_before = query(db, RAW)
    cols = ", ".join(f"[{c}]" for c in ["id", "source", "source_key", "is_current", *V1_COLUMNS])
    records_before = query(db, f"SELECT {cols} FROM records ORDER BY id")
    people_before = query(db, "SELECT person_id, given_name, family_name FROM people ORDER BY 1")

    result = sync(load_config(old_store / "harvest.yaml"))

    assert result.exit_code == 0
    assert [s.counts.unchanged for s in result.sources] == [5, 3]
    assert scalar(db, "SELECT value FROM meta WHERE key = 'standard_version'") == "2"
    for table in ("records", "people"):
        assert {"religion", "food_needs", "household_size"} <= set(_columns(db, table))
    assert set(_columns(db, "records")) >= {f.name for f in load_standard().fields}
    assert scalar(db, "SELECT count(*) FROM standard") == len(load_standard().fields)
    assert query(db, RAW) == raw_before  # untouched (a sync only marks them seen again)
    assert query(db, f"SELECT {cols} FROM records ORDER BY id") == records_before
    assert query(db, "SELECT person_id, given_name, family_name FROM people ORDER BY 1") == (
        people_before
    )
    actions = [a for (a,) in query(db, "SELECT action FROM audit_runs ORDER BY id")]
    assert actions == ["sync", "upgrade.standard", "upgrade.backfill", "sync"]
    counts = json.loads(
        scalar(db, "SELECT counts FROM audit_runs WHERE action = 'upgrade.standard'")
    )
    assert counts["standard_from"] == 1 and counts["standard_to"] == 2


def test_the_upgrade_fills_new_fields_from_what_version_1_kept_as_extras(old_store: Path) -> None:
    db = old_store / "harvest.db"
    sync(load_config(old_store / "harvest.yaml"))
    doyle = query(
        db,
        "SELECT religion, food_needs, household_size, preferred_language, extra FROM records"
        " WHERE source = 'signup' AND family_name = 'Doyle'",
    )
    assert doyle == [("christian", '["vegetarian", "nut_allergy"]', 1, "en", None)]
    assert scalar(db, "SELECT preferred_language FROM people WHERE given_name = 'Aisha'") == "bn"
    assert scalar(db, "SELECT religion FROM people WHERE given_name = 'Tomasz'") == (
        "prefer_not_to_say"
    )
    # raw rows still hold what was typed
    raw = json.loads(scalar(db, "SELECT data FROM raw_rows WHERE data LIKE '%Doyle%'"))
    assert raw["Religion"] == "Roman Catholic" and raw["Preferred language"] == "English"
    # a second sync does not fill (or audit) again
    sync(load_config(old_store / "harvest.yaml"))
    assert scalar(db, "SELECT count(*) FROM audit_runs WHERE action LIKE 'upgrade.%'") == 2


def test_rows_that_change_after_the_upgrade_are_cleaned_into_version_2(old_store: Path) -> None:
    db = old_store / "harvest.db"
    rows = [
        ["First name", "Last name", "Postcode", "Date of birth", "Referred by", "Ethnicity",
         "Household size", "Date referred"],
        ["#person+name+given", "#person+name+family", "#adm+postcode", "#person+birth+date",
         "#referral+source", "#person+ethnicity", "#affected+household+num", "#date+activity"],
        ["Robert", "Okafor", "Nw1 2Ab", "1961-03-02", "Jobcentre Plus", "Black African", "2",
         "31/03/2026"],
        ["Abdul", "Rahman", "E8 3Pn", "21/09/1950", "Housing officer", "Bangladeshi",
         "2 adults, 4 children", "2026-04-14"],
    ]  # fmt: skip
    write_csv(old_store / "food-bank.csv", rows)
    sync(load_config(old_store / "harvest.yaml"))
    assert query(
        db,
        "SELECT household_size, extra FROM records WHERE source = 'food_bank'"
        " AND is_current = 1 ORDER BY id",
    ) == [(2, None), (6, None)]


def test_any_command_that_opens_the_store_upgrades_it_once(old_store: Path) -> None:
    path = old_store / "harvest.db"
    for _ in range(2):
        db = store.connect(path)
        assert upgrade_standard(db) == []  # connect already did it: nothing more to add
        db.conn.close()
    assert scalar(path, "SELECT count(*) FROM audit_runs WHERE action = 'upgrade.standard'") == 1
    assert scalar(path, "SELECT value FROM meta WHERE key = 'standard_upgraded_from'") == "1"
    assert scalar(path, "SELECT count(*) FROM audit_runs WHERE action = 'upgrade.backfill'") == 0


def test_harvest_sync_on_the_command_line_upgrades_and_the_audit_trail_says_so(
    old_store: Path,
) -> None:
    harvest = [sys.executable, "-m", "harvest.cli"]
    config = str(old_store / "harvest.yaml")
    done = subprocess.run([*harvest, "sync", "-c", config], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    trail = subprocess.run(
        [*harvest, "audit", "-c", config, "--action", "upgrade"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert trail.returncode == 0, trail.stderr
    assert "upgrade.standard" in trail.stdout and "upgrade.backfill" in trail.stdout
    assert "standard_from=1" in trail.stdout and "standard_to=2" in trail.stdout


def test_publish_reads_a_version_1_store_not_yet_upgraded(
    old_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`harvest publish` only reads the store: before a sync has upgraded it, the new
    fields count as "Not known" and there are no volunteers, rather than an error."""
    monkeypatch.setenv("HARVEST_SECRETS_FILE", str(old_store / "secrets.json"))
    publish_funders(load_config(old_store / "harvest.yaml"), today=date(2024, 9, 1))
    assert "religion" not in _columns(old_store / "harvest.db", "people")  # still version 1
    funders = old_store / "funders.db"
    assert scalar(funders, "SELECT count(*) FROM volunteering") == 0
    assert {"volunteers", "hours_volunteered"} <= set(_columns(funders, "volunteering"))
    assert "people_circumstances" in {
        r[0] for r in query(funders, "SELECT name FROM sqlite_master WHERE type = 'table'")
    }
