"""The published breakdowns of the standard's version-2 fields, and volunteering figures,
from a StoreData made by hand (the whole pipeline is played in test_funders_attack.py)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from harvest.normalise.standard import load_standard
from harvest.publish.assemble import build_tables
from harvest.publish.circumstances import (
    CIRCUMSTANCES,
    categories,
    household_band,
    person_categories,
)
from harvest.publish.privacy import PublishConfig
from harvest.publish.protect import perturbed_total
from harvest.publish.source import AREA_COLUMNS, NOT_KNOWN, StoreData, category_values

SETTINGS = PublishConfig()
FILLED = ("religion", "support_needs", "household_size")
PEOPLE = 60


def store_data(volunteers: int = 30) -> StoreData:
    """60 people at one activity in January 2024: half with two support needs, a third
    Muslim, one with a religion outside the list; the first ``volunteers`` gave 2 hours."""
    people = []
    for i in range(PEOPLE):
        people.append(
            {
                "person": i,
                "key": (i * 37) % 256,
                "religion": ["muslim"] if i % 3 == 0 else (["jedi"] if i == 1 else []),
                "support_needs": ["debt_and_money", "housing"] if i % 2 else [],
                "household_size": i % 8 or None,
                "volunteer": i < volunteers,
                **{f: [] for _, f, _ in CIRCUMSTANCES if f not in FILLED},
            }
        )
    frame = pd.DataFrame(people)
    for column in ("age_band", "gender", "ethnic_group", "disability", "decile"):
        frame[column] = NOT_KNOWN
    for column in AREA_COLUMNS:
        frame[column] = None
    frame["household_size"] = frame["household_size"].astype(object)
    contacts = pd.DataFrame(
        {"person": range(PEOPLE), "activity": "Lunch club", "month": "2024-01", "attendances": 1}
    )
    volunteering = contacts[contacts["person"] < volunteers][["person", "activity", "month"]]
    empty = pd.DataFrame(columns=["person", "outcome", "month"])
    scores = pd.DataFrame(columns=["person", "measure", "sequence", "month", "score"])
    return StoreData(frame, contacts, empty, scores, volunteering.assign(hours=2.0))


def rows_for(table: list[tuple], period: str = "All time") -> list[tuple]:
    return [r for r in table if r[0] == period and r[1] == "All activities"]


def test_every_category_of_the_standard_is_listed_with_not_known_last() -> None:
    for _, field, _ in CIRCUMSTANCES:
        listed = categories(field)
        assert listed[-1] == NOT_KNOWN and len(set(listed)) == len(listed)
        if field != "household_size":
            assert listed[:-1] == [v.label for v in load_standard().values_of(field)]


def test_a_list_field_is_read_from_its_json_list() -> None:
    assert category_values(json.dumps(["halal", "nut_allergy"]), True) == ["halal", "nut_allergy"]
    assert category_values(None, True) == [] and category_values("", False) == []
    assert category_values("christian", False) == ["christian"]


def test_household_sizes_are_banded() -> None:
    assert [household_band(n) for n in (1, 2, 5, 6, 11)] == [
        "1 person",
        "2 people",
        "5 people",
        "6 or more",
        "6 or more",
    ]
    assert household_band(None) == household_band(0) == household_band("six") == NOT_KNOWN
    assert household_band(float("nan")) == NOT_KNOWN and household_band(3.0) == "3 people"


def test_a_value_outside_the_list_and_no_value_count_as_not_known() -> None:
    cats = person_categories(store_data(), "religion")
    assert cats[0] == ["Muslim"] and cats[1] == [NOT_KNOWN] and cats[2] == [NOT_KNOWN]
    assert person_categories(store_data(), "support_needs")[1] == [
        "Debt, benefits and money",
        "Housing",
    ]


def test_circumstances_count_a_person_once_in_each_of_their_needs() -> None:
    tables = build_tables(store_data(), SETTINGS)
    rows = rows_for(tables["people_circumstances"])
    assert rows[0][4:6] == ("Everyone", "All people")
    needs = {r[5]: r[6] for r in rows if r[4] == "Support needs"}
    assert list(needs) == categories("support_needs")
    # 30 people have both needs: each need counts all 30 (give or take the noise)
    assert abs(needs["Debt, benefits and money"] - 30) <= 4 and abs(needs["Housing"] - 30) <= 4
    assert abs(needs[NOT_KNOWN] - 30) <= 4 and needs["Bereavement"] == "<10"
    religion = {r[5]: r[6] for r in rows if r[4] == "Religion"}
    assert abs(religion["Muslim"] - 20) <= 4 and religion["Christian"] == "<10"
    income = {r[5]: r[6] for r in rows if r[4] == "Household income"}
    assert income["Under £10,000"] == "<8"  # not special: the usual threshold
    assert {r[4] for r in rows} == {"Everyone", *(name for name, _, _ in CIRCUMSTANCES)}


def test_volunteers_and_hours_for_every_published_choice() -> None:
    tables = build_tables(store_data(), SETTINGS)
    reach = {r[:4:2] + (r[3],) for r in tables["people_reached"] if r[-1]}
    volunteering = tables["volunteering"]
    assert {(r[0], r[2], r[3]) for r in volunteering} == reach
    row = next(r for r in volunteering if r[0] == "All time" and r[2] == "All activities")
    assert row[1] == "all" and abs(row[4] - 30) <= 4
    assert abs(row[5] - 60) <= 1 + 2.5 and row[5] % 5 == 0  # 60 hours, moved by at most 1


@pytest.mark.parametrize("volunteers", [0, 7])
def test_hours_are_hidden_with_too_few_volunteers(volunteers: int) -> None:
    tables = build_tables(store_data(volunteers), SETTINGS)
    assert all(r[4] == "<8" and r[5] == "suppressed" for r in tables["volunteering"])


def test_perturbed_total_is_fixed_bounded_and_never_negative() -> None:
    first = perturbed_total([100.0, 100.0, 0.0], [10.0, 10.0, 0.0], [3, 200, 0], 5, 5)
    assert first == perturbed_total([100.0, 100.0, 0.0], [10.0, 10.0, 0.0], [3, 200, 0], 5, 5)
    assert all(abs(v - 100) <= 5 + 2.5 for v in first[:2]) and first[2] == 0
    assert first[0] != first[1]  # the shift depends on the cell key
    assert perturbed_total([1.0], [4.0], [0], 5, 1) == [0]  # never below zero
