"""harvest.frames: the standard tables of a real synced store as DataFrames (docs/analysis.md)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest
from conftest import scalar, write_csv
from test_forget import LUNCH, SECRETS, app, make_project, runner

from harvest.config import load_config
from harvest.errors import HarvestError, PublishError
from harvest.frames import TABLES, read_frame, read_frames
from harvest.sync import sync


@pytest.fixture
def synced(project: Path) -> Path:
    config = make_project(project)
    assert sync(load_config(config)).exit_code == 0
    return config


def everything(frames: dict[str, pd.DataFrame]) -> str:
    return "\n".join(frame.to_csv() for frame in frames.values()).lower()


def test_the_standard_tables_come_back_typed_and_counted_as_the_store_counts(
    synced: Path, project: Path
) -> None:
    db = project / "harvest.db"
    frames = read_frames(synced)  # harvest.yaml, as an analyst would name it
    assert list(frames) == list(TABLES)
    people, attendances = frames["people"], frames["attendances"]
    assert len(people) == scalar(db, "SELECT count(*) FROM people")
    assert len(frames["records"]) == scalar(db, "SELECT count(*) FROM records")
    assert set(attendances["activity"]) == {"Lunch club", "Coffee morning"}
    assert set(attendances["person_id"].dropna()) <= set(people["person_id"])
    assert pd.api.types.is_datetime64_any_dtype(attendances["activity_date"])
    assert pd.api.types.is_datetime64_any_dtype(people["date_of_birth"])
    assert all(isinstance(s, list) for s in people["sources"])
    alice = people[people["given_name"] == "Alice"]
    assert len(alice) == 1 and sorted(alice["sources"].iloc[0]) == ["events", "lunch"]
    by_db = read_frame(db, "people")
    pd.testing.assert_frame_equal(by_db, people)


def test_reading_never_changes_the_store(synced: Path, project: Path) -> None:
    db = project / "harvest.db"
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    read_frames(db)
    read_frame(db, "records", current=False)
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


def test_rows_gone_from_their_source_are_left_out_unless_asked_for(
    synced: Path, project: Path
) -> None:
    write_csv(project / "lunch.csv", [row for row in LUNCH if row[0] != "Carol"])
    assert sync(load_config(synced)).exit_code == 0
    current, every = read_frame(synced, "records"), read_frame(synced, "records", current=False)
    assert "Carol" not in set(current["given_name"]) and "Carol" in set(every["given_name"])


def test_a_forgotten_person_is_in_no_frame(synced: Path, project: Path) -> None:
    assert "quackenbush" in everything(read_frames(synced))  # the search sees him before
    forgotten = runner.invoke(
        app, ["forget", "--email", "bart@example.org", "-c", str(synced)], input="y\n"
    )
    assert forgotten.exit_code == 0, forgotten.output
    text = everything(read_frames(synced, current=False))
    assert [s for s in SECRETS if s.lower() in text] == []


@pytest.mark.parametrize(
    "table", ["raw_rows", "person_keys", "tombstones", "match_cache", "x; drop"]
)
def test_only_the_standard_tables_can_be_read(synced: Path, table: str) -> None:
    with pytest.raises(HarvestError, match="not one of the standard tables"):
        read_frame(synced, table)


def test_a_missing_store_says_to_sync_first(tmp_path: Path) -> None:
    with pytest.raises(PublishError, match="run `harvest sync` first"):
        read_frames(tmp_path / "harvest.db")


def test_the_example_in_the_docs_runs_on_a_real_store(synced: Path) -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "analysis.md").read_text("utf-8")
    example = doc.split("```python\n")[1].split("```")[0]
    names: dict = {}
    exec(example.replace('"harvest.yaml"', repr(str(synced))), names)  # noqa: S102
    came = names["came"]
    assert set(came["activity"]) == {"Lunch club", "Coffee morning"}
    assert not came["attendance_status"].isin(["no_show", "cancelled"]).any()
