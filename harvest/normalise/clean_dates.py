"""Clean a date cell: day/month/year in figures or words, Excel serials, compact figures;
a date of birth may not be in the future (see clean.py for the result's form)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from functools import lru_cache

from harvest.normalise.clean_common import CACHE_SIZE, Result

P_DATE = "not a date we recognise (day/month/year expected)"
P_DATE_REAL = "not a real date (day/month/year expected)"
P_DATE_PART = "only part of a date (day, month and year expected)"
P_DATE_YEAR = "not a believable year"
P_DATE_DUMMY = "looks like a placeholder date"
P_DATE_TWO_WAYS = "a date in figures only that could be read two ways (write it as day/month/year)"
P_DATE_FUTURE = "a date of birth in the future"


# --- date ------------------------------------------------------------------------------

_EXCEL_EPOCH = date(1899, 12, 30)
_PLACEHOLDER_DATES = frozenset({"1900-01-01", "1899-12-30", "1899-12-31"})
_YEAR_FIRST = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[t\s].*)?")
_DAY_FIRST = re.compile(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4}|\d{2})(?:[t\s,]+\d{1,2}[:.]\d\d.*)?")
_SERIAL = re.compile(r"\d{5}(?:\.\d+)?")
_COMPACT = re.compile(r"(\d{6}|\d{8})(?:\.0+)?")
_TIME = re.compile(r"\d{1,2}[:.]\d\d(?:[:.]\d\d)?\s*(?:am|pm)?|\b(?:gmt|bst|utc|z)\b")
_TOKEN = re.compile(r"[a-z]+|\d+")
_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            "jan january",
            "feb february",
            "mar march",
            "apr april",
            "may",
            "jun june",
            "jul july",
            "aug august",
            "sep sept september",
            "oct october",
            "nov november",
            "dec december",
        ),
        start=1,
    )
    for name in names.split()
}
_DATE_NOISE = frozenset(
    "monday mon tuesday tue tues wednesday wed thursday thu thur thurs friday fri saturday "
    "sat sunday sun st nd rd th of the on".split()
)


@lru_cache(maxsize=CACHE_SIZE)
def _clean_date(text: str, birth: bool) -> Result:
    """An ISO date. `birth`: two-digit years and the future are read as for a date of birth.

    Cached, so "today" is the day a value was first seen in this process.
    """
    parts = _date_parts(text.lower())
    if isinstance(parts, str):
        return None, parts
    year, month, day = parts
    if year < 100:
        latest = date.today().year + (0 if birth else 20)
        year += 2000 if 2000 + year <= latest else 1900
    if not 1850 <= year <= 2150:
        return None, P_DATE_YEAR
    try:
        iso = date(year, month, day).isoformat()
    except ValueError:
        return None, P_DATE_REAL
    if iso in _PLACEHOLDER_DATES:
        return None, P_DATE_DUMMY
    if birth and iso > date.today().isoformat():
        return None, P_DATE_FUTURE
    return iso, None


def _date_parts(text: str) -> tuple[int, int, int] | str:
    """(year, month, day) as written, or a problem."""
    if _SERIAL.fullmatch(text) and 10000 <= float(text) <= 80000:
        d = _EXCEL_EPOCH + timedelta(days=int(float(text)))
        return d.year, d.month, d.day
    m = _COMPACT.fullmatch(text)
    if m:
        return _compact_date(m.group(1))
    m = _YEAR_FIRST.fullmatch(text)
    if m:
        return int(m.group(1)), int(m.group(2)), int(m.group(3))
    m = _DAY_FIRST.fullmatch(text)
    if m:
        return int(m.group(3)), int(m.group(2)), int(m.group(1))
    return _worded_date(text)


def _compact_date(digits: str) -> tuple[int, int, int] | str:
    """A date in figures only: 19560125 (ISO basic, what databases export) or 25011956 (day
    first); 250156 (day first) or 560125 (year first). A problem when neither reading is a
    real date, or both are and they differ (010203)."""
    d = digits
    if len(d) == 8:
        readings = [(int(d[:4]), int(d[4:6]), int(d[6:])), (int(d[4:]), int(d[2:4]), int(d[:2]))]
    else:
        readings = [(int(d[4:]), int(d[2:4]), int(d[:2])), (int(d[:2]), int(d[2:4]), int(d[4:]))]
    real = list(dict.fromkeys(r for r in readings if _real_date(r, four_digit=len(d) == 8)))
    if not real:
        return P_DATE_REAL
    return real[0] if len(real) == 1 else P_DATE_TWO_WAYS


def _real_date(parts: tuple[int, int, int], four_digit: bool) -> bool:
    year, month, day = parts
    if four_digit and not 1850 <= year <= 2150:
        return False
    try:
        date(year if four_digit else 2000 + year, month, day)  # 2000: a leap year
    except ValueError:
        return False
    return True


def _worded_date(text: str) -> tuple[int, int, int] | str:
    """'3rd Mar 2026', 'Tuesday 3 March 2026', 'March 3, 2026'."""
    tokens = [t for t in _TOKEN.findall(_TIME.sub(" ", text)) if t not in _DATE_NOISE]
    months = [t for t in tokens if t in _MONTHS]
    numbers = [t for t in tokens if t.isdigit()]
    if len(months) != 1 or len(months) + len(numbers) != len(tokens):
        return P_DATE
    if len(numbers) < 2:
        return P_DATE_PART
    day, year = numbers[0], numbers[-1]
    if len(numbers) > 2 or len(day) > 2 or len(year) not in (2, 4):
        return P_DATE
    return int(year), _MONTHS[months[0]], int(day)
