"""The figures of the funder's overview (``dashboard.py``): rows of the protected tables.

Each function picks the rows of one protected table for a choice, in the order the
table gives them, with a one-line explanation; ``query`` names the canned query of
``funder_queries.yaml`` with the same rows, for staff. Nothing is counted here.
"""

from __future__ import annotations

import re
import sqlite3
from datetime import datetime

from harvest.publish.dashboard import (
    ALL_ACTIVITIES,
    ALL_AREAS,
    TOP_AREAS,
    Figure,
    Selection,
    Vocabulary,
)

CODE = re.compile(r"\b[a-z]+(_[a-z]+)+\b")
SMALL = "Each figure is rounded to 5 with a small fixed adjustment, so parts may not add up exactly to the total."


def in_words(label: str) -> str:
    """A published label with any field name in it as words: the standard's label
    "In another language (see preferred_language)" → "… (see preferred language)"."""
    return CODE.sub(lambda m: m.group(0).replace("_", " "), label)


def _groups(conn: sqlite3.Connection, table: str, s: Selection) -> list[tuple]:
    """A breakdown by characteristic, without its "Everyone" row (that is the headline)."""
    rows = _rows(conn, table, "characteristic, value, people, percent", s)
    return [(c, in_words(v), *rest) for c, v, *rest in rows if c != "Everyone"]


def _rows(conn: sqlite3.Connection, table: str, columns: str, s: Selection) -> list[tuple]:
    """A breakdown's rows for one choice of period, activity and area, in its order."""
    return conn.execute(
        f"SELECT {columns} FROM {table} WHERE period = ? AND activity = ? AND area = ? "
        "AND position >= 0 ORDER BY position",
        (s.period, s.activity, s.area),
    ).fetchall()


def series_kind(s: Selection, vocab: Vocabulary) -> str:
    """The type of period a series is by: the one chosen, else the chosen period's own
    type (a named period or all time: months)."""
    if s.period_type:
        return s.period_type
    kind = vocab.period(s.period).detail or "month"
    return kind if kind in ("month", "quarter", "year", "financial_year") else "month"


def _per(vocab: Vocabulary, kind: str) -> str:
    """ "Quarters (January to March is Q1)" → "quarter"."""
    per = vocab.period_types.get(kind, kind).split(" (")[0].lower()
    return per[:-1] if per.endswith("s") else per


def _series(
    conn: sqlite3.Connection, columns: str, s: Selection, kind: str, join: str = ""
) -> list[tuple]:
    """Rows of people_reached (``r``, and whatever ``join`` adds) for every period of a
    type, oldest first: the period's label, ``columns``, the period's value."""
    return conn.execute(
        f"SELECT c.label, {columns}, r.period FROM people_reached r JOIN choices c "
        f"ON c.kind = 'period' AND c.value = r.period {join} WHERE r.period_type = ? "
        "AND r.activity = ? AND r.area = ? ORDER BY c.position",
        (kind, s.activity, s.area),
    ).fetchall()


def reach(conn: sqlite3.Connection, s: Selection, vocab: Vocabulary) -> Figure:
    kind = series_kind(s, vocab)
    columns = "r.people, r.new_people, r.returning_people, r.attendances"
    rows = _series(conn, columns, s, kind)
    return Figure(
        "reach",
        "People reached over time",
        f"Different people who came to something, by {_per(vocab, kind)}; "
        "new means their first time ever. Hidden figures are too few to show.",
        ["Period", "People", "New", "Returning", "Attendances"],
        rows,
        "reach",
        {"period_type": kind, "activity": s.activity, "area": s.area},
    )


def volunteers(conn: sqlite3.Connection, s: Selection, vocab: Vocabulary) -> Figure:
    """Volunteers and their hours over time: a period with too few people says so."""
    kind = series_kind(s, vocab)
    columns = (
        "CASE WHEN r.shown = 1 THEN v.volunteers ELSE r.people END, "
        "CASE WHEN r.shown = 1 THEN v.hours_volunteered END"
    )
    join = "LEFT JOIN volunteering v USING (period, activity, area)"
    rows = _series(conn, columns, s, kind, join)
    return Figure(
        "volunteers",
        "Volunteers and the hours they gave",
        f"Different people who volunteered (their role is volunteer, or they gave hours), and "
        f"the hours they gave, by {_per(vocab, kind)}. Hours are moved by a small fixed "
        "amount, rounded to 5 and shown only beside a number of volunteers that is shown.",
        ["Period", "Volunteers", "Hours volunteered"],
        rows,
        "volunteers",
        {"period_type": kind, "activity": s.activity, "area": s.area},
    )


def _breakdown(
    conn: sqlite3.Connection, s: Selection, too_few: bool, key: str, table: str, *words: str
) -> Figure:
    """A breakdown by characteristic: ``words`` are its title, explanation and first heading."""
    title, explain, heading = words
    columns = [heading, "Group", "People", "Share (%)"]
    rows, params = _groups(conn, table, s), s.params("period", "activity", "area")
    return Figure(key, title, explain + " " + SMALL, columns, rows, key, params, too_few)


def who(conn: sqlite3.Connection, s: Selection, too_few: bool) -> Figure:
    explain = (
        "People by age band, gender, ethnic group and disability, each counted once. "
        "Groups of fewer than 8 (10 for ethnic group and disability) are hidden."
    )
    return _breakdown(
        conn, s, too_few, "who", "who_took_part", "Who took part", explain, "Characteristic"
    )


def circumstances(conn: sqlite3.Connection, s: Selection, too_few: bool) -> Figure:
    explain = (
        "People by religion, household income, English, household size, unpaid care, "
        "health, vulnerability, support needs, formats and food needs. Someone can have "
        "several needs and counts once in each, so those parts add up to more than everyone. "
        "Groups of fewer than 8 (10 for religion, care, health and needs) are hidden."
    )
    title = "Circumstances and needs"
    return _breakdown(
        conn, s, too_few, "circumstances", "people_circumstances", title, explain, "Circumstance"
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


def areas(conn: sqlite3.Connection, s: Selection, top: int | None = TOP_AREAS) -> Figure:
    """The areas with the most people (areas with too few come last, as published);
    ``top``: how many, or None for every area."""
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
        f"The {f'{top} ' if top else ''}areas (postcode districts, local authorities, counties, "
        "regions and countries) with the most people; an area is one place, so a person "
        "counts in each area they live in. " + SMALL,
        ["Area", "Type of area", "People"],
        rows[:top] if top else rows,
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
    rows = [
        (plain_name(source), *shares, when(synced))
        for source, *shares, synced in conn.execute(
            "SELECT source, records, with_postcode_pct, with_age_pct, with_ethnicity_pct, "
            "last_successful_sync FROM coverage ORDER BY source"
        )
    ]
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


def plain_name(name: str) -> str:
    """A source's name from harvest.yaml in words: "lunch_club_sheet" → "Lunch club sheet"."""
    words = name.replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:]


def when(stamp: str | None) -> str | None:
    """A UTC time stamp in words: "2026-03-05T10:08:47Z" → "5 March 2026 at 10:08 UTC"."""
    try:
        moment = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return stamp
    return f"{moment.day} {moment:%B %Y} at {moment:%H:%M} UTC"


def figures(
    conn: sqlite3.Connection,
    s: Selection,
    vocab: Vocabulary,
    too_few: bool,
    top: int | None = TOP_AREAS,
) -> dict[str, Figure]:
    """Every figure of the overview for a choice (``top``: how many areas to list)."""
    imported = conn.execute("SELECT 1 FROM about WHERE key = 'area_data'").fetchone() is not None
    every = [
        reach(conn, s, vocab),
        volunteers(conn, s, vocab),
        who(conn, s, too_few),
        circumstances(conn, s, too_few),
        areas(conn, s, top),
        districts(conn, s),
        deciles(conn, s, too_few, imported),
        activities(conn, s),
        sessions(conn, s, too_few),
        outcomes(conn, s),
        scores(conn, s),
        coverage(conn),
    ]
    return {f.key: f for f in every}
