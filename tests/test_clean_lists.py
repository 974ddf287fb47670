"""Cleaning the fields of version 2: lists in one cell, values in no list, "prefer not to say"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import query, run, scalar, write_csv

from harvest.normalise.clean_lists import clean_cell, is_prefer_not_to_say
from harvest.normalise.standard import load_standard


def clean(field_name: str, raw: str) -> tuple:
    value, problem = clean_cell(load_standard().field(field_name), raw)
    if isinstance(value, str) and value.startswith("["):
        value = json.loads(value)
    return value, problem


@pytest.mark.parametrize(
    "field, raw, expected",
    [
        ("food_needs", "Halal, no nuts", ["halal", "nut_allergy"]),
        ("food_needs", "Vegetarian / no nuts", ["vegetarian", "nut_allergy"]),
        ("food_needs", "Halal and vegan", ["halal", "vegan"]),
        ("food_needs", "halal\nGluten free", ["halal", "gluten_free"]),
        ("food_needs", "Coeliac; lactose intolerant", ["gluten_free", "dairy_free"]),
        ("food_needs", "Halal, halal", ["halal"]),
        ("support_needs", "Mental health and wellbeing", ["mental_health"]),
        ("support_needs", "Debt\nIsolation & bereavement", ["debt_and_money", "social_isolation", "bereavement"]),
        ("support_needs", "Employability + digital", ["employability", "digital_inclusion"]),
        ("vulnerability", "Shielding, carer, ESOL", ["shielding", "carer", "english_second_language"]),
        ("languages_spoken", "English, Polish and Russian", ["en", "pl", "ru"]),
        ("languages_spoken", "BSL/English", ["bfi", "en"]),
        ("contact_formats", "Large print and braille", ["large_print", "braille"]),
        ("contact_methods", "Text or email", ["text", "email"]),
        ("volunteer_skills", "Driving, first aid", ["driving", "first_aid"]),
        ("volunteer_availability", "Weekday mornings/weekends", ["weekday_mornings", "weekends"]),
    ],
)  # fmt: skip
def test_several_values_in_one_cell_become_a_list(field: str, raw: str, expected: list) -> None:
    assert clean(field, raw)[0] == expected


@pytest.mark.parametrize(
    "field, raw, expected",
    [
        ("religion", "Roman Catholic", "christian"),
        ("religion", "C of E", "christian"),
        ("religion", "Atheist", "no_religion"),
        ("religion", "Pagan", "other"),
        ("preferred_language", "Polish", "pl"),
        ("preferred_language", "British Sign Language", "bfi"),
        ("english_proficiency", "Not very well", "not_well"),
        ("unpaid_carer", "Yes, 20 to 34 hours a week", "20_to_34_hours"),
        ("unpaid_carer", "Yes - about 15 hours a week", "10_to_19_hours"),
        ("unpaid_carer", "Yes 20-34 hours", "20_to_34_hours"),
        ("unpaid_carer", "Yes, 50+ hours", "50_hours_or_more"),
        ("unpaid_carer", "No", "no"),
        ("general_health", "Very good", "very_good"),
        ("dbs_level", "Enhanced with barred list", "enhanced_barred"),
        ("dbs_level", "Basic", "basic"),
        ("income_band", "£10,000 - £19,999", "10k_to_20k"),
        ("dbs_date", "12/05/2024", "2024-05-12"),
        ("volunteer_hours", "2h30", 2.5),
        ("volunteer_hours", "2:30", 2.5),
        ("volunteer_hours", "90 mins", 1.5),
        ("volunteer_hours", "3 hours", 3),
        ("household_size", "4", 4),
    ],
)
def test_single_values(field: str, raw: str, expected: object) -> None:
    assert clean(field, raw) == (expected, None)


@pytest.mark.parametrize(
    "raw",
    [
        "Prefer not to say",
        "prefer not to say.",
        "PREFER NOT TO SAY",
        "Prefer-not-to-say",
        "Prefer not 2 say",
        "I'd prefer not to say",
        "I would rather not say",
        "Rather not say",
        "PNTS",
        "Declined to answer",
        "Don't want to say",
        "Do not wish to disclose",
        "Not stated",
        "Withheld",
    ],
)
def test_prefer_not_to_say_in_every_spelling(raw: str) -> None:
    assert is_prefer_not_to_say(raw)
    for field in ("religion", "income_band", "unpaid_carer", "general_health", "gender"):
        assert clean(field, raw) == ("prefer_not_to_say", None), field
    assert clean("vulnerability", raw) == (["prefer_not_to_say"], None)
    assert clean("volunteer_skills", raw) == (None, None)  # no such answer: simply none


@pytest.mark.parametrize("raw", ["Christian", "No", "I don't know", "Sikh (practising)"])
def test_answers_are_not_taken_for_prefer_not_to_say(raw: str) -> None:
    assert not is_prefer_not_to_say(raw)


def test_consent_answers_keep_their_own_meaning() -> None:
    """'Do not wish to share' is a refusal to share, not a refusal to answer."""
    assert clean("consent_to_share", "Prefer not to say") == ("prefer_not_to_say", None)
    assert clean("consent_to_share", "do not wish to share")[0] != "prefer_not_to_say"


@pytest.mark.parametrize(
    "field, raw, expected, note",
    [
        ("food_needs", "Halal, no nuts", ["halal", "nut_allergy"],
         "'Halal, no nuts' read as two food needs: halal, nut allergy"),
        ("food_needs", "Pescatarian-ish, halal", ["halal", "Pescatarian-ish"],
         "'Pescatarian-ish' is not in the standard's list of food needs: kept as typed"),
        ("religion", "Jedi", "Jedi",
         "'Jedi' is not in the standard's list of religions: kept as typed"),
        ("religion", "Pakistani Muslim", "muslim",
         "'Pakistani Muslim' read as muslim; the other words are not a religion"),
        ("religion", "White British - Christian", "christian",
         "'White British - Christian' read as christian; the other words are not a religion"),
        ("ethnicity", "Pakistani Muslim", "asian_pakistani",
         "'Pakistani Muslim' read as Asian or Asian British: Pakistani; "
         "the other words are not an ethnic group"),
        ("preferred_language", "Klingon", "Klingon",
         "'Klingon' is not in the standard's list of languages: kept as typed"),
        ("income_band", "£12,500", "10k_to_20k",
         "'£12,500' is a figure, not a band: put in the band £10,000 to £19,999"),
        ("income_band", "£250 a week", "10k_to_20k",
         "'£250 a week' is a figure, not a band: put in the band £10,000 to £19,999 "
         "(£13,000 a year)"),
        ("household_size", "2 adults, 3 children", 5, "'2 adults, 3 children' read as a household of 5"),
    ],
)  # fmt: skip
def test_kept_values_come_with_a_plain_english_note(
    field: str, raw: str, expected: object, note: str
) -> None:
    assert clean(field, raw) == (expected, note)


@pytest.mark.parametrize(
    "field, raw, problem",
    [
        ("dbs_date", "01/01/2099", "a DBS certificate date in the future"),
        ("volunteer_hours", "lots", "not a number of hours (such as 2.5, 2h30 or 2:30)"),
        ("volunteer_hours", "30", "more than 24 hours in one day"),
        ("household_size", "45", "not a believable household size (1 to 30 people)"),
        (
            "ethnicity",
            "Asian Muslim",
            "not one of the allowed values: white_british, white_irish, "
            "white_gypsy_traveller, white_roma, white_other, mixed_white_black_caribbean, …",
        ),
    ],
)
def test_unusable_values_are_problems(field: str, raw: str, problem: str) -> None:
    assert clean(field, raw) == (None, problem)


def test_a_sync_reports_a_value_in_no_list_once_per_distinct_value(project: Path) -> None:
    rows = [["First name", "Surname", "Religion", "Dietary requirements", "DBS date"]]
    rows += [[f"Person{i}", "Jones", "Jedi", "Halal, no nuts", "01/01/2099"] for i in range(4)]
    rows += [["Ann", "Lee", "Sikh", "vegan", ""], ["Bo", "Chan", "Jedi Order", "", ""]]
    write_csv(project / "signup.csv", rows)
    [result] = run(project, {"name": "signup", "type": "file", "options": {"path": "signup.csv"}})
    db = project / "harvest.db"
    issues = query(db, "SELECT field, value, problem FROM issues WHERE record_id IS NOT NULL")
    by_field: dict[str, list] = {}
    for field, value, problem in issues:
        by_field.setdefault(field, []).append((value, problem))
    assert sorted(by_field["religion"]) == [
        ("Jedi", "'Jedi' is not in the standard's list of religions: kept as typed"),
        ("Jedi Order", "'Jedi Order' is not in the standard's list of religions: kept as typed"),
    ]
    assert by_field["food_needs"] == [
        ("Halal, no nuts", "'Halal, no nuts' read as two food needs: halal, nut allergy")
    ]
    assert len(by_field["dbs_date"]) == 4  # a problem (the value is dropped): on every row
    assert result.counts.problems == 4  # the DBS dates; the notes on kept values are not problems
    severities = dict(query(db, "SELECT field, severity FROM issues WHERE record_id IS NOT NULL"))
    assert severities == {"religion": "info", "food_needs": "info", "dbs_date": "warning"}
    assert query(db, "SELECT religion, food_needs, dbs_date FROM records ORDER BY id")[0] == (
        "Jedi",
        '["halal", "nut_allergy"]',
        None,
    )
    assert scalar(db, "SELECT food_needs FROM people WHERE given_name = 'Ann'") == '["vegan"]'
    assert (
        scalar(
            db, "SELECT count(*) FROM records, json_each(records.food_needs) WHERE value = 'halal'"
        )
        == 4
    )


@pytest.mark.parametrize("field_name", [f.name for f in load_standard().fields])
@pytest.mark.parametrize("raw", ["", "  ", "-", "n/a", "N/A", "unknown", "?", "tbc", "#N/A"])
def test_placeholders_are_empty_in_every_field(field_name: str, raw: str) -> None:
    assert clean(field_name, raw) == (None, None)


def test_harvest_check_tells_notes_on_kept_values_from_problems(project: Path) -> None:
    from typer.testing import CliRunner

    from harvest.cli import app

    rows = [["First name", "Surname", "Dietary requirements", "DBS date"]]
    rows += [["Ann", "Lee", "Halal, no nuts", "01/01/2099"], ["Bo", "Chan", "Halal, no nuts", ""]]
    write_csv(project / "signup.csv", rows)
    run(project, {"name": "signup", "type": "file", "options": {"path": "signup.csv"}})
    out = (
        CliRunner()
        .invoke(app, ["check", "--config", str(project / "harvest.yaml")], terminal_width=200)
        .output
    )
    problems, _, notes = out.partition("Values used, with a word on how they were read")
    assert "1 values could not be used" in problems
    assert "dbs_date: a DBS certificate date in the future" in problems
    assert "1 × food_needs: 'Halal, no nuts' read as two food needs: halal, nut allergy" in notes
