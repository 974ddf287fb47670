"""The store's standard tables as pandas DataFrames, for analysts (docs/analysis.md).

    from harvest.frames import read_frames
    frames = read_frames("harvest.yaml")        # or the path of harvest.db
    frames["attendances"].groupby("activity").person_id.nunique()

Read only, and never more than the staff store shows: the five standard tables (people,
records, activities, attendances, outcomes), the rows still current at their source unless
asked otherwise, person ids followed through merges as every report counts them. The store
is opened read-only, so nothing here can change it. The DataFrames hold personal data:
keep them, and anything saved from them, where only staff can read them.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pandas as pd

from harvest.config import HarvestConfig, load_config
from harvest.errors import HarvestError
from harvest.publish.source import canonical, merges, open_store

TABLES = ("people", "records", "activities", "attendances", "outcomes")

# Rows of a table whose source row is still current, as the canned queries count them.
CURRENT = {
    "records": "WHERE is_current = 1",
    "attendances": "WHERE record_id IN (SELECT id FROM records WHERE is_current = 1)",
    "outcomes": "WHERE record_id IN (SELECT id FROM records WHERE is_current = 1)",
}
ORDER = {"people": "person_id", "activities": "id"}
DATES = {"first_seen", "last_seen", "synced_at", "activity_date", "outcome_date"}
LISTS = {"sources"}  # JSON text besides the standard's fields that hold several values


def store_path(store: str | Path | HarvestConfig) -> Path:
    """The database that a harvest.yaml (or its loaded config) names, or the path itself."""
    if isinstance(store, HarvestConfig):
        return store.database_path
    path = Path(store)
    return load_config(path).database_path if path.suffix in (".yaml", ".yml") else path


def read_frame(
    store: str | Path | HarvestConfig, table: str, *, current: bool = True
) -> pd.DataFrame:
    """One standard table as a DataFrame; ``current=False`` keeps rows gone from their source."""
    if table not in TABLES:
        raise HarvestError(
            f"{table!r} is not one of the standard tables ({', '.join(TABLES)}); "
            "the others are harvest's own workings."
        )
    conn = open_store(store_path(store))
    try:
        return _frame(conn, table, current)
    finally:
        conn.close()


def read_frames(
    store: str | Path | HarvestConfig, *, current: bool = True
) -> dict[str, pd.DataFrame]:
    """Every standard table, by name, read in one go from the same state of the store."""
    conn = open_store(store_path(store))
    try:
        conn.execute("BEGIN")  # one snapshot: a sync that writes meanwhile is not half seen
        return {table: _frame(conn, table, current) for table in TABLES}
    finally:
        conn.close()


def _frame(conn: sqlite3.Connection, table: str, current: bool) -> pd.DataFrame:
    where = CURRENT.get(table, "") if current else ""
    order = ORDER.get(table, "id")
    frame = pd.read_sql_query(f"SELECT * FROM {table} {where} ORDER BY {order}", conn)
    if table == "attendances":
        names = pd.read_sql_query(
            "SELECT id AS activity_id, name AS activity FROM activities", conn
        )
        frame = frame.merge(names, on="activity_id", how="left")
    merged = merges(conn)
    if table != "people" and merged and "person_id" in frame:
        frame["person_id"] = frame["person_id"].map(
            lambda p: p if pd.isna(p) else canonical(merged, int(p))
        )
    return _typed(frame, _field_types(conn))


def _field_types(conn: sqlite3.Connection) -> dict[str, tuple[str, bool]]:
    """The store's own data dictionary: field → (type, several values?)."""
    rows = conn.execute("SELECT name, type, multiple FROM standard").fetchall()
    return {row[0]: (row[1], bool(row[2])) for row in rows}


def _typed(frame: pd.DataFrame, fields: dict[str, tuple[str, bool]]) -> pd.DataFrame:
    for column in frame.columns:
        kind, several = fields.get(column, ("", column in LISTS))
        if several or column == "extra":
            frame[column] = frame[column].map(lambda v: v if v is None else json.loads(v))
        elif kind == "date" or column in DATES:
            frame[column] = pd.to_datetime(frame[column], format="ISO8601", errors="coerce")
    return frame
