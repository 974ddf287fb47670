"""The review page: possible duplicates one question at a time, answered in the browser.

Answers go where `harvest review` puts them (``match_decisions``, via "browser") and
people are re-clustered at once (``review.apply``), as the terminal does.
"""

from __future__ import annotations

import asyncio
from typing import Any

from datasette.utils.asgi import Response

from harvest.errors import ReviewError
from harvest.people import review as rv
from harvest.people.match_state import MatchSummary
from harvest.publish.console.web import HOME, Staff, back, page, staff_only, where

AGREEMENT_WORDS = {"same": "Same", "alike": "Alike", "differ": "Different", "": "Blank on one side"}


def _mode(value: Any) -> str:
    return "joins" if value == "joins" else "queue"


def _offset(value: Any) -> int:
    try:
        return max(0, int(value or 0))
    except ValueError:
        return 0


def pair_rows(pair: rv.Pair) -> list[dict[str, str]]:
    """One row per field: both values and whether they agree (with why, when alike)."""
    rows = []
    for name, label in rv.SHOWN.items():
        agreement = pair.agreement(name)
        why = pair.alike(name) if agreement == "alike" else ""
        rows.append(
            {
                "label": label,
                "a": str(pair.a.values.get(name) or ""),
                "b": str(pair.b.values.get(name) or ""),
                "agreement": agreement or "blank",
                "words": AGREEMENT_WORDS[agreement] + (f" ({why})" if why else ""),
            }
        )
    return rows


@staff_only
async def review(request: Any, datasette: Any, staff: Staff) -> Response:
    mode, offset = _mode(request.args.get("mode")), _offset(request.args.get("offset"))
    with staff.store() as db:
        pairs = rv.joins(db) if mode == "joins" else rv.queue(db)
        latest = db.execute(
            "SELECT decision, decided_by FROM match_decisions WHERE undone_at IS NULL"
            " ORDER BY id DESC LIMIT 1"
        ).fetchone()
    offset = min(offset, max(len(pairs) - 1, 0))
    pair = pairs[offset] if pairs else None
    context = {
        "mode": mode,
        "offset": offset,
        "left": len(pairs),
        "pair": pair,
        "rows": pair_rows(pair) if pair else [],
        "where_a": where(pair.a.location, pair.a.row_number) if pair else "",
        "where_b": where(pair.b.location, pair.b.row_number) if pair else "",
        "latest": latest,
    }
    return await page(datasette, request, "console_review.html", context)


def _decide(staff: Staff, key: str, decision: str) -> MatchSummary | None:
    """Record the decision and re-join people (in a worker thread: it can take a while)."""
    with staff.store() as db, staff.acting():
        pair = rv.find_pair(db, key)
        if pair is None:
            return None
        try:
            rv.decide(db, pair, decision, staff.name, "browser")
        except ReviewError:  # earlier answers settle it already: not waiting any more
            return None
        return rv.apply(db, staff.config.matching)


def _undo(staff: Staff) -> dict | None:
    with staff.store() as db, staff.acting():
        done = rv.undo(db)
        if done is not None:
            rv.apply(db, staff.config.matching)
        return done


@staff_only
async def answer(request: Any, datasette: Any, staff: Staff) -> Response:
    """POST: same, different, or not sure (the next question) for one pair."""
    if request.method != "POST":
        return Response.redirect(datasette.urls.path(f"{HOME}/review"))
    form = await request.post_vars()
    mode, offset = _mode(form.get("mode")), _offset(form.get("offset"))
    decision = form.get("decision")
    url = f"{HOME}/review?mode={mode}"
    if decision == "skip":
        return Response.redirect(datasette.urls.path(f"{url}&offset={offset + 1}"))
    summary = await asyncio.to_thread(_decide, staff, form.get("pair") or "", str(decision))
    if summary is None:
        return back(datasette, request, url, "That pair is no longer waiting: here is the next.", 2)
    said = "the same person" if decision == "same" else "different people"
    return back(
        datasette,
        request,
        f"{url}&offset={offset}",
        f"Saved: {said}. People now: {summary.people:,}; {summary.review:,} pair(s) to review.",
    )


@staff_only
async def undo(request: Any, datasette: Any, staff: Staff) -> Response:
    """POST: take back the latest decision (kept, marked undone) and re-cluster."""
    if request.method != "POST":
        return Response.redirect(datasette.urls.path(f"{HOME}/review"))
    form = await request.post_vars()
    url = f"{HOME}/review?mode={_mode(form.get('mode'))}"
    done = await asyncio.to_thread(_undo, staff)
    if done is None:
        return back(datasette, request, url, "There is no decision to undo.", 2)
    return back(
        datasette,
        request,
        url,
        f"Undone: the answer “{done['decision']}” given by {done['decided_by']}. "
        "That pair is back in the queue.",
    )
