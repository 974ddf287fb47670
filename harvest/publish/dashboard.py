"""The funder's dashboard: every figure of the overview, read from funders.db as published.

The overview (``plugins/harvest_dashboard.py`` shows it in the browser, ``report.py``
prints it as a PDF) only *picks rows* of the protected tables built at publish time
(``funders.py``): it never counts, adds or divides anything itself, so every figure is
exactly the one in the tables and downloads. A choice of period, activity and area
comes from the ``choices`` table; one with too few people says so in one line.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from harvest.errors import PublishError

PATH = "/dashboard"
TOO_FEW = "Too few people to show for this choice"
ALL_ACTIVITIES, ALL_AREAS, ALL_TIME = "All activities", "All areas", "All time"
TOP_AREAS = 10
# the period types shown as a series ("reach over time") for a chosen period's type
SERIES = {
    "month": "month",
    "quarter": "quarter",
    "year": "year",
    "financial_year": "financial_year",
}


@dataclass(frozen=True)
class Choice:
    value: str
    label: str
    detail: str | None = None


@dataclass(frozen=True)
class Selection:
    period: str
    activity: str = ALL_ACTIVITIES
    area: str = ALL_AREAS
    period_type: str = ""  # a series by this type of period; blank: the period's own

    def params(self, *names: str) -> dict[str, str]:
        return {n: getattr(self, n) for n in names}


@dataclass
class Vocabulary:
    """What a funder can choose from: the ``choices`` table."""

    periods: list[Choice]
    activities: list[Choice]
    areas: list[Choice]
    period_types: dict[str, str]  # kind → label, in order

    def period(self, value: str) -> Choice:
        return next(p for p in self.periods if p.value == value)

    def grouped_periods(self) -> list[tuple[str, list[Choice]]]:
        """Periods under their type's label, most recent first within a type."""
        groups = []
        for kind, label in self.period_types.items():
            members = [p for p in self.periods if p.detail == kind]
            groups.append((label, list(reversed(members))))
        return [(label, members) for label, members in groups if members]


@dataclass
class Figure:
    """One figure of the overview: a table as published, what it counts, its downloads."""

    key: str
    title: str
    explain: str
    columns: list[str]
    rows: list[tuple]
    query: str  # the canned query with the same rows, for staff
    params: dict[str, str]  # the choices it depends on
    too_few: bool = False
    note: str = ""

    def groups(self) -> list[tuple[str, list[tuple]]]:
        """The rows by their first column, in the table's order (who: by characteristic)."""
        out: dict[str, list[tuple]] = {}
        for row in self.rows:
            out.setdefault(row[0], []).append(row)
        return list(out.items())

    def link(self, extension: str = "") -> str:
        """Its own page (or, with ".csv" or ".xlsx", its download) for the same choice."""
        query = urlencode(self.params)
        return f"{PATH}/table/{self.key}{extension}" + (f"?{query}" if query else "")


@dataclass
class Overview:
    organisation: str
    selection: Selection
    vocabulary: Vocabulary
    about: dict[str, str]
    headline: dict[str, Any] | None  # None: too few people for this choice
    figures: dict[str, Figure] = field(default_factory=dict)

    @property
    def period_label(self) -> str:
        return self.vocabulary.period(self.selection.period).label

    @property
    def min_population(self) -> str:
        return self.about.get("min_population", "20")

    def describe(self) -> str:
        """The choice in words: "2026 quarter 1, all activities, all areas"."""
        s = self.selection
        return f"{self.period_label} · {s.activity} · {s.area}"


def connect(path: Any) -> sqlite3.Connection:
    """funders.db, read-only."""
    try:
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise PublishError(f"Could not open {path} ({exc}): run `harvest publish`.") from None


def vocabulary(conn: sqlite3.Connection) -> Vocabulary:
    rows = conn.execute(
        "SELECT kind, value, label, detail FROM choices ORDER BY kind, position"
    ).fetchall()
    by_kind: dict[str, list[Choice]] = {}
    for kind, value, label, detail in rows:
        by_kind.setdefault(kind, []).append(Choice(value, label, detail))
    types = {c.value: c.label for c in by_kind.get("period_type", [])}
    return Vocabulary(
        by_kind.get("period", []), by_kind.get("activity", []), by_kind.get("area", []), types
    )


def about(conn: sqlite3.Connection) -> dict[str, str]:
    return dict(conn.execute("SELECT key, value FROM about").fetchall())


def shown(conn: sqlite3.Connection, s: Selection) -> bool:
    row = conn.execute(
        "SELECT shown FROM people_reached WHERE period = ? AND activity = ? AND area = ?",
        (s.period, s.activity, s.area),
    ).fetchone()
    return bool(row and row[0])


def default_period(conn: sqlite3.Connection, vocab: Vocabulary) -> str:
    """The latest quarter with figures to show for everyone, else all time."""
    row = conn.execute(
        "SELECT period FROM people_reached WHERE period_type = 'quarter' AND shown = 1 "
        "AND activity = ? AND area = ? ORDER BY period DESC LIMIT 1",
        (ALL_ACTIVITIES, ALL_AREAS),
    ).fetchone()
    if row:
        return str(row[0])
    return ALL_TIME if any(p.value == ALL_TIME for p in vocab.periods) else vocab.periods[0].value


def check(vocab: Vocabulary, s: Selection) -> str | None:
    """A plain sentence about a choice that is not offered, or None."""
    offered = (
        ("period", s.period, vocab.periods),
        ("activity", s.activity, vocab.activities),
        ("area", s.area, vocab.areas),
    )
    for name, value, choices in offered:
        if value not in {c.value for c in choices}:
            return f"“{value}” is not one of the choices for {name}: choose one from the list."
    if s.period_type and s.period_type not in vocab.period_types:
        return f"“{s.period_type}” is not one of the choices for period type: choose one from the list."
    return None


def headline(conn: sqlite3.Connection, s: Selection) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT people, new_people, returning_people, attendances, shown FROM people_reached "
        "WHERE period = ? AND activity = ? AND area = ?",
        (s.period, s.activity, s.area),
    ).fetchone()
    if not row or not row[-1]:
        return None
    return dict(
        zip(("people", "new_people", "returning_people", "attendances"), row[:4], strict=True)
    )


def build(
    conn: sqlite3.Connection,
    s: Selection,
    organisation: str | None = None,
    top: int | None = TOP_AREAS,
) -> Overview:
    """The whole overview for one choice (checked against the vocabulary first); ``top``:
    how many areas to list, None for all."""
    from harvest.publish.figures import figures

    vocab = vocabulary(conn)
    problem = check(vocab, s)
    if problem:
        raise PublishError(problem)
    info = about(conn)
    name = organisation or info.get("organisation") or "This charity"
    overview = Overview(name, s, vocab, info, headline(conn, s))
    overview.figures = figures(conn, s, vocab, overview.headline is None, top)
    return overview


def selection_from(conn: sqlite3.Connection, args: dict[str, str]) -> Selection:
    """The choice in a request's (or the command line's) arguments; blanks are defaults."""
    period = args.get("period") or default_period(conn, vocabulary(conn))
    activity, area = args.get("activity") or ALL_ACTIVITIES, args.get("area") or ALL_AREAS
    return Selection(period, activity, area, args.get("period_type") or "")


def shown_value(value: Any) -> str:
    """A published value in plain words: ``<20`` → "fewer than 20", 160.0 → "160"."""
    if value is None:
        return "–"
    if isinstance(value, str):
        if value.startswith("<"):
            return f"fewer than {value[1:]}"
        return "hidden" if value == "suppressed" else value
    if isinstance(value, float) and value.is_integer():
        return f"{int(value):,}"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:g}"
