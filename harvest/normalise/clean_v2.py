"""Cleaners for the fields of version 2 that need more than a value list: an income typed
as a figure, hours of unpaid care written in words, a DBS date, hours volunteered and
household sizes. Each returns a result as ``clean.clean_value`` does, or None to leave the
cell to the value-list cleaning of ``clean_lists``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from harvest.normalise.clean import EMPTY, PLACEHOLDERS, Result, clean_number, clean_value
from harvest.normalise.standard import Field

P_DBS_FUTURE = "a DBS certificate date in the future"
P_HOURS = "not a number of hours (such as 2.5, 2h30 or 2:30)"
P_HOURS_DAY = "more than 24 hours in one day"
P_HOUSEHOLD = "not a believable household size (1 to 30 people)"

INCOME_BANDS = (  # upper bound (exclusive) of each band, a year
    (10_000, "under_10k", "under £10,000"),
    (20_000, "10k_to_20k", "£10,000 to £19,999"),
    (30_000, "20k_to_30k", "£20,000 to £29,999"),
    (40_000, "30k_to_40k", "£30,000 to £39,999"),
    (60_000, "40k_to_60k", "£40,000 to £59,999"),
    (float("inf"), "60k_plus", "£60,000 or more"),
)
_FIGURE = re.compile(
    r"(?:about|around|approx\.?|roughly|c\.?)?\s*£?\s*(\d[\d,]*(?:\.\d+)?)\s*(k)?\s*"
    r"(?:(?:a|per|/|p|each)\s*)?(week|wk|w|month|mth|m|year|yr|annum|a|y)?\b\.?",
    re.IGNORECASE,
)
_PER = {"week": 52, "wk": 52, "w": 52, "month": 12, "mth": 12, "m": 12}
CARE_BANDS = (
    (10, "up_to_9_hours"),
    (20, "10_to_19_hours"),
    (35, "20_to_34_hours"),
    (50, "35_to_49_hours"),
    (24 * 7 + 1, "50_hours_or_more"),
)
_CARE_HOURS = re.compile(  # "about 15 hours", "20-34 hrs", "50+ hours": the lower figure
    r"^(?:yes\b)?\D*?(\d+(?:\.\d+)?)(?:\s*(?:-|–|to)\s*\d+)?\+?\s*(?:hours?|hrs?|h)\b",
    re.IGNORECASE,
)
_HOURS = re.compile(
    r"(\d+(?:\.\d+)?)\s*(?:h|hrs?|hours?)\.?\s*(?:(\d+)\s*(?:m|mins?|minutes?)?\.?)?"
    r"|()(\d+)\s*(?:m|mins?|minutes?)\.?",
    re.IGNORECASE,
)
_CLOCK = re.compile(r"(\d{1,2})[:.](\d{2})")
_PEOPLE = re.compile(
    r"(\d+)\s*(?:adults?|children|child|kids?|babies|baby|people|persons?|teenagers?|infants?)",
    re.IGNORECASE,
)


def clean_income(field: Field, text: str) -> Result | None:
    """A figure typed for income ("£12,500", "£250 a week", "1.2k per month") → its band,
    with a note; anything else goes to the value list (bands, "prefer not to say")."""
    m = _FIGURE.fullmatch(text.strip())
    if not m or not any(c.isdigit() for c in text) or re.search(r"\d\s*[-–]\s*£?\d", text):
        return None
    amount = float(m.group(1).replace(",", "")) * (1000 if m.group(2) else 1)
    yearly = amount * _PER.get((m.group(3) or "").lower(), 1)
    upper, band, label = next(b for b in INCOME_BANDS if yearly < b[0])
    note = f"{text!r} is a figure, not a band: put in the band {label}"
    if yearly != amount:
        note += f" (£{yearly:,.0f} a year)"
    return band, note


def clean_unpaid_care(field: Field, text: str) -> Result | None:
    """'Yes - about 15 hours a week' → the ONS band for 15 hours."""
    m = _CARE_HOURS.match(text)
    if not m or text.lower().startswith(("no", "0")):
        return None
    hours = float(m.group(1))
    band = next(b for upper, b in CARE_BANDS if hours < upper) if hours < 24 * 7 + 1 else None
    return (band, None) if band else None


def clean_dbs_date(field: Field, text: str) -> Result:
    value, problem = clean_value(field, text)
    if isinstance(value, str) and value > date.today().isoformat():
        return None, P_DBS_FUTURE
    return value, problem


def clean_hours(field: Field, text: str) -> Result:
    """Hours volunteered: '2.5', '2h30', '2 hrs 30 mins', '2:30', '90 mins', '3 hours'."""
    said = text.strip().lower()
    if said in PLACEHOLDERS:
        return EMPTY
    hours = _hours(said)
    if hours is None:
        return None, P_HOURS
    if hours > 24:
        return None, P_HOURS_DAY
    return (int(hours) if hours.is_integer() else round(hours, 2)), None


def _hours(said: str) -> float | None:
    value, problem = clean_number(said)
    if isinstance(value, int | float):
        return float(value)
    clock = _CLOCK.fullmatch(said)
    if clock:
        return int(clock.group(1)) + int(clock.group(2)) / 60
    m = _HOURS.fullmatch(said)
    if m:
        minutes = m.group(2) or m.group(4) or 0
        return float(m.group(1) or 0) + int(minutes) / 60
    return None


def clean_household(field: Field, text: str) -> Result:
    """A household size: '4', or '2 adults, 3 children' → 5, with a note."""
    if text.strip().lower() in PLACEHOLDERS:
        return EMPTY
    parts = _PEOPLE.findall(text)
    if len(parts) > 1:
        size = sum(int(p) for p in parts)
        return size, f"{text!r} read as a household of {size}"
    value, problem = clean_value(field, text)
    if isinstance(value, int) and not 1 <= value <= 30:
        return None, P_HOUSEHOLD
    return value, problem


SPECIAL_CLEANERS: dict[str, Callable[[Field, str], Result | None]] = {
    "income_band": clean_income,
    "unpaid_carer": clean_unpaid_care,
    "dbs_date": clean_dbs_date,
    "volunteer_hours": clean_hours,
    "household_size": clean_household,
    "volunteer_household_size": clean_household,
}
