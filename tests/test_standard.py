"""The standard itself: version 2's fields, its frozen version 1, the diff and the JSON Schema."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from conftest import run, write_csv
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from harvest.cli import app
from harvest.normalise.mapping import map_columns
from harvest.normalise.schema import record_schema
from harvest.normalise.standard import load_standard
from harvest.normalise.standard_diff import diff_standards, parse_version

runner = CliRunner()
V2_FIELDS = {
    "religion",
    "income_band",
    "contact_methods",
    "contact_formats",
    "english_proficiency",
    "food_needs",
    "vulnerability",
    "support_needs",
    "household_size",
    "unpaid_carer",
    "general_health",
    "volunteer_skills",
    "volunteer_availability",
    "volunteer_experience",
    "dbs_level",
    "dbs_date",
    "languages_spoken",
    "volunteer_household_size",
    "volunteer_hours",
    "volunteer_activity",
}


def test_version_2_adds_the_fields_councils_and_charities_share() -> None:
    std, v1 = load_standard(), load_standard(1)
    assert (std.version, v1.version) == (2, 1)
    assert {f.name for f in std.fields} - {f.name for f in v1.fields} == V2_FIELDS
    assert {f.name for f in std.fields if f.since == 2} == V2_FIELDS
    assert [f.name for f in v1.fields] == [f.name for f in std.fields[: len(v1.fields)]]
    multiple = {f.name for f in std.fields if f.multiple}
    assert {"food_needs", "support_needs", "languages_spoken", "volunteer_skills"} <= multiple
    with pytest.raises(ValueError, match="no version 7"):
        load_standard(7)


def test_special_category_fields_are_marked_so_every_published_figure_treats_them_so() -> None:
    special = {f.name for f in load_standard().fields if f.special}
    assert {
        "ethnicity",
        "religion",
        "disability",
        "general_health",
        "vulnerability",
        "support_needs",
        "unpaid_carer",
        "score",
    } == special
    for f in load_standard().fields:  # no special category field is identifying as well
        assert not (f.special and f.identifying), f.name


@pytest.mark.parametrize(
    "tag, field",
    [
        ("#volunteer+household+num", "volunteer_household_size"),
        ("#affected+household+num", "household_size"),
        ("#affected +num +household", "household_size"),
        ("#volunteer+household+number", "volunteer_household_size"),  # the wording
        ("#affected+hh+num", "household_size"),
        ("#person+religion", "religion"),
        ("#person+language", "preferred_language"),
        ("#volunteer+language+list", "languages_spoken"),  # HXL 1.1's +list is allowed
        ("#person+food+needs+list", "food_needs"),
        ("#volunteer+dbs+date", "dbs_date"),
        ("#volunteer+hours+num", "volunteer_hours"),
        ("#activity+name", "activity"),
        ("#volunteer+activity+type", "volunteer_activity"),
    ],
)
def test_hashtags_keep_whose_household_and_which_language_apart(tag: str, field: str) -> None:
    found = load_standard().match_hashtag(tag)
    assert found is not None and found.name == field


def test_a_volunteers_household_is_never_read_as_the_household_supported() -> None:
    assert load_standard().match_hashtag("#volunteer+num") is None


@pytest.mark.parametrize(
    "header, field",
    [
        ("Religion", "religion"),
        ("What is your religion?", "religion"),
        ("Dietary requirements", "food_needs"),
        ("Household income", "income_band"),
        ("How would you like to be contacted?", "contact_methods"),
        ("Languages spoken", "languages_spoken"),
        ("Preferred language", "preferred_language"),
        ("DBS level", "dbs_level"),
        ("DBS issue date", "dbs_date"),
        ("Hours volunteered", "volunteer_hours"),
        ("Skills", "volunteer_skills"),
        ("Availability", "volunteer_availability"),
        ("Number of people in household", "household_size"),
        ("How well can you speak English?", "english_proficiency"),
        ("Support needs", "support_needs"),
    ],
)
def test_headers_map_to_the_new_fields(header: str, field: str) -> None:
    [m] = map_columns([header])
    assert m.field == field, (header, m)


def test_the_diff_says_what_changed_from_version_1() -> None:
    diff = diff_standards(parse_version("v1"), parse_version("2"))
    assert {f.name for f in diff.added} == V2_FIELDS and not diff.removed
    [changed] = diff.changed
    assert changed.name == "preferred_language"
    assert "type 'text' → 'category'" in changed.changes
    assert diff_standards(2, 2).lines()[-1] == "  no changes"
    with pytest.raises(ValueError):
        parse_version("latest")


def test_cli_diff_and_json_schema() -> None:
    out = runner.invoke(app, ["standard", "--diff", "v1", "v2"])
    assert out.exit_code == 0, out.output
    assert "20 field(s) added, 0 removed, 1 changed" in out.output
    assert "+ religion (#person+religion, category: religion) [special]" in out.output
    assert "~ preferred_language: type 'text' → 'category'" in out.output
    assert runner.invoke(app, ["standard", "--diff", "v1", "v9"]).exit_code == 2
    schema = json.loads(runner.invoke(app, ["standard", "--format", "json-schema"]).output)
    Draft202012Validator.check_schema(schema)
    assert schema == record_schema()
    assert set(schema["properties"]) == {f.name for f in load_standard().fields}


def _records(db: Path) -> list[dict]:
    """Current records as the schema describes them: lists decoded, store columns left out."""
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    names = [f.name for f in load_standard().fields]
    multiple = {f.name for f in load_standard().fields if f.multiple}
    out = []
    for row in conn.execute("SELECT * FROM records WHERE is_current = 1"):
        rec = {n: row[n] for n in names}
        out.append({n: json.loads(v) if n in multiple and v else v for n, v in rec.items()})
    conn.close()
    return out


def test_synced_records_are_valid_against_the_json_schema(project: Path) -> None:
    write_csv(
        project / "members.csv",
        [
            ["Name", "Email", "Postcode", "Gender", "Religion", "Dietary requirements",
             "Languages spoken", "DBS check", "DBS date", "Hours", "Household size", "Income"],
            ["Ann Lee", "ann@example.org", "nw1 2ab", "F", "Sikh", "Halal, no nuts",
             "English/Punjabi", "Enhanced", "03/04/2024", "2h30", "3", "£250 a week"],
            ["Bo Chan", "bo@example.org", "E8 1DY", "m", "Jedi", "Pescatarian-ish",
             "Klingon", "basic", "01/01/2099", "lots", "2 adults, 1 child", "prefer not to say"],
        ],
    )  # fmt: skip
    run(project, {"name": "members", "type": "file", "options": {"path": "members.csv"}})
    validator = Draft202012Validator(record_schema())
    records = _records(project / "harvest.db")
    assert len(records) == 2
    for rec in records:
        assert not list(validator.iter_errors(rec)), rec
    ann = next(r for r in records if r["given_name"] == "Ann")
    assert ann["food_needs"] == ["halal", "nut_allergy"]
    assert ann["languages_spoken"] == ["en", "pa"] and ann["volunteer_hours"] == 2.5
    bad = {**ann, "gender": "robot", "food_needs": "halal", "dbs_date": "3/4/24"}
    errors = {e.path[0] for e in validator.iter_errors(bad)}
    assert errors == {"gender", "food_needs", "dbs_date"}


def test_version_1_headers_still_map_where_they_did() -> None:
    """Version 2's synonyms take nothing from version 1's fields, but the two headers that
    named spoken languages ("languages", "language spoken"), which now go to languages_spoken."""
    from harvest.normalise.mapping import score_header

    moved = {}
    for f in load_standard(1).fields:
        for synonym in f.synonyms:
            name, _ = score_header(synonym)
            if name != f.name:
                moved[synonym] = name
    assert moved == {"language spoken": "languages_spoken", "languages": "languages_spoken"}


@pytest.mark.parametrize("header", ["Time", "Other", "Today", "Priority", "Notes", "Comments"])
def test_common_one_word_headers_are_not_taken_for_new_fields(header: str) -> None:
    [m] = map_columns([header])
    assert m.field is None or load_standard().field(m.field).since == 1, (header, m)


def test_the_fast_yaml_loader_reads_every_standard_file_as_the_safe_loader_does():
    from importlib import resources

    import yaml

    from harvest.normalise.standard import _load_yaml

    folder = resources.files("harvest.normalise")
    names = [p.name for p in folder.iterdir() if p.name.endswith(".yaml")]
    assert len(names) >= 4
    for name in names:
        assert _load_yaml(name) == yaml.safe_load(folder.joinpath(name).read_text("utf-8"))
