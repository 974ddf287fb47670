"""``--json`` output: one JSON document on standard output, with keys that stay put.

Each function turns a library result into plain dicts and lists. The keys are documented
in docs/scripting.md; new keys may be added, none is renamed or removed without a note in
the changelog. Nothing here prints a secret: the same facts the text output shows.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from harvest.audit import Entry
    from harvest.normalise.check import ProblemGroup, SourceCheck
    from harvest.people.match_state import MatchSummary
    from harvest.publish.users import User
    from harvest.sync import SourceResult, SyncResult


def emit(document: dict[str, Any]) -> None:
    """Write the document to standard output (even with --quiet: the script asked for it)."""
    typer.echo(json.dumps(document, indent=2, ensure_ascii=False))


def _pick(obj: Any, *keys: str) -> dict[str, Any]:
    return {key: getattr(obj, key) for key in keys}


def _source(s: SourceResult) -> dict[str, Any]:
    counts = _pick(s.counts, "read", "new", "changed", "unchanged", "problems", "forgotten")
    return {**_pick(s, "name", "status", "tables"), **counts, "messages": list(s.messages)}


def _matching(m: MatchSummary) -> dict[str, Any]:
    keys = ("mode", "records", "people", "links", "review", "merged_people")
    return {**_pick(m, *keys), "seconds": round(m.seconds, 3), "error": m.error or None}


def sync_document(result: SyncResult) -> dict[str, Any]:
    retention = result.retention
    return {
        **_pick(result, "run_id", "exit_code"),
        "sources": [_source(s) for s in result.sources],
        "matching": _matching(result.matching) if result.matching else None,
        **_pick(result, "published", "publish_error"),
        "retention": _pick(retention, "raw_rows_blanked", "records_deleted", "people_removed")
        if retention
        else None,
        "erasures": result.erasures,
    }


def _problems(groups: list[ProblemGroup]) -> list[dict[str, Any]]:
    return [_pick(g, "field", "problem", "count", "examples") for g in groups]


def check_document(results: list[SourceCheck]) -> dict[str, Any]:
    return {
        "sources": [
            {
                "source": c.source,
                "records": c.records,
                "people": c.people,
                "problem_count": c.problem_count,
                "last_run": {
                    "status": c.last_status,
                    "finished": c.last_finished,
                    "last_success": c.last_success,
                    "message": c.last_message,
                    "rows": c.last_rows,
                },
                "coverage": c.coverage,
                "problems": _problems(c.problems),
                "notes": _problems(c.notes),
                "table_notes": c.table_notes,
            }
            for c in results
        ]
    }


def audit_document(entries: list[Entry]) -> dict[str, Any]:
    keys = ("id", "at", "action", "command", "user", "counts")
    return {"entries": [_pick(e, *keys) for e in entries]}


def users_document(users: list[User]) -> dict[str, Any]:
    return {"users": [_pick(u, "name", "role") for u in users]}
