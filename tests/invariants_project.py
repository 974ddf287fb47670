"""A small project for the invariant tests: people, sources written for real, and what the
store must show. tests/test_invariants.py drives it with a Hypothesis state machine."""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from conftest import query
from openpyxl import Workbook

# Each person's ways of being written down: given names, family names, dates of birth,
# postcodes, emails, phones. Nicknames, typos, blanks, a household and twins, so that
# matching links, holds and asks.
PEOPLE = [
    (
        ("Margaret", "Maggie", "Margret"),
        ("Doyle",),
        ("1948-11-17", "17/11/1948", ""),
        ("NW1 7QT", "NW17QT"),
        ("margaret.doyle@example.org", ""),
        ("020 7946 0412", ""),
    ),
    (
        ("Robert", "Bob", "Rob"),
        ("Okafor", "Okafur"),
        ("1961-03-02", "02/03/1961", ""),
        ("NW1 2AB",),
        ("bob.okafor@example.org", ""),
        ("07700 900123", ""),
    ),
    (("Ann", "Anne"), ("Lee",), ("1950-02-01", ""), ("M1 1AE",), ("",), ("07700 900124", "")),
    (("Amy",), ("Lee",), ("1979-06-05",), ("M1 1AE",), ("",), ("07700 900124", "")),
    (
        ("Sam", "Samuel"),
        ("Patel",),
        ("2001-04-04", ""),
        ("B1 1AA",),
        ("sam@example.org", ""),
        ("",),
    ),
    (("Sana",), ("Patel",), ("2001-04-04",), ("B1 1AA",), ("",), ("",)),
    (
        ("Tom", "Thomas"),
        ("Baker",),
        ("1960-01-01", "1960-01-10", ""),
        ("E8 3PN", "E8 3PM"),
        ("tom@example.org", ""),
        ("",),
    ),
    (
        ("Gurpreet",),
        ("Sandhu", "Sandu"),
        ("1958-04-14", ""),
        ("NW5 1TL",),
        ("",),
        ("+44 7700 900344",),
    ),
    (("John", "Jon"), ("Smith",), ("1970-01-01", ""), ("E1 6AN", "E1 6AB", ""), ("",), ("",)),
    (("John",), ("Smith", "Smyth"), ("1985-05-05", ""), ("E1 6AN", ""), ("",), ("",)),
]
FIELDS = ("First name", "Surname", "Date of birth", "Postcode", "Email", "Phone")
OPTIONAL = ("Date of birth", "Postcode", "Email", "Phone", "Notes")  # columns that may go
SHEET_NAMES = ("March", "April", "May", "Sheet1", "Spring")
MOST_ROWS = 12  # per source


def person_row(who: int, choice: tuple[int, ...], note: str = "") -> dict[str, str]:
    """One way of writing down person ``who``: ``choice`` picks each field's variant."""
    variants = PEOPLE[who % len(PEOPLE)]
    row = {f: v[c % len(v)] for f, v, c in zip(FIELDS, variants, choice, strict=False)}
    row["Notes"] = note
    return row


@dataclass
class Source:
    name: str
    kind: str  # csv | xlsx
    ids: bool = False  # a column of the source's own ids
    columns: list[str] = field(default_factory=lambda: [*FIELDS, "Notes"])
    rows: list[dict[str, str]] = field(default_factory=list)
    sheets: list[str] = field(default_factory=lambda: ["March", "April"])

    @property
    def file(self) -> str:
        return f"{self.name}.{self.kind}"

    def config(self) -> dict:
        out: dict = {"name": self.name, "type": "file", "options": {"path": self.file}}
        out["mapping"] = {"ID": "source_record_id", "Notes": None} if self.ids else {"Notes": None}
        return out

    def headers(self) -> list[str]:
        return (["ID"] if self.ids else []) + self.columns

    def table(self, rows: list[dict[str, str]]) -> list[list[str]]:
        return [self.headers()] + [[r.get(h, "") for h in self.headers()] for r in rows]

    def written(self) -> list[dict[str, str]]:
        """Each row as it is in the file: header → text."""
        return [{h: r.get(h, "") for h in self.headers()} for r in self.rows]


@dataclass
class Project:
    folder: Path
    sources: list[Source]
    clock: int = 0  # file times move on by a second at each write

    def write_config(self) -> Path:
        data = {
            "organisation": "Invariant Trust",
            "database": "harvest.db",
            "sources": [s.config() for s in self.sources],
            # a wide review band and one exact key: more questions for review to answer
            "matching": {"merge_above": 0.9995, "review_above": 0.05, "exact_keys": ["email"]},
        }
        path = self.folder / "harvest.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return path

    def write(self, source: Source) -> None:
        path = self.folder / source.file
        if source.kind == "csv":
            with path.open("w", newline="", encoding="utf-8") as fh:
                csv.writer(fh).writerows(source.table(source.rows))
        else:
            book = Workbook()
            book.remove(book.active)
            for i, name in enumerate(source.sheets):
                sheet = book.create_sheet(name)
                for line in source.table(source.rows[i :: len(source.sheets)]):
                    sheet.append(line)
            book.save(path)
        self.clock += 1
        stamp = (1_800_000_000 + self.clock) * 10**9
        os.utime(path, ns=(stamp, stamp))

    @property
    def db(self) -> Path:
        return self.folder / "harvest.db"


def raw_rows(db: Path) -> dict[int, tuple]:
    """Every raw row version: id → (source, key, version, content hash, data)."""
    if not db.exists():
        return {}
    rows = query(db, "SELECT id, source, source_key, version, content_hash, data FROM raw_rows")
    return {r[0]: r[1:] for r in rows}


def cells(data: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """A row as header → text pairs, blanks included (a row's content is its headers too)."""
    return tuple(sorted((k, v or "") for k, v in data.items()))


def landed(db: Path, source: str) -> set[tuple]:
    """The rows of a source the store holds, as header → text."""
    rows = query(db, "SELECT data FROM raw_rows WHERE source = ?", (source,))
    return {cells(json.loads(d)) for (d,) in rows}


def people(db: Path) -> dict[int, frozenset[int]]:
    """Person id → the ids of their current records."""
    out: dict[int, set[int]] = {}
    for rid, pid in query(db, "SELECT id, person_id FROM records WHERE is_current = 1"):
        out.setdefault(pid, set()).add(rid)
    return {p: frozenset(r) for p, r in out.items()}


def partition(db: Path) -> set[frozenset[int]]:
    return set(people(db).values())
