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
        self.mapped: list[tuple[int, Field, dict[str, Result]]] = [
            (i, std.field(m.field), {}) for i, m in enumerate(maps) if m.field
        ]
        self.unmapped = [
            (i, h) for i, (h, m) in enumerate(zip(headers, maps, strict=False)) if not m.field
        ]
        self.fill = [(std.field(k), v) for k, v in (fill or {}).items()]
        # a column that lost its field to another (a clash) fills it where that one is blank
        self.fallback = [(i, std.field(m.candidate)) for i, m in enumerate(maps)
                         if m.method == "clash" and m.candidate]  # fmt: skip

    def __call__(self, values: list[str]) -> Normalised:
        out: dict[str, Any] = {}
        problems: list[tuple[str | None, str, str]] = []
        notes: list[tuple[str, str, str]] = []
        kept: str | None = None
        for i, f, memo in self.mapped:
            raw = values[i]
            if not raw:
                continue
            if len(raw) > MAX_CELL:
                problems.append(
                    (f.name, raw[:80] + "…", f"a very long value ({len(raw):,} characters)")
                )
                continue
            cleaned = memo.get(raw)
            first = cleaned is None
            if cleaned is None:
                if len(memo) > MEMO_LIMIT:
                    memo.clear()
                cleaned = memo[raw] = clean_cell(f, raw)
            clean, problem = cleaned
            if problem and clean is None:
                problems.append((f.name, raw, problem))
                if f.name == "postcode":
                    kept = postcode_text(raw.strip())
            elif problem and first:  # a note on a kept value: once a table, not every row
                notes.append((f.name, raw, problem))
            if clean is not None:
                out[f.name] = clean
        for i, f in self.fallback:
            if values[i] and f.name not in out and not any(p[0] == f.name for p in problems):
                clean, problem = clean_cell(f, values[i])
                if clean is not None and problem is None:
                    out[f.name] = clean
        for f, raw in self.fill:
            if f.name not in out:
                clean, problem = clean_cell(f, raw)
                if clean is not None:
                    out[f.name] = clean
        extra = {h: values[i] for i, h in self.unmapped if values[i]}
        derive(out, self.today)
        return Normalised(out, extra, problems, notes, kept)


def derive(rec: dict[str, Any], today: date) -> None:
    """Fill fields that follow from others: age from date of birth, names from each other."""
    dob = rec.get("date_of_birth")
    if dob and "age" not in rec:
        age = age_from_dob(dob, today)
        if age is not None:
            rec["age"] = age
    if "full_name" not in rec and (rec.get("given_name") or rec.get("family_name")):
        rec["full_name"] = " ".join(p for p in (rec.get("given_name"), rec.get("family_name")) if p)
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
