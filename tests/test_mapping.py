"""Column mapping: config beats HXL beats header similarity; one column per field."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import query, run, write_config, write_csv
from typer.testing import CliRunner

from harvest.cli import app
from harvest.normalise.mapping import map_columns, score_header
from harvest.normalise.standard import load_standard


@pytest.mark.parametrize(
    "header, field",
    [
        ("First Name", "given_name"),
        ("Surname", "family_name"),
        ("Post Code", "postcode"),
        ("What is your postcode?", "postcode"),
        ("Tel", "phone"),
        ("Mobile number", "phone"),
        ("D.O.B.", "date_of_birth"),
        ("Date of birth", "date_of_birth"),
        ("E-mail", "email"),
        ("How would you describe your ethnic group?", "ethnicity"),
        ("Attendee #", "source_record_id"),
        ("Event Name", "activity"),
        ("Timestamp", "activity_date"),
        ("Referred by", "referral_source"),
        ("Postocde", "postcode"),
        ("Name", "full_name"),
        ("Gender", "gender"),
        ("Age", "age"),
    ],
)
def test_headers_map_to_fields(header: str, field: str) -> None:
    name, confidence = score_header(header)
    assert name == field
    assert confidence >= 82


@pytest.mark.parametrize("header", ["Notes", "Column 7", "Quantity", "Total Paid", "Barcode #"])
def test_unrelated_headers_stay_unmapped(header: str) -> None:
    [m] = map_columns([header])
    assert m.field is None and m.method == "unmapped"


def test_config_beats_hxl_beats_auto_and_clashes_are_kept() -> None:
    maps = map_columns(
        ["Tel", "Phone", "Notes", "Where"],
        hxl=["", "", "", "#adm+postcode+home"],
        config_mapping={"Tel": None, "notes": "address"},
    )
    by = {m.header: m for m in maps}
    assert by["Tel"].method == "ignored" and by["Tel"].field is None
    assert by["Phone"].field == "phone"
    assert by["Notes"].field == "address" and by["Notes"].method == "config"
    assert by["Where"].field == "postcode" and by["Where"].method == "hxl"

    clash = map_columns(["Post Code", "Home postcode"])
    assert clash[0].field == "postcode"
    assert (
        clash[1].field is None and clash[1].method == "clash" and clash[1].candidate == "postcode"
    )


def test_hashtags_match_with_attributes_in_any_order() -> None:
    std = load_standard()
    assert std.match_hashtag("#person +given+name").name == "given_name"
    assert std.match_hashtag("#person+name").name == "full_name"
    assert std.match_hashtag("#contact+phone+mobile").name == "phone"
    assert std.match_hashtag("#nonsense") is None
    assert std.match_hashtag("postcode") is None


# ---- values bear out a header match to a fixed list (issue 15, finding 6) -------------------


def test_a_status_column_of_roles_is_not_an_attendance_status() -> None:
    rows = [["Ann", "Member"], ["Bob", "Volunteer"], ["Cat", "Member"], ["Dan", ""]]
    name, status = map_columns(["Name", "Status"], samples=rows)
    assert name.field == "full_name"
    assert (status.field, status.method, status.candidate) == (None, "values", "attendance_status")
    assert status.examples == ["Member", "Volunteer"]


def test_a_status_column_of_attendance_words_is_an_attendance_status() -> None:
    rows = [["Attended"], ["DNA"], ["booked"], ["Member"], ["n/a"], [""]]
    [status] = map_columns(["Status"], samples=rows)
    assert (status.field, status.method) == ("attendance_status", "auto")


def test_values_never_overrule_config_or_hxl_and_free_text_fields_are_not_checked() -> None:
    rows = [["Member", "zzz"]]
    config, town = map_columns(
        ["Status", "Town"], config_mapping={"status": "attendance_status"}, samples=rows
    )
    assert (config.field, config.method) == ("attendance_status", "config")
    assert town.method == "unmapped"  # no header match at all: nothing to bear out
    [tagged] = map_columns(["Status"], hxl=["#status+attendance"], samples=rows)
    assert (tagged.field, tagged.method) == ("attendance_status", "hxl")
    [postcode] = map_columns(["Postcode"], samples=[["not a postcode"]])
    assert postcode.field == "postcode"  # a free-text field: bad values are problems, as ever


def test_a_status_of_roles_lands_in_extra_with_no_problems(project: Path) -> None:
    write_csv(
        project / "lunch.csv",
        [
            ["First name", "Surname", "Status"],
            ["Ann", "Lee", "Member"],
            ["Bob", "Ray", "Volunteer"],
        ],
    )
    [result] = run(project, {"name": "lunch", "type": "file", "options": {"path": "lunch.csv"}})
    assert result.counts.problems == 0
    db = project / "harvest.db"
    assert query(db, "SELECT attendance_status, json_extract(extra, '$.Status') FROM records"
                 " ORDER BY 2") == [(None, "Member"), (None, "Volunteer")]  # fmt: skip
    notes = [n for (n,) in query(db, "SELECT problem FROM issues WHERE severity = 'info'")]
    assert any("'Status' looks like attendance_status" in n and "'Member'" in n for n in notes)


def test_a_column_that_lost_a_clash_fills_the_field_where_the_winner_is_blank(
    project: Path,
) -> None:
    write_csv(
        project / "lunch.csv",
        [
            ["First name", "Post code", "Home postcode"],
            ["Ann", "NW1 2AB", "E1 6AN"],
            ["Bob", "", "e1 6an"],
            ["Cat", "12345", "E1 6AN"],  # a bad value is a problem, never papered over
            ["Dan", "", "nowhere"],
        ],
    )
    run(project, {"name": "lunch", "type": "file", "options": {"path": "lunch.csv"}})
    db = project / "harvest.db"
    assert query(db, "SELECT given_name, postcode, json_extract(extra, '$.\"Home postcode\"')"
                 " FROM records ORDER BY 1") == [
        ("Ann", "NW1 2AB", "E1 6AN"), ("Bob", "E1 6AN", "e1 6an"),
        ("Cat", None, "E1 6AN"), ("Dan", None, "nowhere"),
    ]  # fmt: skip
    assert query(db, "SELECT row_number, value FROM issues WHERE field = 'postcode'") == [
        (4, "12345")
    ]


def test_harvest_map_says_why_a_status_of_roles_is_an_extra(project: Path) -> None:
    write_csv(project / "lunch.csv", [["Name", "Status"], ["Ann", "Member"], ["Bob", "Staff"]])
    write_config(project, [{"name": "lunch", "type": "file", "options": {"path": "lunch.csv"}}])
    shown = CliRunner().invoke(
        app, ["map", "lunch", "--config", str(project / "harvest.yaml")], env={"COLUMNS": "200"}
    )
    assert shown.exit_code == 0, shown.output
    assert "header looks like attendance_status, its values do not" in shown.output
