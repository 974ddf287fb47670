"""What every cleaner shares: the ``(value, problem)`` result, blank, the cache size and the
placeholders that mean a cell was left empty (see clean.py)."""

from __future__ import annotations

Result = tuple[object | None, str | None]
EMPTY: Result = (None, None)
CACHE_SIZE = (
    16_384  # per cleaner: repeated values (dates, towns, categories) hit; memory stays flat
)

PLACEHOLDERS = frozenset(
    {
        "",
        "-",
        "--",
        "n/a",
        "na",
        "n.a.",
        "#n/a",
        "none",
        "null",
        "nan",
        "unknown",
        "not known",
        "?",
        "??",
        "tbc",
        "tba",
        "nil",
        ".",
        "not applicable",
    }
)
