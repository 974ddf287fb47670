"""Subject access (UK GDPR article 15): everything held about one person, in one file.

``person_data`` gathers the person's summary, every version of every record (raw rows
included, exactly as read), their attendances, outcomes, data problems and review
decisions, each with the source, file or sheet, row and the dates harvest first and last
read it. ``export_person`` writes it as JSON, or as a workbook with one sheet per kind.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from harvest.dataprotection.erasure import resolve
from harvest.errors import HarvestError, NotFoundError
from harvest.private_files import private_file

SECTIONS = (
    "person",
    "records",
    "raw_rows",
    "attendances",
    "outcomes",
    "data_problems",
    "review_decisions",
)


@dataclass
class ExportSummary:
    path: Path
    counts: dict[str, int]

    def summary(self) -> str:
        parts = ", ".join(
            f"{n} {k.replace('_', ' ')}" for k, n in self.counts.items() if k != "person"
        )
        return f"Wrote everything held about the person to {self.path}: {parts}."


def _dicts(db: sqlite_utils.Database, sql: str, params: list) -> list[dict[str, Any]]:
    cur = db.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def person_data(db: sqlite_utils.Database, person_id: int) -> dict[str, list[dict[str, Any]]]:
    pid = resolve(db, person_id)
    person = _dicts(db, "SELECT * FROM people WHERE person_id = ?", [pid])
    records = _dicts(db, "SELECT * FROM records WHERE person_id = ? ORDER BY id", [pid])
    if not person and not records:
        raise NotFoundError(f"There is no person {person_id} in the store.")
    for r in records:
        r["extra"] = json.loads(r["extra"]) if r.get("extra") else None
    keys = sorted({(r["source"], r["source_key"]) for r in records})
    raw = [
        row
        for k in keys
        for row in _dicts(
            db,
            "SELECT id, source, source_key, version, table_key, location, row_number, data,"
            " first_seen, last_seen FROM raw_rows WHERE source = ? AND source_key = ?"
            " ORDER BY version",
            list(k),
        )
    ]
    for r in raw:
        r["data"] = json.loads(r["data"])
    ids = [r["id"] for r in raw] or [0]
    marks = ",".join("?" * len(ids))
    return {
        "person": [
            {
                **p,
                "merged_ids": [
                    r[0]
                    for r in db.execute(
                        "SELECT merged_id FROM person_merges WHERE person_id = ?", [pid]
                    ).fetchall()
                ],
            }
            for p in person
        ],
        "records": records,
        "raw_rows": raw,
        "attendances": _dicts(
            db,
            f"SELECT a.source, a.activity_date, act.name AS activity, a.attendance_status,"
            f" a.ticket_type, a.referral_source FROM attendances a LEFT JOIN activities act"
            f" ON act.id = a.activity_id WHERE a.record_id IN ({marks})",
            ids,
        ),
        "outcomes": _dicts(
            db,
            f"SELECT source, outcome, outcome_date, measure, score FROM "
            f"outcomes WHERE record_id IN ({marks})",
            ids,
        ),
        "data_problems": _dicts(
            db,
            f"SELECT source, location, row_number, field, value,"
            f" problem, created_at FROM issues WHERE record_id IN"
            f" ({marks})",
            ids,
        ),
        "review_decisions": _dicts(
            db,
            f"SELECT decision, decided_by, decided_at, via, undone_at FROM match_decisions"
            f" WHERE record_a IN ({marks}) OR record_b IN ({marks})",
            ids + ids,
        ),
    }


def export_person(db: sqlite_utils.Database, person_id: int, path: Path) -> ExportSummary:
    """Write the person's data to ``path`` (.json or .xlsx) and note it in the audit log."""
    from harvest import audit

    suffix = path.suffix.lower()
    if suffix not in (".json", ".xlsx"):
        raise HarvestError(f"{path}: export to a .xlsx or a .json file.")
    data = person_data(db, person_id)
    if suffix == ".json":
        private_file(path).write_text(  # personal data: 0600
            json.dumps(data, indent=1, ensure_ascii=False, default=str), encoding="utf-8"
        )
    else:
        _write_xlsx(data, path)
    counts = {k: len(v) for k, v in data.items()}
    audit.record(db, "export.subject_access", dict(counts), command="person --export")
    return ExportSummary(path, counts)


def _cell(value: Any) -> Any:
    from harvest.publish.funders import neutralise

    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False)
    return neutralise(value)


def _write_xlsx(data: dict[str, list[dict[str, Any]]], path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    wb.remove(wb.active)
    for name in SECTIONS:
        ws = wb.create_sheet(name.replace("_", " ").capitalize()[:31])
        rows = data[name]
        headers = list(rows[0]) if rows else ["(none held)"]
        ws.append(headers)
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for row in rows:
            ws.append([_cell(row.get(h)) for h in headers])
    wb.save(private_file(path))
