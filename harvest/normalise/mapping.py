"""Map a table's columns onto fields of the standard.

Three ways, strongest first: the source's ``mapping:`` in harvest.yaml, a HXL
hashtag row under the headers, and the header text compared with each field's
synonyms (rapidfuzz). A header match to a field with a fixed list of values
(attendance_status, gender, role…) must also be borne out by a sample of the
column's values: a "Status" column of "Member" and "Volunteer" is not an attendance
status. Each field takes at most one column; a column that maps to nothing is kept
as an unmapped extra, never dropped.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from functools import cache

from rapidfuzz import fuzz

from harvest.connectors.base import Table
from harvest.normalise.clean import EMPTY
from harvest.normalise.clean_lists import clean_cell
from harvest.normalise.standard import Standard, load_standard

AUTO_THRESHOLD = 82.0
VALUE_SAMPLE = 50  # rows whose values must bear out a header match to a fixed list of values
STOPWORDS = {
    "what",
    "is",
    "your",
    "please",
    "enter",
    "the",
    "a",
    "an",
    "you",
    "do",
    "are",
    "s",
    "of",
    "my",
    "their",
    "persons",
    "person",
    "optional",
    "required",
}


@dataclass
class ColumnMap:
    """Where one column goes: a field (or None), how sure we are (0-100) and why."""

    header: str
    field: str | None
    confidence: float
    method: str  # config, hxl, auto, unmapped, clash, values, ignored (config says null)
    hashtag: str = ""
    candidate: str | None = None  # for a clash: the field another column took; for
    # values: the field the header looked like, whose allowed values the column's are not
    examples: list[str] = dataclasses.field(default_factory=list)  # for values: values not allowed


def normalise_header(text: str) -> str:
    words = re.sub(r"[^a-z0-9#]+", " ", text.lower()).split()
    kept = [w for w in words if w not in STOPWORDS]
    return " ".join(kept or words)


@cache
def _synonym_index() -> list[tuple[str, str]]:
    std = load_standard()
    pairs: list[tuple[str, str]] = []
    for f in std.fields:
        for text in (f.name.replace("_", " "), *f.synonyms):
            pairs.append((normalise_header(text), f.name))
    return pairs


def score_header(header: str) -> tuple[str | None, float]:
    """The best field for a header by its text, and a confidence from 0 to 100."""
    h = normalise_header(header)
    if not h:
        return None, 0.0
    best: tuple[str | None, float] = (None, 0.0)
    for syn, name in _synonym_index():
        if h == syn:
            return name, 100.0
        score = max(fuzz.ratio(h, syn), fuzz.token_sort_ratio(h, syn))
        if len(syn) >= 6 and " " in syn or len(syn) >= 8:
            # "how would you describe your ethnic group" contains "ethnic group"
            score = max(score, fuzz.token_set_ratio(h, syn) * 0.92)
        if score > best[1]:
            best = (name, score)
    return best


def _config_lookup(mapping: dict[str, str | None]) -> dict[str, str | None]:
    return {normalise_header(k) or k.strip().lower(): v for k, v in mapping.items()}


def map_table(table: Table, config_mapping: dict[str, str | None] | None = None) -> list[ColumnMap]:
    """Map a table's columns, looking at its first rows as well as its headers.

    The rows looked at stay in ``table.rows``, to be read as usual.
    """
    sample = table.peek(VALUE_SAMPLE)
    return map_columns(table.headers, table.hxl, config_mapping, samples=[r.values for r in sample])


def map_columns(
    headers: list[str],
    hxl: list[str] | None = None,
    config_mapping: dict[str, str | None] | None = None,
    standard: Standard | None = None,
    samples: list[list[str]] | None = None,
) -> list[ColumnMap]:
    """Propose a field for every column; resolve clashes so each field has one column.

    ``samples`` (rows of values) turn away a header match to a field with a fixed
    list of values when most of the column's values are not among them.
    """
    std = standard or load_standard()
    by_config = _config_lookup(config_mapping or {})
    maps: list[ColumnMap] = []
    for i, header in enumerate(headers):
        tag = (hxl[i] if hxl and i < len(hxl) else "") or ""
        key = normalise_header(header) or header.strip().lower()
        if key in by_config:
            target = by_config[key]
            maps.append(ColumnMap(header, target, 100.0, "config" if target else "ignored", tag))
            continue
        hxl_field = std.match_hashtag(tag) if tag else None
        if hxl_field:
            maps.append(ColumnMap(header, hxl_field.name, 100.0, "hxl", tag))
            continue
        name, score = score_header(header)
        if name and score >= AUTO_THRESHOLD:
            maps.append(ColumnMap(header, name, round(score, 1), "auto", tag))
        else:
            maps.append(ColumnMap(header, None, round(score, 1), "unmapped", tag))
    for i, m in enumerate(maps):
        if m.method == "auto" and samples:
            _bear_out(m, [row[i] for row in samples if i < len(row)], std)
    return _resolve_clashes(maps)


def _bear_out(m: ColumnMap, values: list[str], std: Standard) -> None:
    """Undo a header match to a field with a fixed list of values (an attendance status,
    a gender) if fewer than half of the column's non-blank values are among them."""
    assert m.field is not None
    target = std.field(m.field)
    if target.values is None:
        return
    said = [v for v in values if v.strip() and clean_cell(target, v) != EMPTY]
    wrong = [v for v in said if clean_cell(target, v)[0] is None]
    if said and len(wrong) * 2 > len(said):
        m.method, m.candidate, m.field = "values", m.field, None
        m.examples = list(dict.fromkeys(v.strip() for v in wrong))[:3]


def _resolve_clashes(maps: list[ColumnMap]) -> list[ColumnMap]:
    rank = {"config": 3, "hxl": 2, "auto": 1}
    winner: dict[str, int] = {}
    for i, m in enumerate(maps):
        if m.field is None:
            continue
        j = winner.get(m.field)
        if j is None or (rank[m.method], m.confidence) > (rank[maps[j].method], maps[j].confidence):
            winner[m.field] = i
    for i, m in enumerate(maps):
        if m.field is not None and winner[m.field] != i:
            m.method, m.candidate, m.field = "clash", m.field, None
    return maps
