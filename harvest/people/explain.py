"""Why a person's records were joined: `harvest person ID`.

For every join there is a reason a person can check: the same details typed again
(identical), a link the model made (each comparison with its weight in bits, or
the exact key that joined them), or a decision ("marked same by Ann on 2026-03-01").
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from harvest.errors import UnknownPerson
from harvest.people.features import IDENTITY, NOT_UK
from harvest.people.match import profile_hash
from harvest.store import PERSON_FIELDS

RECORD_COLUMNS = ("id", "source", "location", "row_number", *IDENTITY, "postcode_text")


@dataclass
class Join:
    record_a: int
    record_b: int
    kind: str  # identical | link | decision
    probability: float | None = None
    comparisons: list = field(default_factory=list)
    note: str = ""


@dataclass
class PersonExplanation:
    person_id: int
    asked: int
    person: dict[str, Any]
    records: list[dict[str, Any]]
    joins: list[Join]


def resolve(db: sqlite_utils.Database, person_id: int) -> int:
    row = db.execute(
        "SELECT person_id FROM person_merges WHERE merged_id = ?", [person_id]
    ).fetchone()
    return int(row[0]) if row else person_id


def explain_person(db: sqlite_utils.Database, asked: int) -> PersonExplanation:
    person_id = resolve(db, asked)
    cols = ["person_id", *PERSON_FIELDS, "first_seen", "last_seen", "record_count", "sources"]
    row = db.execute(
        f"SELECT {', '.join(f'[{c}]' for c in cols)} FROM people WHERE person_id = ?", [person_id]
    ).fetchone()
    if row is None:
        raise UnknownPerson(
            f"There is no person {asked} (see the people table, or "
            "`harvest review` for pairs waiting to be checked)."
        )
    person = dict(zip(cols, row, strict=False))
    person["sources"] = json.loads(person["sources"] or "[]")
    records = [
        dict(zip(RECORD_COLUMNS, r, strict=False))
        for r in db.execute(
            f"SELECT {', '.join(f'[{c}]' for c in RECORD_COLUMNS)} FROM records"
            " WHERE person_id = ? AND is_current = 1 ORDER BY id",
            [person_id],
        ).fetchall()
    ]
    return PersonExplanation(person_id, asked, person, records, _joins(db, records))


def _matched_values(record: dict[str, Any]) -> tuple:
    """The record's identifying values as matching reads them (features.IDENTITY_SQL)."""
    text = record["postcode_text"]
    postcode = record["postcode"] or (NOT_UK + text if text else None)
    return tuple(postcode if f == "postcode" else record[f] for f in IDENTITY)


def _joins(db: sqlite_utils.Database, records: list[dict[str, Any]]) -> list[Join]:
    profile_of = {r["id"]: profile_hash(_matched_values(r)) for r in records}
    first: dict[int, int] = {}
    joins = []
    for rid, h in profile_of.items():
        if h in first:
            joins.append(Join(first[h], rid, "identical", note="the same details again"))
        else:
            first[h] = rid
    hashes = list(first)
    if len(hashes) < 2:
        return joins
    marks = ",".join("?" * len(hashes))
    pairs = db.execute(
        f"""SELECT profile_a, profile_b, probability, status, comparisons FROM match_pairs
            WHERE profile_a IN ({marks}) AND profile_b IN ({marks})
            AND status IN ('link', 'joined', 'decided') ORDER BY probability DESC""",
        hashes + hashes,
    ).fetchall()
    decided = _decisions(db, hashes)
    for pa, pb, prob, _status, comparisons in pairs:
        parts = json.loads(comparisons or "[]")
        join = Join(first[pa], first[pb], "link", prob, parts)
        if (pa, pb) in decided:
            join.kind, join.note = "decision", decided.pop((pa, pb))
        joins.append(join)
    for (pa, pb), note in decided.items():
        joins.append(Join(first[pa], first[pb], "decision", note=note))
    return joins


def _decisions(db: sqlite_utils.Database, hashes: list[int]) -> dict[tuple[int, int], str]:
    marks = ",".join("?" * len(hashes))
    out = {}
    for pa, pb, decision, by, at in db.execute(
        f"""SELECT profile_a, profile_b, decision, decided_by, decided_at FROM match_decisions
            WHERE undone_at IS NULL AND profile_a IN ({marks}) AND profile_b IN ({marks})
            ORDER BY id""",
        hashes + hashes,
    ).fetchall():
        if decision == "same":
            out[(pa, pb)] = f"marked same by {by or 'someone'} on {at[:10]}"
        else:
            out.pop((pa, pb), None)
    return out


def reason(join: Join) -> str:
    """Why two records were joined, in words: "the same details again", "linked at 91.2%
    — given name same (+3.1); …" or "marked same by Ann on 2026-03-01"."""
    if join.kind == "identical":
        return join.note
    parts = [p for p in join.comparisons if p[0] != "exact key"]
    exact = [p[1] for p in join.comparisons if p[0] == "exact key"]
    text = "; ".join(f"{name} {level} ({bits:+.1f})" for name, level, bits in parts)
    head = (
        join.note
        if join.kind == "decision"
        else (exact[0] if exact else f"linked at {join.probability:.2%}")
    )
    return f"{head} — {text}" if text else head
