"""Turn one raw row into a record of the standard: clean each mapped value, keep the rest.

Nothing typed is lost: the raw row is stored verbatim elsewhere; here a value that
cannot be cleaned becomes ``None`` in the record plus a problem naming the field and
the value, and every unmapped column is kept in ``extra``. A value that was kept but
is worth a word (a value in no list, kept as typed; a cell read as several values) is a
note: it is reported for the first row of a table that has it, not for every row. A postcode that
is not a UK one is also kept as text (``postcode_text``), for matching to compare.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from harvest.normalise.clean import Result, age_from_dob, postcode_text
from harvest.normalise.clean_lists import clean_cell
from harvest.normalise.mapping import ColumnMap
from harvest.normalise.standard import Field, Standard, load_standard

MAX_CELL = 10_000  # longer cells are kept in the raw row but flagged
MEMO_LIMIT = 20_000  # cleaned values remembered per column (values repeat: dates, activities)


@dataclass
class Normalised:
    fields: dict[str, Any]
    extra: dict[str, str]
    problems: list[tuple[str | None, str, str]] = field(
        default_factory=list
    )  # field, value, problem
    notes: list[tuple[str, str, str]] = field(default_factory=list)  # a kept value, explained
    postcode_text: str | None = None  # a postcode that is not a UK one, kept for matching


class RowNormaliser:
    """Cleans rows of one table, given its column mapping and the source's constants."""

    def __init__(
        self,
        headers: list[str],
        maps: list[ColumnMap],
        fill: dict[str, str] | None = None,
        today: date | None = None,
        standard: Standard | None = None,
    ) -> None:
        std = standard or load_standard()
        self.today = today or date.today()
        # (column, field name, field, the column's cleaned values by raw text)
        self.mapped: list[tuple[int, str, Field, dict[str, Result]]] = [
            (i, m.field, std.field(m.field), {}) for i, m in enumerate(maps) if m.field
        ]
        self.unmapped = [
            (i, h) for i, (h, m) in enumerate(zip(headers, maps, strict=False)) if not m.field
        ]
        # constants are the same on every row: cleaned once (those that clean to nothing drop)
        self.fill = [
            (k, clean) for k, v in (fill or {}).items()
            if (clean := clean_cell(std.field(k), v)[0]) is not None
        ]  # fmt: skip
        # a column that lost its field to another (a clash) fills it where that one is blank
        self.fallback: list[tuple[int, Field, dict[str, Result]]] = [
            (i, std.field(m.candidate), {})
            for i, m in enumerate(maps)
            if m.method == "clash" and m.candidate
        ]
        self._ages: dict[str, int | None] = {}

    def __call__(self, values: list[str]) -> Normalised:
        """Kept lean: this runs for every row landed. Cleaned values are remembered per
        column, as most columns hold few distinct values (dates, activities, answers)."""
        out: dict[str, Any] = {}
        problems: list[tuple[str | None, str, str]] = []
        notes: list[tuple[str, str, str]] = []
        kept: str | None = None
        for i, name, f, memo in self.mapped:
            raw = values[i]
            if not raw:
                continue
            cleaned = memo.get(raw)
            first = cleaned is None
            if cleaned is None:
                if len(raw) > MAX_CELL:  # never remembered: checked each time it is seen
                    problems.append(
                        (name, raw[:80] + "…", f"a very long value ({len(raw):,} characters)")
                    )
                    continue
                if len(memo) > MEMO_LIMIT:
                    memo.clear()
                cleaned = memo[raw] = clean_cell(f, raw)
            clean, problem = cleaned
            if problem is None:
                if clean is not None:
                    out[name] = clean
                continue
            if clean is None:
                problems.append((name, raw, problem))
                if name == "postcode":
                    kept = postcode_text(raw.strip())
                continue
            if first:  # a note on a kept value: once a table, not every row
                notes.append((name, raw, problem))
            out[name] = clean
        for i, f, memo in self.fallback:
            raw = values[i]
            if raw and f.name not in out and not any(p[0] == f.name for p in problems):
                if raw not in memo:
                    if len(memo) > MEMO_LIMIT:
                        memo.clear()
                    memo[raw] = clean_cell(f, raw)
                clean, problem = memo[raw]
                if clean is not None and problem is None:
                    out[f.name] = clean
        for name, clean in self.fill:
            if name not in out:
                out[name] = clean
        extra = {h: values[i] for i, h in self.unmapped if values[i]}
        derive(out, self.today, self._ages)
        return Normalised(out, extra, problems, notes, kept)


def derive(rec: dict[str, Any], today: date, ages: dict[str, int | None] | None = None) -> None:
    """Fill fields that follow from others: age from date of birth, names from each other.
    ``ages`` remembers ages by date of birth (for the same ``today``) across calls."""
    dob = rec.get("date_of_birth")
    if dob and "age" not in rec:
        if ages is None:
            age = age_from_dob(dob, today)
        elif (age := ages.get(dob, -1)) == -1:
            if len(ages) > MEMO_LIMIT:
                ages.clear()
            age = ages[dob] = age_from_dob(dob, today)
        if age is not None:
            rec["age"] = age
    given, family = rec.get("given_name"), rec.get("family_name")
    if "full_name" not in rec and (given or family):
        rec["full_name"] = f"{given} {family}" if given and family else given or family
    elif rec.get("full_name") and not (rec.get("given_name") or rec.get("family_name")):
        given, family = split_full_name(rec["full_name"])
        if given:
            rec["given_name"] = given
        if family:
            rec["family_name"] = family


TITLES = {"mr", "mrs", "ms", "miss", "mx", "dr", "rev", "prof", "sir", "dame"}


def split_full_name(name: str) -> tuple[str | None, str | None]:
    """Split a whole name: "Robert Smith", "SMITH Robert", "Smith, Robert", "Mrs J. Smith"."""
    if "," in name:
        family, _, given = name.partition(",")
        return given.strip() or None, family.strip() or None
    parts = [p for p in name.split() if p.lower().strip(".") not in TITLES]
    if len(parts) == 1:
        return parts[0], None
    if not parts:
        return None, None
    first = parts[0]
    if len(first) > 1 and first.isupper() and not all(p.isupper() for p in parts):
        return " ".join(parts[1:]), first.title()
    return " ".join(parts[:-1]), parts[-1]
