"""The review queue: pairs that may be the same person, and people's decisions on them.

Matching merges the definite pairs by itself; the uncertain ones wait here. A
decision ("same" or "different") is kept in ``match_decisions`` with who made it
and when, and always wins over the score: a pair marked different is never merged
again, one marked same always is. Undoing a decision keeps it, marked undone.
Decisions are taken in the terminal (``harvest review``) or through a spreadsheet
(``--export`` / ``--import``) for staff who live in Excel.

``--joins`` asks about a sample of the joins matching made by itself instead, the
weakest first: a "different" splits the person, and enough answers move
``merge_above`` (up when the joins near it were often wrong; decisions.calibrate).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation

from harvest import audit
from harvest.config import MatchingConfig
from harvest.errors import ReviewError
from harvest.people.decisions import Settled
from harvest.people.match import MatchSummary, recluster
from harvest.people.match_state import EXACT_KEY, QUEUE_SQL, pending_questions
from harvest.private_files import private_file
from harvest.store import now, transaction

SHOWN = {  # field → label, in the order a person reads them
    "given_name": "Given name",
    "family_name": "Family name",
    "date_of_birth": "Date of birth",
    "postcode": "Postcode",
    "address": "Address",
    "email": "Email",
    "phone": "Phone",
}
COMPARED = {  # shown field → the comparison matching made of it
    "given_name": "given",
    "family_name": "family",
    "date_of_birth": "dob",
    "postcode": "location",
    "address": "location",
    "email": "email",
    "phone": "phone",
}
DECISIONS = ("same", "different", "skip")
PAIR_SHEET, HELP_SHEET = "Pairs", "Instructions"


@dataclass
class Side:
    record_id: int
    source: str
    location: str
    row_number: int | None
    values: dict[str, Any]


@dataclass
class Pair:
    key: str  # "profile_a:profile_b"
    probability: float
    status: str
    comparisons: list
    a: Side
    b: Side

    def agreement(self, name: str) -> str:
        """'same', 'alike' (see ``alike``), 'differ' or '' (one side blank) for a shown field."""
        x, y = self.a.values.get(name), self.b.values.get(name)
        if not x or not y:
            return ""
        if str(x).casefold() == str(y).casefold():
            return "same"
        return "alike" if self.alike(name) else "differ"

    def alike(self, name: str) -> str:
        """How matching saw two different values of a field, when not as different:
        "nickname", "similar", "day and month swapped", "same sector"…; else ''."""
        found = [c[1] for c in self.comparisons if c and c[0] == COMPARED.get(name)]
        return found[0] if found and not found[0].startswith("different") else ""


def _side(db: sqlite_utils.Database, record_id: int) -> Side:
    cols = ", ".join(f"[{f}]" for f in SHOWN)
    row = db.execute(
        f"SELECT source, location, row_number, {cols} FROM records WHERE id = ?", [record_id]
    ).fetchone()
    if row is None:
        return Side(record_id, "?", "?", None, {})
    return Side(record_id, row[0], row[1] or "", row[2], dict(zip(SHOWN, row[3:], strict=False)))


def _pair(db: sqlite_utils.Database, row: tuple) -> Pair:
    pa, pb, ra, rb, prob, status, comparisons = row
    return Pair(
        f"{pa}:{pb}", prob, status, json.loads(comparisons or "[]"), _side(db, ra), _side(db, rb)
    )


PAIR_SQL = """SELECT profile_a, profile_b, record_a, record_b, probability, status, comparisons
              FROM match_pairs"""


def queue(db: sqlite_utils.Database, limit: int | None = None) -> list[Pair]:
    """What waits for a person, most likely first: one question per pair of people.

    Two people can be linked by several uncertain pairs of their records; the
    strongest stands for them all (a "same" joins the two people, and a "different"
    keeps them apart, so the others need no answer).
    """
    sql = (
        QUEUE_SQL
        + " SELECT profile_a, profile_b, record_a, record_b, probability, status, comparisons"
        " FROM ranked WHERE rank = 1 ORDER BY probability DESC, profile_a, profile_b"
    )
    if limit:
        sql += f" LIMIT {int(limit)}"
    return [_pair(db, r) for r in db.execute(sql).fetchall()]


JOINS_SQL = """
WITH joins AS (
  SELECT m.profile_a, m.profile_b, m.record_a, m.record_b, m.probability, m.status,
         m.comparisons, ra.person_id
  FROM match_pairs m
  JOIN records ra ON ra.id = m.record_a
  JOIN records rb ON rb.id = m.record_b
  WHERE m.status = 'link' AND ra.person_id = rb.person_id AND m.probability < ?
    AND NOT EXISTS (
      SELECT 1 FROM match_decisions d WHERE d.profile_a = m.profile_a
        AND d.profile_b = m.profile_b AND d.undone_at IS NULL)
)
SELECT profile_a, profile_b, record_a, record_b, probability, status, comparisons, person_id
FROM joins ORDER BY probability, profile_a, profile_b"""


def joins(db: sqlite_utils.Database, limit: int | None = None) -> list[Pair]:
    """Joins matching made by itself and nobody has checked, the weakest first: one per
    person (its weakest link). Links on an exact key are left out: those follow the
    charity's own ``exact_keys`` rule, not the score; so are links whose two profiles
    "same" answers already join (through other profiles: asking again could only
    contradict them)."""
    settled, asked, out = Settled(db), set(), []
    for row in db.execute(JOINS_SQL, [EXACT_KEY]).fetchall():
        if row[-1] not in asked and settled.says(row[0], row[1]) != "same":
            asked.add(row[-1])
            out.append(_pair(db, row[:-1]))
    return out[:limit] if limit else out


def queue_size(db: sqlite_utils.Database) -> int:
    """How many questions wait in the queue (pairs of people, see ``queue``)."""
    return pending_questions(db)


def find_pair(db: sqlite_utils.Database, key: str) -> Pair | None:
    try:
        pa, pb = (int(x) for x in key.strip().split(":"))
    except ValueError:
        return None
    row = db.execute(f"{PAIR_SQL} WHERE profile_a = ? AND profile_b = ?", [pa, pb]).fetchone()
    return _pair(db, row) if row else None


def decide(db: sqlite_utils.Database, pair: Pair, decision: str, by: str, via: str) -> int:
    """Record a decision; return its id. The caller re-clusters (``apply``)."""
    if decision not in ("same", "different"):
        raise ReviewError(f"a decision is 'same' or 'different', not {decision!r}")
    pa, pb = (int(x) for x in pair.key.split(":"))
    said = Settled(db, leave_out=(pa, pb)).says(pa, pb)  # a new answer replaces its own
    if said is not None and said != decision:
        raise ReviewError(
            f"pair {pair.key}: earlier answers already say "
            + ("these are the same person" if said == "same" else "these are different people")
            + f", so {decision!r} would contradict them; undo those first (harvest review"
            " --undo)"
        )
    cur = db.execute(
        "INSERT INTO match_decisions (profile_a, profile_b, record_a, record_b, decision,"
        " probability, decided_by, decided_at, via) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [pa, pb, pair.a.record_id, pair.b.record_id, decision, pair.probability, by, now(), via],
    )
    audit.record(db, f"review.{decision}", {"decisions": 1}, command=f"review ({via})")  # audit
    assert cur.lastrowid is not None  # always set after an INSERT
    return int(cur.lastrowid)


def undo(db: sqlite_utils.Database, decision_id: int | None = None) -> dict | None:
    """Undo one decision (by default the latest still in force); return what was undone."""
    where = "id = ?" if decision_id else "undone_at IS NULL ORDER BY id DESC LIMIT 1"
    params = [decision_id] if decision_id else []
    row = db.execute(
        f"SELECT id, profile_a, profile_b, decision, decided_by, decided_at FROM match_decisions"
        f" WHERE {where}",
        params,
    ).fetchone()
    if row is None:
        return None
    db.execute("UPDATE match_decisions SET undone_at = ? WHERE id = ?", [now(), row[0]])
    audit.record(db, "review.undo", {"decisions": 1}, command="review --undo")  # audit
    return dict(
        zip(
            ("id", "profile_a", "profile_b", "decision", "decided_by", "decided_at"),
            row,
            strict=False,
        )
    )


def apply(db: sqlite_utils.Database, settings: MatchingConfig) -> MatchSummary:
    """Re-cluster people now that decisions changed (no re-scoring)."""
    with transaction(db):
        return recluster(db, settings)


# --- spreadsheet ---------------------------------------------------------------------------

HOW = [  # how to fill in the sheet, after what the rows are (HELP, JOINS_HELP)
    "Their details are side by side: (A) and (B). 'Differs' lists what does not match;",
    "'Alike' what is written differently but looks alike (a nickname, a typo, day and month",
    "swapped).",
    "In the Decision column choose from the list:",
    "    same       they are the same person (they will be counted once)",
    "    different  they are different people (they will never be joined)",
    "    skip       not sure: leave it for later (or leave the cell empty)",
    "Do not change the Pair column: it tells harvest which pair a row is.",
    "When you are done, save the file and run:  harvest review --import FILE",
    "Rows with a value harvest cannot read are reported by row number; the others are kept.",
]
HELP = [
    "Possible duplicates to check",
    "",
    "Each row of the 'Pairs' sheet is two records that may be the same person.",
    *HOW,
]


JOINS_HELP = [
    "Automatic joins to check",
    "",
    "Each row of the 'Pairs' sheet is two records harvest joined as one person by itself,",
    "the least certain first. 'different' splits them; 'same' confirms the join.",
    "Your answers also tell harvest whether to join less readily (merge_above).",
    *HOW,
]


def export_xlsx(
    db: sqlite_utils.Database, path: Path, limit: int | None = None, check_joins: bool = False
) -> int:
    """Write the queue (or, with ``check_joins``, the joins to check) to a workbook:
    instructions, then one row per pair. Returns rows."""
    pairs = joins(db, limit) if check_joins else queue(db, limit)
    wb = Workbook()
    help_ws = wb.active
    help_ws.title = HELP_SHEET
    for line in JOINS_HELP if check_joins else HELP:
        help_ws.append([line])
    help_ws["A1"].font = Font(bold=True, size=14)
    help_ws.column_dimensions["A"].width = 100
    ws = wb.create_sheet(PAIR_SHEET)
    headers = ["Pair", "Decision", "Probability", "Differs", "Alike"]
    for label in SHOWN.values():
        headers += [f"{label} (A)", f"{label} (B)"]
    headers += ["Source (A)", "Where (A)", "Source (B)", "Where (B)"]
    ws.append(headers)
    for pair in pairs:
        row = [
            pair.key,
            "",
            round(pair.probability, 4),
            ", ".join(SHOWN[f].lower() for f in SHOWN if pair.agreement(f) == "differ"),
            ", ".join(
                f"{SHOWN[f].lower()} ({pair.alike(f)})"
                for f in SHOWN
                if pair.agreement(f) == "alike"
            ),
        ]
        for name in SHOWN:
            row += [pair.a.values.get(name) or "", pair.b.values.get(name) or ""]
        row += [pair.a.source, _where(pair.a), pair.b.source, _where(pair.b)]
        ws.append(row)
    _format(ws, len(pairs))
    wb.save(private_file(path))  # personal data: 0600
    audit.record(db, "export.review", {"pairs": len(pairs)}, command="review --export")  # audit
    return len(pairs)


def _where(side: Side) -> str:
    return f"{side.location} row {side.row_number}" if side.row_number else side.location


def _format(ws, n: int) -> None:
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = "C2"
    ws.column_dimensions["A"].width = 24
    ws.column_dimensions["B"].width = 12
    ws.column_dimensions["D"].width = 28
    ws.column_dimensions["E"].width = 28
    yellow = PatternFill("solid", fgColor="FFF2CC")
    for r in range(2, n + 2):
        ws.cell(r, 2).fill = yellow
    dv = DataValidation(
        type="list",
        formula1='"same,different,skip"',
        allow_blank=True,
        showErrorMessage=True,
        errorTitle="Decision",
        error="Choose same, different or skip.",
    )
    ws.add_data_validation(dv)
    dv.add(f"B2:B{max(n + 1, 2)}")


@dataclass
class ImportResult:
    same: int = 0
    different: int = 0
    skipped: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def recorded(self) -> int:
        return self.same + self.different


def import_xlsx(db: sqlite_utils.Database, path: Path, by: str) -> ImportResult:
    """Read decisions from a workbook written by ``export_xlsx``; bad rows are reported."""
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise ReviewError(f"{path} could not be read as an Excel workbook ({exc}).") from None
    if PAIR_SHEET not in wb.sheetnames:
        raise ReviewError(
            f"{path} has no sheet called {PAIR_SHEET!r}: export a fresh one with "
            "`harvest review --export FILE`."
        )
    rows = wb[PAIR_SHEET].iter_rows(values_only=True)
    header = [str(h or "").strip().lower() for h in next(rows, ())]
    if "pair" not in header or "decision" not in header:
        raise ReviewError(
            f"{path}: the {PAIR_SHEET!r} sheet needs its 'Pair' and 'Decision' "
            "columns; export a fresh one with `harvest review --export FILE`."
        )
    col_pair, col_decision = header.index("pair"), header.index("decision")
    result = ImportResult()
    for number, row in enumerate(rows, start=2):
        _import_row(db, path, number, row, col_pair, col_decision, by, result)
    wb.close()
    return result


def _import_row(
    db,
    path: Path,
    number: int,
    row: tuple,
    col_pair: int,
    col_decision: int,
    by: str,
    result: ImportResult,
) -> None:
    cells = list(row) + [None] * 2
    key, said = cells[col_pair], cells[col_decision]
    decision = str(said or "").strip().lower()
    if not decision or decision == "skip":
        result.skipped += bool(key)
        return
    if decision not in DECISIONS:
        result.problems.append(f"{path.name} row {number}: {said!r} is not same, different or skip")
        return
    pair = find_pair(db, str(key or ""))
    if pair is None:
        result.problems.append(
            f"{path.name} row {number}: pair {key!r} is not one harvest knows (was the Pair "
            "column changed?)"
        )
        return
    try:
        decide(db, pair, decision, by, "spreadsheet")
    except ReviewError as exc:
        result.problems.append(f"{path.name} row {number}: {exc}")
        return
    setattr(result, decision, getattr(result, decision) + 1)
