"""Read the store for publishing: people, attendances, outcomes and scores, as frames.

Nothing read here leaves the publishing process as it is: ``tables.py`` turns it into
protected aggregates. A person is their ``person_id`` after following merges; each
has a record key (``protect.record_key``), an age band instead of an age, labels from
the common data standard, and their areas (postcode district, county, local authority,
region, country) and deprivation decile.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from harvest.errors import PublishError
from harvest.normalise.standard import load_standard
from harvest.publish import onspd_places
from harvest.publish.geo import district_of, districts
from harvest.publish.protect import record_key
from harvest.publish.safe_downloads import FORMULA_START

NOT_KNOWN = "Not known"
NOT_REACHED = ("no_show", "cancelled")
AGE_BANDS = [
    (0, "0-15"),
    (16, "16-24"),
    (25, "25-34"),
    (35, "35-44"),
    (45, "45-54"),
    (55, "55-64"),
    (65, "65-74"),
    (75, "75+"),
]
ETHNIC_GROUPS = {
    "white": "White",
    "mixed": "Mixed or Multiple",
    "asian": "Asian or Asian British",
    "black": "Black, Black British, Caribbean or African",
    "other": "Other ethnic group",
    "not_stated": "Prefer not to say",
}
MERGE_COLUMNS = [
    ("merged_person_id", "person_id"),
    ("from_person_id", "to_person_id"),
    ("old_person_id", "new_person_id"),
    ("merged_id", "person_id"),
]
# version-2 category fields of a person that published breakdowns read
PERSON_CATEGORIES = (
    "religion",
    "income_band",
    "english_proficiency",
    "unpaid_carer",
    "general_health",
    "vulnerability",
    "support_needs",
    "contact_formats",
    "food_needs",
)
AREA_COLUMNS = ("country", "region", "county", "local_authority", "postcode_district")


@dataclass
class StoreData:
    """The store, read for publishing."""

    people: pd.DataFrame  # person, key, age_band, gender, ethnic_group, disability, decile, areas
    contacts: pd.DataFrame  # person, activity, month, attendances
    outcomes: pd.DataFrame  # person, outcome, month (None: not known)
    scores: pd.DataFrame  # person, measure, sequence, month, score
    # person, activity, month, hours: each current row of volunteering (role volunteer, or
    # volunteer_hours given), hours 0 when none were given
    volunteering: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["person", "activity", "month", "hours"])
    )


def labels(field: str) -> dict[str, str]:
    return {v.value: v.label for v in load_standard().values_of(field)}


def age_band(date_of_birth: str | None, age: int | None, today: date) -> str:
    years = age
    if date_of_birth and len(date_of_birth) >= 10:
        try:
            born = date.fromisoformat(date_of_birth[:10])
        except ValueError:
            born = None
        if born:
            years = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    if years is None or years < 0 or years > 120:
        return NOT_KNOWN
    return [label for low, label in AGE_BANDS if years >= low][-1]


def neutralise(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def open_store(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise PublishError(f"There is no harvest database at {path}: run `harvest sync` first.")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    conn.row_factory = sqlite3.Row
    return conn


def merges(conn: sqlite3.Connection) -> dict[int, int]:
    """person_id → the person it was merged into, if the store records merges."""
    columns = {r[1] for r in conn.execute("PRAGMA table_info(person_merges)")}
    for old, new in MERGE_COLUMNS:
        if {old, new} <= columns:
            return {r[0]: r[1] for r in conn.execute(f"SELECT {old}, {new} FROM person_merges")}
    return {}


def canonical(merged: dict[int, int], person_id: int) -> int:
    """The person a person_id now counts as, following merges."""
    seen = set()
    while person_id in merged and person_id not in seen:
        seen.add(person_id)
        person_id = merged[person_id]
    return person_id


def _follow(frame: pd.DataFrame, merged: dict[int, int]) -> pd.DataFrame:
    if merged and len(frame):
        ids = frame["person"].unique()
        frame["person"] = frame["person"].map({i: canonical(merged, int(i)) for i in ids})
    return frame


def _person(row: sqlite3.Row, today: date, lookups: dict[str, Any]) -> dict[str, Any]:
    district = district_of(row["postcode"])
    known = lookups["districts"].get(district)
    place = lookups["place"](row["postcode"])
    return {
        "age_band": age_band(row["date_of_birth"], row["age"], today),
        "gender": lookups["gender"].get(row["gender"] or "", NOT_KNOWN),
        "ethnic_group": ETHNIC_GROUPS.get(
            lookups["groups"].get(row["ethnicity"] or "") or "", NOT_KNOWN
        ),
        "disability": lookups["yes_no"].get(row["disability"] or "", NOT_KNOWN),
        "decile": str(place.imd_decile) if place.imd_decile else NOT_KNOWN,
        "country": place.country or (known or {}).get("country"),
        "region": place.region,
        "county": (known or {}).get("county"),
        "local_authority": neutralise(
            place.local_authority or (known or {}).get("local_authority")
        ),
        "postcode_district": district if known else None,
    }


def category_values(value: Any, multiple: bool) -> list[str]:
    """The stored values of a category field: a JSON list for a ``multiple`` field."""
    if value is None or value == "":
        return []
    if multiple and isinstance(value, str) and value.startswith("["):
        try:
            parsed = json.loads(value)
        except ValueError:
            return [value]
        return [str(v) for v in parsed if v not in (None, "")]
    return [str(value)]


def _circumstances(row: sqlite3.Row) -> dict[str, Any]:
    """The version-2 fields that published breakdowns read (``circumstances.py``)."""
    std = load_standard()
    out: dict[str, Any] = {
        name: category_values(row[name], std.field(name).multiple) for name in PERSON_CATEGORIES
    }
    out["household_size"] = row["household_size"]
    out["volunteer"] = row["role"] == "volunteer"
    return out


def _or_null(conn: sqlite3.Connection, table: str, column: str) -> str:
    """``[column]``, or ``NULL AS [column]`` in a store not yet upgraded to version 2 of
    the standard (``harvest sync`` upgrades it; ``harvest publish`` only reads)."""
    present = {r[1] for r in conn.execute(f"PRAGMA table_info([{table}])")}
    return f"[{column}]" if column in present else f"NULL AS [{column}]"


def read_people(conn: sqlite3.Connection, key: bytes, merged: dict[int, int], today: date):  # type: ignore[no-untyped-def]
    """One row per person (a merged person once, as the person they were merged into)."""
    lookups = {
        "districts": districts(),
        "place": onspd_places.places(conn),
        "gender": labels("gender"),
        "yes_no": labels("disability"),
        "groups": {v.value: v.group for v in load_standard().values_of("ethnicity")},
    }
    rows = []
    extra = ", ".join(
        _or_null(conn, "people", c) for c in (*PERSON_CATEGORIES, "household_size", "role")
    )
    for r in conn.execute(
        "SELECT person_id, date_of_birth, age, gender, ethnicity, disability, postcode, "
        f"{extra} FROM people ORDER BY person_id"
    ):
        if r["person_id"] in merged:  # counted as the person they were merged into
            continue
        rows.append(
            {
                "person": r["person_id"],
                "key": record_key(key, r["person_id"]),
                **_person(r, today, lookups),
                **_circumstances(r),
            }
        )
    columns = ["person", "key", "age_band", "gender", "ethnic_group", "disability", "decile"]
    more = [*PERSON_CATEGORIES, "household_size", "volunteer"]
    return pd.DataFrame(rows, columns=[*columns, *AREA_COLUMNS, *more])


def read_contacts(conn: sqlite3.Connection, merged: dict[int, int]) -> pd.DataFrame:
    """(person, activity, month) → attendances that reached someone, from current rows."""
    frame = pd.read_sql_query(
        """SELECT coalesce(a.person_id, r.person_id) AS person, act.name AS activity,
                  substr(a.activity_date, 1, 7) AS month, count(*) AS attendances
           FROM attendances a JOIN records r ON r.id = a.record_id
           LEFT JOIN activities act ON act.id = a.activity_id
           WHERE r.is_current = 1 AND a.activity_date IS NOT NULL
             AND coalesce(a.person_id, r.person_id) IS NOT NULL
             AND coalesce(a.attendance_status, '') NOT IN (?, ?)
           GROUP BY 1, 2, 3""",
        conn,
        params=NOT_REACHED,
    )
    frame["activity"] = frame["activity"].fillna("(activity not given)").map(neutralise)
    frame = _follow(frame, merged)
    return frame.groupby(["person", "activity", "month"], as_index=False)["attendances"].sum()


def read_outcomes(
    conn: sqlite3.Connection, merged: dict[int, int]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Outcomes (the first month each person achieved each) and scores in date order."""
    frame = pd.read_sql_query(
        """SELECT coalesce(o.person_id, r.person_id) AS person, o.outcome,
                  substr(o.outcome_date, 1, 7) AS month, o.measure, o.score
           FROM outcomes o JOIN records r ON r.id = o.record_id
           WHERE r.is_current = 1 AND coalesce(o.person_id, r.person_id) IS NOT NULL
           ORDER BY coalesce(o.outcome_date, ''), o.id""",
        conn,
    )
    frame = _follow(frame, merged)
    frame["month"] = frame["month"].where(frame["month"].str.len() == 7, None)
    got = frame[frame["outcome"].notna() & (frame["outcome"] != "")].copy()
    got["outcome"] = got["outcome"].map(neutralise)
    outcomes = got.drop_duplicates(["person", "outcome"])[["person", "outcome", "month"]]
    scored = frame[frame["measure"].notna() & frame["score"].notna()].copy()
    scored["sequence"] = scored.groupby(["person", "measure"]).cumcount() + 1
    scores = scored[["person", "measure", "sequence", "month", "score"]]
    return outcomes.reset_index(drop=True), scores.reset_index(drop=True)


def read_volunteering(conn: sqlite3.Connection, merged: dict[int, int]) -> pd.DataFrame:
    """(person, activity, month, hours) for every dated row of a volunteer or with hours."""
    upgraded = _or_null(conn, "records", "volunteer_hours").startswith("[")
    hours = "r.volunteer_hours" if upgraded else "NULL"
    frame = pd.read_sql_query(
        f"""SELECT coalesce(a.person_id, r.person_id) AS person, act.name AS activity,
                  substr(a.activity_date, 1, 7) AS month, {hours} AS hours, p.role AS role
           FROM attendances a JOIN records r ON r.id = a.record_id
           LEFT JOIN activities act ON act.id = a.activity_id
           LEFT JOIN people p ON p.person_id = coalesce(a.person_id, r.person_id)
           WHERE r.is_current = 1 AND a.activity_date IS NOT NULL
             AND coalesce(a.person_id, r.person_id) IS NOT NULL
             AND coalesce(a.attendance_status, '') NOT IN (?, ?)
             AND (hours > 0 OR p.role = 'volunteer')""",
        conn,
        params=NOT_REACHED,
    )
    frame["activity"] = frame["activity"].fillna("(activity not given)").map(neutralise)
    frame["hours"] = frame["hours"].astype(float).fillna(0.0).clip(lower=0)
    return _follow(frame, merged)[["person", "activity", "month", "hours"]]


def read_store(conn: sqlite3.Connection, key: bytes, today: date) -> StoreData:
    merged = merges(conn)
    people = read_people(conn, key, merged, today)
    known = set(people["person"])
    contacts = read_contacts(conn, merged)
    outcomes, scores = read_outcomes(conn, merged)
    volunteering = read_volunteering(conn, merged)
    return StoreData(
        people,
        contacts[contacts["person"].isin(known)].reset_index(drop=True),
        outcomes[outcomes["person"].isin(known)].reset_index(drop=True),
        scores[scores["person"].isin(known)].reset_index(drop=True),
        volunteering[volunteering["person"].isin(known)].reset_index(drop=True),
    )
