"""Put the protected tables together as rows for funders.db, with the vocabulary of choices."""

from __future__ import annotations

import pandas as pd

from harvest.publish.breakdowns import (
    deprivation_table,
    outcomes_table,
    scores_table,
    sessions_table,
    who_table,
)
from harvest.publish.circumstances import circumstances_table, volunteering_table
from harvest.publish.periods import TYPES
from harvest.publish.privacy import PublishConfig
from harvest.publish.source import StoreData
from harvest.publish.tables import (
    ALL_ACTIVITIES,
    ALL_AREAS,
    Choices,
    attendance_rows,
    make_choices,
    reach_table,
)


def choice_rows(choices: Choices) -> list[tuple]:
    """The ``choices`` table: kind, value, label, detail, position."""
    kinds = {p.kind for p in choices.periods}
    rows: list[tuple] = [
        ("period_type", k, label, None, i)
        for i, (k, label) in enumerate(TYPES.items())
        if k in kinds
    ]
    rows += [("period", p.value, p.label, p.kind, i) for i, p in enumerate(choices.periods)]
    rows.append(("activity", ALL_ACTIVITIES, ALL_ACTIVITIES, None, 0))
    rows += [("activity", a, a, None, i + 1) for i, a in enumerate(choices.activities)]
    rows.append(("area", ALL_AREAS, ALL_AREAS, None, 0))
    rows += [("area", name, name, types, i + 1) for i, (name, types) in enumerate(choices.areas)]
    return rows


def _names(frame: pd.DataFrame, choices: Choices) -> pd.DataFrame:
    """Codes to the values a funder chooses from."""
    frame = frame.copy()
    frame["period"] = [choices.periods[p].value for p in frame["p"]]
    if "act" in frame.columns:
        activities = [*choices.activities, ALL_ACTIVITIES]
        frame["activity"] = [activities[a] for a in frame["act"]]
    areas = [name for name, _ in choices.areas] + [ALL_AREAS]
    frame["area"] = [areas[a] for a in frame["area"]]
    return frame


def _rows(frame: pd.DataFrame, columns: list[str]) -> list[tuple]:
    if frame.empty:
        return []
    return list(
        frame[columns]
        .astype(object)
        .where(frame[columns].notna(), None)
        .itertuples(index=False, name=None)
    )


CHOICE = ["period", "activity", "area", "position"]
# funders.db table → the frame's columns, in the table's column order
COLUMNS = {
    "people_reached": "period period_type activity area people new_people returning_people "
    "att shown".split(),
    "who_took_part": [*CHOICE, "characteristic", "value", "count", "percent"],
    "sessions_attended": [*CHOICE, "sessions", "count", "percent"],
    "deprivation_deciles": [*CHOICE, "decile", "count", "percent", "att"],
    "outcomes_achieved": ["period", "area", "position", "outcome", "count"],
    "score_changes": "period area position measure count avg_first avg_last avg_change "
    "improved_people".split(),
    "people_circumstances": [*CHOICE, "characteristic", "value", "count", "percent"],
    "volunteering": "period period_type activity area volunteers hours_volunteered".split(),
}


def build_tables(data: StoreData, settings: PublishConfig) -> dict[str, list[tuple]]:
    """Every protected table of funders.db, as rows."""
    choices = make_choices(data, settings)
    rows = attendance_rows(data, choices)
    reach = reach_table(rows, choices, settings)
    reach["period_type"] = [choices.periods[p].kind for p in reach["p"]]
    shown = reach[reach["shown"] == 1][["p", "act", "area", "people"]]
    frames = {
        "people_reached": reach,
        "who_took_part": who_table(rows, data, shown, choices, settings),
        "sessions_attended": sessions_table(rows, shown, choices, settings),
        "deprivation_deciles": deprivation_table(rows, data, shown, choices, settings),
        "outcomes_achieved": outcomes_table(data, choices, settings),
        "score_changes": scores_table(data, choices, settings),
        "people_circumstances": circumstances_table(rows, data, shown, choices, settings),
        "volunteering": volunteering_table(data, shown, choices, settings),
    }
    tables = {"choices": choice_rows(choices)}
    for name, frame in frames.items():
        tables[name] = _rows(_names(frame, choices), COLUMNS[name])
    return tables
