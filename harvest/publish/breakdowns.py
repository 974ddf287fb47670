"""Breakdowns of a published choice: who the people are, how often they came, the
deprivation of where they live, outcomes and scores. Every category is listed for every
choice, whether or not anyone is in it, so that a row's presence says nothing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harvest.normalise.standard import load_standard
from harvest.publish.privacy import PublishConfig
from harvest.publish.protect import attendance_key, percent, perturbed_average
from harvest.publish.source import AGE_BANDS, ETHNIC_GROUPS, NOT_KNOWN, StoreData, labels
from harvest.publish.tables import Choices, published, roll_up, with_person

SESSIONS = ["Once", "2 or 3 times", "4 to 9 times", "10 times or more"]
LOWER_IS_BETTER = ("PHQ-9", "GAD-7")


def characteristics() -> list[tuple[str, str, list[str], bool]]:
    """(characteristic, column, every category, special category data?)."""
    return [
        ("Age band", "age_band", [label for _, label in AGE_BANDS] + [NOT_KNOWN], False),
        ("Gender", "gender", [*labels("gender").values(), NOT_KNOWN], False),
        ("Ethnic group", "ethnic_group", [*ETHNIC_GROUPS.values(), NOT_KNOWN], True),
        ("Disability", "disability", [*labels("disability").values(), NOT_KNOWN], True),
    ]


def _grid(shown: pd.DataFrame, column: str, categories: list[str]) -> pd.DataFrame:
    cats = pd.DataFrame({column: categories, "position": range(len(categories))})
    return shown.merge(cats, how="cross")


def breakdown(
    rows: pd.DataFrame,
    column: str,
    categories: list[str],
    shown: pd.DataFrame,
    choices: Choices,
    settings: PublishConfig,
    special: bool = False,
) -> pd.DataFrame:
    """Published people (and attendances) in each category of ``column`` for each shown choice.

    ``shown`` has the choice's dimensions (``p``, ``act`` when there is one, ``area``) and
    its published total ``people``.
    """
    dims = [d for d in ("p", "act") if d in shown.columns]
    values = rows[column]
    codes = values if values.dtype.kind in "iu" else pd.Categorical(values, categories).codes
    coded = rows.assign(position=np.asarray(codes, dtype=np.int64))
    cells = roll_up(
        coded[coded["position"] >= 0], [*dims, "position"], ["n", "key", "attendances"], choices
    )
    on = [*dims, "area", "position"]
    grid = _grid(shown, column, categories)
    cells = cells.astype({c: np.int64 for c in on})
    t = grid.astype({c: np.int64 for c in on}).merge(cells, how="left", on=on)
    for col in ("n", "key", "attendances"):
        t[col] = t[col].fillna(0).astype(np.int64)
    t["count"] = published(t["n"], t["key"], settings, special)
    t["percent"] = percent(list(t["count"]), list(t["people"]))
    att = published(t["attendances"], attendance_key(t["key"], t["attendances"]), settings, special)
    t["att"] = [None if isinstance(c, str) else a for c, a in zip(t["count"], att, strict=True)]
    return t


def person_column(rows: pd.DataFrame, data: StoreData, column: str) -> pd.Series:
    return rows["person"].map(by_person(data, column))


def by_person(data: StoreData, column: str) -> pd.Series:
    """person → their value of ``column``."""
    return pd.Series(data.people[column].to_numpy(), index=data.people["person"].to_numpy())


# (characteristic, person → a category or a list of them, every category, special?)
Spec = tuple[str, pd.Series, list[str], bool]


def who_table(
    rows: pd.DataFrame,
    data: StoreData,
    shown: pd.DataFrame,
    choices: Choices,
    settings: PublishConfig,
) -> pd.DataFrame:
    specs = [(name, by_person(data, c), cats, sp) for name, c, cats, sp in characteristics()]
    return characteristics_table(rows, shown, choices, settings, specs)


def characteristics_table(
    rows: pd.DataFrame,
    shown: pd.DataFrame,
    choices: Choices,
    settings: PublishConfig,
    specs: list[Spec],
) -> pd.DataFrame:
    """ "Everyone" at position 0, then each characteristic's breakdown at 100, 200, …

    A person with a list of categories counts once in each of them."""
    frames = [
        shown.assign(
            characteristic="Everyone",
            value="All people",
            position=0,
            count=shown["people"],
            percent=100.0,
        )
    ]
    for k, (name, values, categories, special) in enumerate(specs):
        r = rows.assign(value=rows["person"].map(values))
        if any(isinstance(v, list) for v in values):
            r = r.explode("value", ignore_index=True)
        t = breakdown(r, "value", categories, shown, choices, settings, special)
        frames.append(t.assign(characteristic=name, position=(k + 1) * 100 + t["position"]))
    return pd.concat(frames, ignore_index=True)


def sessions_table(
    rows: pd.DataFrame, shown: pd.DataFrame, choices: Choices, settings: PublishConfig
) -> pd.DataFrame:
    times = rows["attendances"]
    band = np.select([times == 1, times <= 3, times <= 9], [0, 1, 2], 3)  # SESSIONS' positions
    return breakdown(rows.assign(sessions=band), "sessions", SESSIONS, shown, choices, settings)


def deprivation_table(
    rows: pd.DataFrame,
    data: StoreData,
    shown: pd.DataFrame,
    choices: Choices,
    settings: PublishConfig,
) -> pd.DataFrame:
    deciles = [str(d) for d in range(1, 11)] + [NOT_KNOWN]
    r = rows.assign(decile=person_column(rows, data, "decile"))
    return breakdown(r, "decile", deciles, shown, choices, settings)


def _in_periods(frame: pd.DataFrame, choices: Choices) -> pd.DataFrame:
    """Each row once for every period its month is in (All time only without a month)."""
    all_time = next(i for i, p in enumerate(choices.periods) if p.kind == "all")
    dated = frame.merge(choices.period_rows, on="month")
    undated = frame[frame["month"].isna()].assign(p=all_time)
    return pd.concat([dated, undated], ignore_index=True)


def _shown_population(
    rows: pd.DataFrame, choices: Choices, settings: PublishConfig
) -> pd.DataFrame:
    people = rows.drop_duplicates(["person", "p"])[["person", "p", "g", "key", "n"]]
    pop = roll_up(people, ["p"], ["n"], choices)
    pop = pop[pop["n"] >= settings.min_population]
    return pop.drop(columns="n").assign(people=0)


def outcome_names(data: StoreData, settings: PublishConfig) -> list[str]:
    counts = data.outcomes.groupby("outcome")["person"].nunique()
    return sorted(counts[counts >= settings.suppress_below].index)


def outcomes_table(data: StoreData, choices: Choices, settings: PublishConfig) -> pd.DataFrame:
    names = outcome_names(data, settings)
    rows = _in_periods(data.outcomes[data.outcomes["outcome"].isin(names)], choices)
    rows = with_person(rows.drop_duplicates(["person", "outcome", "p"]).copy(), data, choices)
    rows["attendances"] = 0
    shown = _shown_population(rows, choices, settings)
    return breakdown(rows, "outcome", names, shown, choices, settings)


def score_pairs(data: StoreData, choices: Choices) -> pd.DataFrame:
    """Per person, measure and period with two or more scores: the first and last score."""
    rows = _in_periods(data.scores, choices).sort_values(["person", "measure", "p", "sequence"])
    grouped = rows.groupby(["person", "measure", "p"], as_index=False)
    pairs = grouped.agg(times=("score", "size"), first=("score", "first"), last=("score", "last"))
    pairs = pairs[pairs["times"] >= 2].copy()
    lower = pairs["measure"].isin(LOWER_IS_BETTER)
    pairs["improved"] = np.where(
        lower, pairs["last"] < pairs["first"], pairs["last"] > pairs["first"]
    ).astype(int)
    pairs["change"] = pairs["last"] - pairs["first"]
    pairs["top"] = pairs[["first", "last"]].abs().max(axis=1)
    return with_person(pairs, data, choices)


def scores_table(data: StoreData, choices: Choices, settings: PublishConfig) -> pd.DataFrame:
    measures = [v.value for v in load_standard().values_of("measure")]
    pairs = score_pairs(data, choices)
    pairs["attendances"] = 0
    shown = _shown_population(pairs, choices, settings)
    t = breakdown(pairs, "measure", measures, shown, choices, settings, special=True)
    sums = pairs.assign(
        position=pd.Categorical(pairs["measure"], measures).codes.astype(np.int64),
        imp_key=pairs["key"] * pairs["improved"],
        sum_first=pairs["first"],
        sum_last=pairs["last"],
        sum_change=pairs["change"],
    )
    values = ["improved", "imp_key", "sum_first", "sum_last", "sum_change"]
    sums = sums[sums["position"] >= 0]
    extra = roll_up(sums, ["p", "position"], values, choices)
    top = (
        sums.merge(choices.signatures, on="g")
        .groupby(["p", "position", "area"], as_index=False)["top"]
        .max()
    )
    on = ["p", "area", "position"]
    t = t.merge(extra.astype({c: np.int64 for c in on}), how="left", on=on)
    t = t.merge(top.astype({c: np.int64 for c in on}), how="left", on=on)
    t = t.fillna({c: 0 for c in [*values, "top"]})
    below = settings.special_suppress_below
    hidden = [isinstance(c, str) for c in t["count"]]  # no average beside a hidden count
    for col, salt in (("first", 1), ("last", 2), ("change", 3)):
        averages = perturbed_average(t[f"sum_{col}"], t["top"], t["n"], t["key"], salt, below)
        t[f"avg_{col}"] = ["suppressed" if h else a for h, a in zip(hidden, averages, strict=True)]
    t["improved_people"] = published(
        t["improved"].astype(np.int64), t["imp_key"].astype(np.int64), settings, True
    )
    return t
