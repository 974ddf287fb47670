"""The console's home and sources page: each source's last sync, its problems, Sync now."""

from __future__ import annotations

import time
from typing import Any

from datasette.utils.asgi import Response

from harvest import sync_job
from harvest.normalise.check import PROBLEM_COLUMNS, check, problem_rows
from harvest.publish.console.web import HOME, Staff, back, page, staff_only, where, xlsx

STATUS_WORDS = {
    "ok": "Synced fine",
    "problems": "Synced, but part of it could not be read",
    "failed": "Failed",
}


@staff_only
async def home(request: Any, datasette: Any, staff: Staff) -> Response:
    with staff.store() as db:
        from harvest.people.review import queue_size

        waiting = queue_size(db)
    return await page(datasette, request, "console_home.html", {"staff": staff, "waiting": waiting})


def source_rows(staff: Staff) -> list[dict[str, Any]]:
    """Each source of harvest.yaml with what the data checker says about it."""
    with staff.store() as db:
        checks = {c.source: c for c in check(db, [s.name for s in staff.config.sources], 5)}
    rows = []
    for src in staff.config.sources:
        c = checks[src.name]
        rows.append(
            {
                "name": src.name,
                "type": src.type,
                "enabled": src.enabled,
                "check": c,
                "status": STATUS_WORDS.get(c.last_status or "", "Not synced yet"),
                "failed": c.last_status == "failed",
                "problems": [
                    {
                        "count": g.count,
                        "field": g.field or "row",
                        "problem": g.problem,
                        "examples": [
                            (where(e["location"], e["row_number"]), e["value"]) for e in g.examples
                        ],
                    }
                    for g in c.problems
                ],
            }
        )
    return sorted(rows, key=lambda r: not r["failed"])  # failed sources first


@staff_only
async def sources(request: Any, datasette: Any, staff: Staff) -> Response:
    assert staff.config.path is not None
    job = sync_job.state(staff.config.path)
    context = {
        "sources": source_rows(staff),
        "job": job,
        "job_age": round(time.time() - (job.done_at or job.started_at)),
        "config_path": staff.config.path,
        "db_name": staff.config.database_path.stem,
    }
    return await page(datasette, request, "console_sources.html", context)


@staff_only
async def sync_now(request: Any, datasette: Any, staff: Staff) -> Response:
    """POST: start a sync of every source (or the one named) in the background."""
    if request.method != "POST":
        return Response.redirect(datasette.urls.path(HOME + "/sources"))
    form = await request.post_vars()
    only = form.get("source") or None
    if only:
        staff.config.source(only)  # an unknown name is an error page, not a sync
    assert staff.config.path is not None
    if not sync_job.start(staff.config.path, staff.name, only):
        return back(datasette, request, HOME + "/sources", "A sync is already running.", 2)
    what = f"the source {only}" if only else "every source"
    return back(
        datasette,
        request,
        HOME + "/sources",
        f"Started syncing {what}. This page shows its progress; it refreshes by itself.",
    )


@staff_only
async def problems_download(request: Any, datasette: Any, staff: Staff) -> Response:
    """The data checker's problems with one source, as a spreadsheet to fix them from."""
    name = staff.config.source(request.url_vars["source"]).name
    with staff.store() as db:
        rows = problem_rows(db, name)
    return xlsx(f"{name}-problems", list(PROBLEM_COLUMNS), rows)


@staff_only
async def sync_status(request: Any, datasette: Any, staff: Staff) -> Response:
    """The background sync's progress, for the sources page to show while it runs."""
    assert staff.config.path is not None
    job = sync_job.state(staff.config.path)
    return Response.json(
        {
            "running": job.running,
            "started_by": job.started_by,
            "current": job.current,
            "rows": job.rows.get(job.current or "", 0),
            "finished": job.finished,
            "error": job.error,
        }
    )
