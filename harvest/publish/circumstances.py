"""Breakdowns of the standard's version-2 fields, and the volunteering figures.

``people_circumstances``: the people of a published choice by religion, household
income, English, household size, unpaid care, general health, vulnerability, support
needs, formats needed and food needs, through the same cell key machinery as
``who_took_part`` (``breakdowns.breakdown``). Every category of the standard is listed, with "Not known"
for people without a value (or with a value outside the standard's list). For a field
where a person can have several values, a person counts once in each category they
have, so the parts do not add up to the total.

``volunteering``: volunteers (people whose role is volunteer, or who gave volunteer
hours) and the hours they gave, for every published choice. The number of volunteers is
a protected count; the hours are a sum moved by a fixed amount from the volunteers' cell
key, of at most half the largest number of hours one volunteer gave in the cell, then
rounded, and shown only beside a count of volunteers that is shown.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harvest.publish.breakdowns import characteristics_table
from harvest.publish.privacy import PublishConfig
from harvest.publish.protect import perturbed_total
from harvest.publish.source import NOT_KNOWN, StoreData, labels
from harvest.publish.tables import Choices, group_sum, published, roll_up, with_person

HOUSEHOLD_SIZES = ["1 person", "2 people", "3 people", "4 people", "5 people", "6 or more"]
HOURS_SALT = 5
# (characteristic, field, special category data?): special ones are hidden below the
# special threshold. Contact formats (braille, British Sign Language) and food needs
# (halal, kosher, diabetic, coeliac) tell of health or religion, so they count as special.
CIRCUMSTANCES = [
    ("Religion", "religion", True),
    ("Household income", "income_band", False),
    ("Speaks English", "english_proficiency", False),
    ("Household size", "household_size", False),
    ("Unpaid care", "unpaid_carer", True),
    ("General health", "general_health", True),
    ("Vulnerability", "vulnerability", True),
    ("Support needs", "support_needs", True),
    ("Format needed", "contact_formats", True),
    ("Food needs", "food_needs", True),
]
MULTIPLE = ("vulnerability", "support_needs", "contact_formats", "food_needs")


def categories(field: str) -> list[str]:
    """Every category of ``field`` in the order published, "Not known" last."""
    if field == "household_size":
        return [*HOUSEHOLD_SIZES, NOT_KNOWN]
    return [*labels(field).values(), NOT_KNOWN]


def household_band(size: object) -> str:
    """A household size as its band ("6 or more"), or "Not known"."""
    try:
        people = int(float(size))  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):  # None, NaN, text
        return NOT_KNOWN
    return HOUSEHOLD_SIZES[min(people, len(HOUSEHOLD_SIZES)) - 1] if people >= 1 else NOT_KNOWN


def person_categories(data: StoreData, field: str) -> pd.Series:
    """person → the list of categories they count in (at least one: "Not known")."""
    index = data.people["person"].to_numpy()
    if field == "household_size":
        return pd.Series([[household_band(v)] for v in data.people[field]], index=index)
    names = labels(field)
    lists = [
        list(dict.fromkeys(names[v] for v in values if v in names)) or [NOT_KNOWN]
        for values in data.people[field]
    ]
    return pd.Series(lists, index=index, dtype=object)


def circumstances_table(
    rows: pd.DataFrame,
    data: StoreData,
    shown: pd.DataFrame,
    choices: Choices,
    settings: PublishConfig,
) -> pd.DataFrame:
    """Every circumstance of every shown choice (position: 100 a field, "Everyone" 0)."""
    specs = [
        (name, person_categories(data, field), categories(field), special)
        for name, field, special in CIRCUMSTANCES
    ]
    return characteristics_table(rows, shown, choices, settings, specs)


def volunteer_rows(data: StoreData, choices: Choices) -> pd.DataFrame:
    """(person, act, p, hours, top, g, key, n): one row per volunteer, activity and period."""
    v = data.volunteering
    code = {a: i for i, a in enumerate(choices.activities)}
    coded = v.assign(act=v["activity"].map(code)).dropna(subset=["act"])
    both = pd.concat(
        [coded.assign(act=coded["act"].astype(int)), v.assign(act=len(choices.activities))]
    )
    rows = both.merge(choices.period_rows, on="month")
    people = pd.Index(data.people["person"])
    rows = rows.assign(who=people.get_indexer(rows["person"]))
    out = group_sum(rows[rows["who"] >= 0], ["who", "act", "p"], ["hours"])
    out["person"] = people.to_numpy()[out["who"].to_numpy()]
    return with_person(out, data, choices)


def volunteering_table(
    data: StoreData, shown: pd.DataFrame, choices: Choices, settings: PublishConfig
) -> pd.DataFrame:
    """Volunteers and hours volunteered for every shown choice."""
    rows = volunteer_rows(data, choices)
    on = ["p", "act", "area"]
    cells = roll_up(rows, ["p", "act"], ["n", "key", "hours"], choices)
    top = (
        rows.merge(choices.signatures, on="g").groupby(on, as_index=False)["hours"].max()
        if len(rows)
        else pd.DataFrame(columns=[*on, "hours"])
    ).rename(columns={"hours": "top"})
    t = shown[[*on, "people"]].astype({c: np.int64 for c in on})
    t = t.merge(cells.astype({c: np.int64 for c in on}), how="left", on=on)
    t = t.merge(top.astype({c: np.int64 for c in on}), how="left", on=on)
    t = t.fillna({"n": 0, "key": 0, "hours": 0.0, "top": 0.0})
    t["volunteers"] = published(t["n"].astype(np.int64), t["key"].astype(np.int64), settings)
    hours = perturbed_total(t["hours"], t["top"], t["key"], HOURS_SALT, settings.round_to)
    t["hours_volunteered"] = [
        "suppressed" if isinstance(c, str) else h
        for c, h in zip(t["volunteers"], hours, strict=True)
    ]
    t["period_type"] = [choices.periods[p].kind for p in t["p"]]
    return t
