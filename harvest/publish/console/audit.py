"""The audit page: the trail, newest first, filtered by action, user and day."""

from __future__ import annotations

import re
from typing import Any

from datasette.utils.asgi import Response

from harvest import audit as trail
from harvest.publish.console.web import Staff, page, staff_only

LIMIT = 200


@staff_only
async def audit(request: Any, datasette: Any, staff: Staff) -> Response:
    action = request.args.get("action") or None
    user = request.args.get("user") or None
    since = request.args.get("since") or None
    error = None
    if since and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", since):
        error, since = "Enter the day as year-month-day, for example 2026-03-01", None
    with staff.store() as db:
        rows = trail.entries(db, LIMIT, action, user, since)
        actions, users = trail.actions_and_users(db)
    context = {
        "rows": [
            {"e": e, "counts": ", ".join(f"{k}: {v}" for k, v in e.counts.items())} for e in rows
        ],
        "actions": actions,
        "users": users,
        "chosen": {
            "action": action or "",
            "user": user or "",
            "since": request.args.get("since") or "",
        },
        "limit": LIMIT,
        "error": error,
    }
    return await page(datasette, request, "console_audit.html", context, 400 if error else 200)
