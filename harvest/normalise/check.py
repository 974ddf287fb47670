"""The data checker: per source, how complete the data is and what the worst problems are.

Only reads the store. The CLI turns these results into words a volunteer understands.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

COVERAGE_FIELDS = ("postcode", "age", "gender", "ethnicity", "email", "phone")


@dataclass
class ProblemGroup:
    field: str | None
    problem: str
    count: int
    examples: list[dict[str, Any]]  # location, row_number, value


@dataclass
class SourceCheck:
    source: str
    records: int = 0
    people: int = 0
    last_status: str | None = None
    last_finished: str | None = None
    last_success: str | None = None
    last_message: str | None = None
    last_rows: dict[str, int] = field(default_factory=dict)  # read, new, changed, unchanged
    coverage: dict[str, float] = field(default_factory=dict)  # field -> share of records with it
    problems: list[ProblemGroup] = field(default_factory=list)
    notes: list[ProblemGroup] = field(default_factory=list)  # values kept, with a word on them
    table_notes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def problem_count(self) -> int:
        return sum(p.count for p in self.problems)


def _coverage(db: sqlite_utils.Database, source: str, total: int) -> dict[str, float]:
    if not total:
        return {}
    sums = ", ".join(f"count([{f}])" for f in COVERAGE_FIELDS)
    row = db.execute(
        f"SELECT {sums} FROM records WHERE source = ? AND is_current = 1", [source]
    ).fetchone()
    return {f: n / total for f, n in zip(COVERAGE_FIELDS, row, strict=False)}


def _problems(
    db: sqlite_utils.Database, source: str, limit: int, notes: bool = False
) -> list[ProblemGroup]:
    """The commonest problems with values (or, with ``notes``, notes on values kept)."""
    kind = "i.severity = 'info'" if notes else "i.severity != 'info'"
    groups = db.execute(
        f"""SELECT i.field, i.problem, count(*) AS n FROM issues i
           JOIN records r ON r.id = i.record_id AND r.is_current = 1
           WHERE i.source = ? AND {kind}
           GROUP BY i.field, i.problem ORDER BY n DESC, i.field LIMIT ?""",
        [source, limit],
    ).fetchall()
    out = []
    for fname, problem, n in groups:
        examples = db.execute(
            """SELECT i.location, i.row_number, i.value FROM issues i
               JOIN records r ON r.id = i.record_id AND r.is_current = 1
               WHERE i.source = ? AND i.field IS ? AND i.problem = ?
               ORDER BY i.location, i.row_number LIMIT 3""",
            [source, fname, problem],
        ).fetchall()
        out.append(
            ProblemGroup(
                fname,
                problem,
                n,
                [{"location": loc, "row_number": rn, "value": v} for loc, rn, v in examples],
            )
        )
    return out


def check_source(db: sqlite_utils.Database, source: str, limit: int = 10) -> SourceCheck:
    result = SourceCheck(source)
    result.records, result.people = db.execute(
        "SELECT count(*), count(DISTINCT person_id) FROM records WHERE source = ? AND is_current = 1",
        [source],
    ).fetchone()
    last = db.execute(
        "SELECT status, finished_at, message, rows_read, rows_new, rows_changed, rows_unchanged"
        " FROM source_runs WHERE source = ? ORDER BY id DESC LIMIT 1",
        [source],
    ).fetchone()
    if last:
        result.last_status, result.last_finished, result.last_message = last[:3]
        result.last_rows = dict(zip(("read", "new", "changed", "unchanged"), last[3:], strict=True))
    success = db.execute(
        "SELECT last_success_at FROM source_state WHERE source = ?", [source]
    ).fetchone()
    result.last_success = success[0] if success else None
    result.coverage = _coverage(db, source, result.records)
    result.problems = _problems(db, source, limit)
    result.notes = _problems(db, source, limit, notes=True)
    result.table_notes = [
        {"location": loc, "problem": p, "severity": sev}
        for loc, p, sev in db.execute(
            """SELECT location, problem, severity FROM issues WHERE source = ? AND record_id IS NULL
               ORDER BY CASE severity WHEN 'error' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, id""",
            [source],
        ).fetchall()
    ]
    return result


def check(db: sqlite_utils.Database, sources: list[str], limit: int = 10) -> list[SourceCheck]:
    return [check_source(db, s, limit) for s in sources]


PROBLEM_COLUMNS = ("where", "row", "field", "value as typed", "problem", "severity")


def problem_rows(db: sqlite_utils.Database, source: str) -> list[tuple[Any, ...]]:
    """Every problem the checker knows for a source, one per row, for a sheet to fix:
    where (file and sheet), row number, field, the value as typed, the problem, severity.
    Problems with a whole table come first; then values, in sheet and row order."""
    return [
        tuple(row)
        for row in db.execute(
            """SELECT i.location, i.row_number, i.field, i.value, i.problem, i.severity
               FROM issues i LEFT JOIN records r ON r.id = i.record_id
               WHERE i.source = ? AND (i.record_id IS NULL OR r.is_current = 1)
               ORDER BY i.record_id IS NOT NULL, i.location, i.row_number, i.id""",
            [source],
        ).fetchall()
    ]
