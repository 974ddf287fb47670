"""The periods figures are published for: months, quarters, calendar and financial years,
all time, and the named periods of ``publish.periods`` in harvest.yaml.

Every month from the first to the last with any data is a period, so that a month with
no activity is listed like the others (its figures are "too few") and a period's
presence says nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from harvest.publish.privacy import GrantPeriod

ALL_TIME = "All time"
MONTH_NAMES = (
    "January February March April May June July August September October November December"
).split()
# period_type values, in the order they are offered
TYPES = {
    "month": "Months",
    "quarter": "Quarters (January to March is Q1)",
    "year": "Calendar years",
    "financial_year": "Financial years (April to March)",
    "named": "Named periods (grants)",
    "all": "All time",
}


@dataclass(frozen=True)
class Period:
    value: str
    kind: str  # a key of TYPES
    label: str


def month_range(first: str, last: str) -> list[str]:
    """Every month from ``first`` to ``last`` (YYYY-MM), both included."""
    year, month = int(first[:4]), int(first[5:7])
    out = []
    while f"{year:04d}-{month:02d}" <= last:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def quarter_of(month: str) -> str:
    return f"{month[:4]}-Q{(int(month[5:7]) - 1) // 3 + 1}"


def financial_year_of(month: str) -> str:
    start = int(month[:4]) - (1 if int(month[5:7]) < 4 else 0)
    return f"{start}/{(start + 1) % 100:02d}"


def periods_of(month: str) -> list[tuple[str, str]]:
    """The built-in periods a month falls in, as (value, kind)."""
    return [
        (month, "month"),
        (quarter_of(month), "quarter"),
        (month[:4], "year"),
        (financial_year_of(month), "financial_year"),
        (ALL_TIME, "all"),
    ]


def label(value: str, kind: str) -> str:
    if kind == "month":
        return f"{MONTH_NAMES[int(value[5:7]) - 1]} {value[:4]}"
    if kind == "quarter":
        return f"{value[:4]} quarter {value[-1]}"
    if kind == "financial_year":
        return f"April {value[:4]} to March {int(value[:4]) + 1}"
    return value


def build_periods(
    months: list[str], named: list[GrantPeriod]
) -> tuple[list[Period], dict[str, list[str]]]:
    """The periods to publish, in order, and each month's periods (values)."""
    filled = month_range(min(months), max(months)) if months else []
    seen: dict[str, Period] = {}
    member: dict[str, list[str]] = {}
    for month in filled:
        member[month] = []
        for value, kind in periods_of(month):
            seen.setdefault(value, Period(value, kind, label(value, kind)))
            member[month].append(value)
    for grant in named:
        seen[grant.name] = Period(
            grant.name, "named", f"{grant.name} ({grant.start} to {grant.end})"
        )
        for month in filled:
            if grant.start <= month <= grant.end:
                member[month].append(grant.name)
    seen.setdefault(ALL_TIME, Period(ALL_TIME, "all", ALL_TIME))
    order = list(TYPES)
    ordered = sorted(seen.values(), key=lambda p: (order.index(p.kind), p.value))
    return ordered, member
