"""The protected tables, computed once at publish time for every choice a funder can make.

A *choice* is a period (``periods.py``), an activity (each one, or all) and an area
(each postcode district, county, local authority, region and country, or all). Only
activities and areas with at least ``min_population`` people over all time are offered
on their own (the rest count in "All"), and a choice with fewer than
``min_population`` people is not published: its figures are "too few".

Every count of people is counted from the people themselves, then protected by the cell
key method (``protect.py``): the same set of people gives the same figure in every table.
Counting goes through an area *signature* (the set of offered areas a person lives in),
so that every count is worked out once per signature and summed into areas.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from harvest.publish.periods import Period, build_periods
from harvest.publish.privacy import PublishConfig
from harvest.publish.protect import KEYS, attendance_key, protect
from harvest.publish.source import AREA_COLUMNS, StoreData

ALL_ACTIVITIES, ALL_AREAS = "All activities", "All areas"
AREA_TYPES = {
    "country": "Country",
    "region": "Region",
    "county": "County or area",
    "local_authority": "Local authority",
    "postcode_district": "Postcode district",
}


@dataclass
class Choices:
    """What a funder can choose from, with the codes used while counting."""

    periods: list[Period]
    activities: list[str]  # offered on their own; code len(activities) is "All"
    areas: list[tuple[str, str]]  # (name, area types); code len(areas) is "All"
    period_rows: pd.DataFrame  # month, p
    signatures: pd.DataFrame  # g, area: the areas each signature counts in (with All)
    person_g: pd.Series = field(default_factory=pd.Series)  # person → signature


def _population(frame: pd.DataFrame, column: str) -> pd.Series:
    return frame.groupby(column)["person"].nunique()


def offered_activities(data: StoreData, settings: PublishConfig) -> list[str]:
    counts = _population(data.contacts, "activity")
    keep = counts[counts >= settings.min_population].index
    return sorted(a for a in keep if a != ALL_ACTIVITIES)  # that name is taken by "all"


def offered_areas(data: StoreData, settings: PublishConfig) -> list[tuple[str, str]]:
    """Areas with enough people over all time, with the types of area the name is."""
    long = data.people.melt(id_vars=["person"], value_vars=list(AREA_COLUMNS), var_name="type")
    long = long.dropna(subset=["value"]).drop_duplicates(["person", "value"])
    reached = (
        set(data.contacts["person"]) | set(data.outcomes["person"]) | set(data.scores["person"])
    )
    long = long[long["person"].isin(reached)]
    counts = long.groupby("value")["person"].nunique()
    keep = [v for v in counts[counts >= settings.min_population].index if v != ALL_AREAS]
    types = (
        long[long["value"].isin(keep)]
        .groupby("value")["type"]
        .agg(lambda t: " / ".join(AREA_TYPES[x] for x in AREA_COLUMNS if x in set(t)))
    )
    order = {t: i for i, t in enumerate(AREA_COLUMNS)}
    first = (
        long[long["value"].isin(keep)]
        .groupby("value")["type"]
        .agg(lambda t: min(order[x] for x in t))
    )
    return sorted(((v, types[v]) for v in keep), key=lambda a: (first[a[0]], a[0]))


def signatures(data: StoreData, areas: list[tuple[str, str]]) -> tuple[pd.Series, pd.DataFrame]:
    """Each person's signature code, and the areas (codes, All included) of each signature."""
    code = {name: i for i, (name, _) in enumerate(areas)}
    sets = (
        data.people[list(AREA_COLUMNS)].apply(
            lambda row: tuple(sorted({code[v] for v in row if v in code})), axis=1
        )
        if len(data.people)
        else pd.Series([], dtype=object)
    )
    unique = sorted(set(sets)) or [()]
    index = {s: g for g, s in enumerate(unique)}
    person_g = pd.Series([index[s] for s in sets], index=data.people["person"].to_numpy())
    rows = [(g, a) for s, g in index.items() for a in (*s, len(areas))]
    return person_g, pd.DataFrame(rows, columns=["g", "area"])


def make_choices(data: StoreData, settings: PublishConfig) -> Choices:
    months = sorted(
        set(data.contacts["month"])
        | set(data.outcomes["month"].dropna())
        | set(data.scores["month"].dropna())
    )
    periods, member = build_periods(months, settings.periods)
    index = {p.value: i for i, p in enumerate(periods)}
    period_rows = pd.DataFrame(
        [(m, index[v]) for m, values in member.items() for v in values], columns=["month", "p"]
    )
    areas = offered_areas(data, settings)
    person_g, sigs = signatures(data, areas)
    return Choices(periods, offered_activities(data, settings), areas, period_rows, sigs, person_g)


def group_sum(frame: pd.DataFrame, by: list[str], values: list[str]) -> pd.DataFrame:
    """``frame.groupby(by)[values].sum()`` for small non-negative integer keys, by numpy."""
    if frame.empty:
        return pd.DataFrame({c: np.zeros(0, np.int64) for c in [*by, *values]})
    keys = [frame[c].to_numpy(dtype=np.int64) for c in by]
    sizes = [int(k.max()) + 1 for k in keys]
    unique, inverse = np.unique(np.ravel_multi_index(keys, sizes), return_inverse=True)
    out = dict(zip(by, np.unravel_index(unique, sizes), strict=True))
    for v in values:
        column = frame[v].to_numpy()
        total = np.bincount(inverse, weights=column.astype(np.float64), minlength=len(unique))
        out[v] = np.rint(total).astype(np.int64) if column.dtype.kind in "iub" else total
    return pd.DataFrame(out)


def roll_up(
    frame: pd.DataFrame, dims: list[str], values: list[str], choices: Choices
) -> pd.DataFrame:
    """Sum counts per signature into counts per area (and "All areas")."""
    by_g = group_sum(frame, [*dims, "g"], values)
    merged = by_g.merge(choices.signatures, on="g")
    return group_sum(merged, [*dims, "area"], values)


def attendance_rows(data: StoreData, choices: Choices) -> pd.DataFrame:
    """(person, act, p, attendances, g, key, new): one row per person, activity and period."""
    all_code = len(choices.activities)
    code = {a: i for i, a in enumerate(choices.activities)}
    c = data.contacts.assign(act=data.contacts["activity"].map(code))
    own = c.dropna(subset=["act"])
    both = pd.concat([own.assign(act=own["act"].astype(int)), c.assign(act=all_code)])
    rows = both.merge(choices.period_rows, on="month")
    people = pd.Index(data.people["person"])
    rows["who"] = people.get_indexer(rows["person"])
    out = group_sum(rows, ["who", "act", "p"], ["attendances"])
    out["person"] = people.to_numpy()[out["who"].to_numpy()]
    out["new"] = is_new(out, data.contacts.groupby("person")["month"].min(), choices)
    return with_person(out, data, choices)


def is_new(frame: pd.DataFrame, first: pd.Series, choices: Choices) -> np.ndarray:
    """Whether each row's period holds the person's first month of activity."""
    months = sorted(set(choices.period_rows["month"]))
    row = {m: i for i, m in enumerate(months)}
    inside = np.zeros((len(months) + 1, len(choices.periods)), dtype=bool)
    pr = choices.period_rows
    inside[pr["month"].map(row).to_numpy(dtype=np.int64), pr["p"].to_numpy(dtype=np.int64)] = True
    first_row = frame["person"].map(first.map(row)).fillna(len(months)).astype(np.int64)
    return inside[first_row.to_numpy(), frame["p"].to_numpy(dtype=np.int64)]


def with_person(frame: pd.DataFrame, data: StoreData, choices: Choices) -> pd.DataFrame:
    keys = pd.Series(data.people["key"].to_numpy(), index=data.people["person"].to_numpy())
    frame["g"] = frame["person"].map(choices.person_g).astype(int)
    frame["key"] = frame["person"].map(keys).astype(int)
    frame["n"] = 1
    return frame


def published(n: Any, key: Any, settings: PublishConfig, special: bool = False) -> list:
    below = settings.special_suppress_below if special else settings.suppress_below
    return protect(n, np.asarray(key) % KEYS, below, settings.round_to)


def reach_table(rows: pd.DataFrame, choices: Choices, settings: PublishConfig) -> pd.DataFrame:
    """People, new and returning people and attendances for every choice (too few marked)."""
    rows = rows.assign(new_n=rows["new"].astype(int), new_key=rows["key"] * rows["new"])
    cells = roll_up(rows, ["p", "act"], ["n", "key", "attendances", "new_n", "new_key"], choices)
    grid = pd.MultiIndex.from_product(
        [
            range(len(choices.periods)),
            range(len(choices.activities) + 1),
            range(len(choices.areas) + 1),
        ],
        names=["p", "act", "area"],
    ).to_frame(index=False)
    t = grid.merge(cells, how="left").fillna(0)
    for col in ("n", "key", "attendances", "new_n", "new_key"):
        t[col] = t[col].astype(np.int64)
    shown = t["n"] >= settings.min_population
    people = published(t["n"], t["key"], settings)
    t["people"] = [
        v if s else f"<{settings.min_population}" for v, s in zip(people, shown, strict=True)
    ]
    t["new_people"] = published(t["new_n"], t["new_key"], settings)
    t["returning_people"] = published(t["n"] - t["new_n"], t["key"] - t["new_key"], settings)
    t["att"] = published(t["attendances"], attendance_key(t["key"], t["attendances"]), settings)
    for col in ("new_people", "returning_people", "att"):
        t[col] = t[col].where(shown, None)
    t["shown"] = shown.astype(int)
    return t
