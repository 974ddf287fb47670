"""The figures of the funder's overview (``dashboard.py``): rows of the protected tables.

Each function picks the rows of one protected table for a choice, in the order the
table gives them, with a one-line explanation and the canned query of
``funder_queries.yaml`` that downloads the same rows. Nothing is counted here.
"""

from __future__ import annotations

import sqlite3

from harvest.publish.dashboard import (
    ALL_ACTIVITIES,
    ALL_AREAS,
    TOP_AREAS,
    Figure,
    Selection,
    Vocabulary,
)

SMALL = "Each figure is rounded to 5 with a small fixed adjustment, so parts may not add up exactly to the total."


def _rows(conn: sqlite3.Connection, table: str, columns: str, s: Selection) -> list[tuple]:
    """A breakdown's rows for one choice of period, activity and area, in its order."""
    return conn.execute(
        f"SELECT {columns} FROM {table} WHERE period = ? AND activity = ? AND area = ? "
        "AND position >= 0 ORDER BY position",
        (s.period, s.activity, s.area),
    ).fetchall()


def reach(conn: sqlite3.Connection, s: Selection, vocab: Vocabulary) -> Figure:
    kind = vocab.period(s.period).detail or "month"
    kind = kind if kind in ("month", "quarter", "year", "financial_year") else "month"
    rows = conn.execute(
        "SELECT c.label, r.people, r.new_people, r.returning_people, r.attendances, r.period "
        "FROM people_reached r JOIN choices c ON c.kind = 'period' AND c.value = r.period "
        "WHERE r.period_type = ? AND r.activity = ? AND r.area = ? ORDER BY c.position",
        (kind, s.activity, s.area),
    ).fetchall()
    per = vocab.period_types.get(kind, kind).split(" (")[0].lower()
    return Figure(
        "reach",
        "People reached over time",
        f"Different people who came to something, by {per[:-1] if per.endswith('s') else per}; "
        "new means their first time ever. Hidden figures are too few to show.",
        ["Period", "People", "New", "Returning", "Attendances"],
        rows,
        "reach",
        {"period_type": kind, "activity": s.activity, "area": s.area},
    )


def who(conn: sqlite3.Connection, s: Selection, too_few: bool) -> Figure:
    everyone = _rows(conn, "who_took_part", "characteristic, value, people, percent", s)
    rows = [r for r in everyone if r[0] != "Everyone"]  # the total is the headline
    return Figure(
        "who",
        "Who took part",
        "People by age band, gender, ethnic group and disability, each counted once. "
        "Groups of fewer than 8 (10 for ethnic group and disability) are hidden. " + SMALL,
        ["Characteristic", "Group", "People", "Share (%)"],
        rows,
        "who",
        s.params("period", "activity", "area"),
        too_few,
    )


def sessions(conn: sqlite3.Connection, s: Selection, too_few: bool) -> Figure:
    rows = _rows(conn, "sessions_attended", "sessions, people, percent", s)
    return Figure(
        "sessions",
        "How often people came",
        "People by how many times they came in the period. " + SMALL,
        ["Times", "People", "Share (%)"],
        rows,
        "sessions_per_person",
        s.params("period", "activity", "area"),
        too_few,
    )


def _all_shown(conn: sqlite3.Connection, period: str, activity: str, area: str) -> bool:
    row = conn.execute(
        "SELECT shown FROM people_reached WHERE period = ? AND activity = ? AND area = ?",
        (period, activity, area),
    ).fetchone()
    return bool(row and row[0])


def areas(conn: sqlite3.Connection, s: Selection) -> Figure:
    """The areas with the most people (areas with too few come last, as published)."""
    rows = conn.execute(
        "SELECT c.value, c.detail, r.people FROM choices c JOIN people_reached r "
        "ON r.area = c.value AND r.period = ? AND r.activity = ? "
        "WHERE c.kind = 'area' AND c.value != ? "
        "ORDER BY typeof(r.people) = 'text', r.people DESC, c.position",
        (s.period, s.activity, ALL_AREAS),
    ).fetchall()
    return Figure(
        "areas",
        "Where people live",
        f"The {TOP_AREAS} areas (postcode districts, local authorities, counties, regions and "
        "countries) with the most people; an area is one place, so a person counts in each "
        "area they live in. " + SMALL,
        ["Area", "Type of area", "People"],
        rows[:TOP_AREAS],
        "areas",
        s.params("period", "activity"),
        not _all_shown(conn, s.period, s.activity, ALL_AREAS),
    )


def districts(conn: sqlite3.Connection, s: Selection) -> Figure:
    """People per offered postcode district, with its centre, for the map."""
    rows = conn.execute(
        "SELECT c.value, d.place, r.people, d.latitude, d.longitude FROM choices c "
        "JOIN districts d ON d.postcode_district = c.value JOIN people_reached r "
        "ON r.area = c.value AND r.period = ? AND r.activity = ? "
        "WHERE c.kind = 'area' AND c.detail LIKE '%Postcode district%' ORDER BY c.value",
        (s.period, s.activity),
    ).fetchall()
    return Figure(
        "districts",
        "Map of people by postcode district",
        "Each circle is a postcode district (such as NW1) at its centre; its area shows the "
        "people reached who live there. An open circle has too few people to show.",
        ["Postcode district", "Place", "People"],
        rows,
        "where_people_live",
        s.params("period", "activity"),
        not _all_shown(conn, s.period, s.activity, ALL_AREAS),
    )


def deciles(conn: sqlite3.Connection, s: Selection, too_few: bool, imported: bool) -> Figure:
    rows = _rows(conn, "deprivation_deciles", "decile, people, percent", s)
    note = (
        ""
        if imported
        else "Every decile is “Not known” until the ONS Postcode Directory is imported."
    )
    return Figure(
        "deprivation",
        "Deprivation of where people live",
        "People by the Index of Multiple Deprivation decile of their home area: 1 is the "
        "most deprived tenth of their country's areas, 10 the least. " + SMALL,
        ["Decile", "People", "Share (%)"],
        rows,
        "deprivation",
        s.params("period", "activity", "area"),
        too_few,
        note,
    )


def activities(conn: sqlite3.Connection, s: Selection) -> Figure:
    rows = conn.execute(
        "SELECT r.activity, r.people, r.attendances FROM choices c JOIN people_reached r "
        "ON r.activity = c.value AND r.period = ? AND r.area = ? "
        "WHERE c.kind = 'activity' ORDER BY c.position",
        (s.period, s.area),
    ).fetchall()
    return Figure(
        "activities",
        "What people came to",
        "People and attendances for each activity with enough people to list; all "
        "activities also counts the smaller ones. " + SMALL,
        ["Activity", "People", "Attendances"],
        rows,
        "activities",
        s.params("period", "area"),
        not _all_shown(conn, s.period, ALL_ACTIVITIES, s.area),
    )


def _area_rows(conn: sqlite3.Connection, table: str, columns: str, s: Selection) -> list[tuple]:
    """Rows of a table by period and area only (outcomes and scores are not by activity)."""
    sql = f"SELECT {columns} FROM {table} WHERE period = ? AND area = ? ORDER BY position"
    return conn.execute(sql, (s.period, s.area)).fetchall()


def outcomes(conn: sqlite3.Connection, s: Selection) -> Figure:
    rows = _area_rows(conn, "outcomes_achieved", "outcome, people", s)
    return Figure(
        "outcomes",
        "Outcomes achieved",
        "Different people who achieved each outcome in the period, from all activities. " + SMALL,
        ["Outcome", "People"],
        rows,
        "outcomes",
        s.params("period", "area"),
        not rows,
    )


def scores(conn: sqlite3.Connection, s: Selection) -> Figure:
    columns = "measure, people, average_first_score, average_last_score, average_change, "
    rows = _area_rows(conn, "score_changes", columns + "people_improved", s)
    return Figure(
        "scores",
        "What changed: wellbeing and health scores",
        "People scored twice or more in the period, from all activities: their average first "
        "and last score and how many improved (a lower score is better for PHQ-9 and GAD-7). "
        "Hidden below 10 people.",
        ["Measure", "People", "Average first", "Average last", "Average change", "Improved"],
        rows,
        "score_change",
        s.params("period", "area"),
        not rows,
    )


def coverage(conn: sqlite3.Connection) -> Figure:
    rows = conn.execute(
        "SELECT source, records, with_postcode_pct, with_age_pct, with_ethnicity_pct, "
        "last_successful_sync FROM coverage ORDER BY source"
    ).fetchall()
    return Figure(
        "coverage",
        "How complete and fresh the data is",
        "For each sheet, form or booking tool: its rows, the share giving a postcode, an age "
        "and an ethnic group, and when it last synced. Low shares mean figures leave people out.",
        [
            "Source",
            "Rows",
            "With postcode (%)",
            "With age (%)",
            "With ethnic group (%)",
            "Last synced",
        ],
        rows,
        "data_coverage",
        {},
    )


def figures(
    conn: sqlite3.Connection, s: Selection, vocab: Vocabulary, too_few: bool
) -> dict[str, Figure]:
    imported = conn.execute("SELECT 1 FROM about WHERE key = 'area_data'").fetchone() is not None
    every = [
        reach(conn, s, vocab),
        who(conn, s, too_few),
        areas(conn, s),
        districts(conn, s),
        deciles(conn, s, too_few, imported),
        activities(conn, s),
        sessions(conn, s, too_few),
        outcomes(conn, s),
        scores(conn, s),
        coverage(conn),
    ]
    return {f.key: f for f in every}
