"""harvest's Datasette plugin: the query boxes take values from the vocabulary only.

Every canned query of funders.db reads tables protected at publish time, and picks rows
by exact values of ``period``, ``period_type``, ``activity`` and ``area``. A value that
is not in the ``choices`` table of the database (or is very long) is refused here with
a plain "400 Bad Request" message naming the box and where to find the allowed values,
rather than an empty table or an error page. Someone who is not logged in is not told
anything: their request goes on to Datasette, which sends them to the login page.
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import parse_qsl

from datasette import hookimpl
from datasette.utils.asgi import Response

from harvest.publish import logins

BOXES = {"period": "period", "period_type": "period_type", "activity": "activity", "area": "area"}
LONGEST = 200  # characters; no value in the vocabulary is anywhere near this long


def _logged_in(datasette: Any, scope: dict[str, Any]) -> bool:
    """Whether the request may see a 400 rather than the login page: its session is live
    (looked up as harvest's logins do), or the server has no logins at all."""
    if "actor" in scope:  # the logins wrapper has already looked the session up
        return scope["actor"] is not None
    state = logins.logins_for(datasette)
    if state is None:
        return True
    return logins.with_session(state, scope)[1] is not None


async def _problem(datasette: Any, database: str, params: list[tuple[str, str]]) -> str | None:
    """A plain sentence about the first box whose value is not allowed, or None."""
    try:
        db = datasette.get_database(database)
    except KeyError:
        return None
    if not await db.table_exists("choices"):
        return None
    for name, value in params:
        if name not in BOXES or value == "":
            continue
        if len(value) > LONGEST:
            return f"The value given for “{name}” is too long: choose one from the list."
        found = await db.execute(
            "SELECT 1 FROM choices WHERE kind = ? AND value = ?", [BOXES[name], value]
        )
        if not found.rows:
            return (
                f"“{value}” is not one of the choices for “{name}”. Leave it blank for "
                f"all, or choose a value listed in the choices table (kind “{BOXES[name]}”)."
            )
    return None


def _response(message: str, path: str) -> Response:
    if path.endswith((".json", ".csv", ".xlsx")):
        return Response.json({"ok": False, "error": message, "status": 400}, status=400)
    body = f"<!DOCTYPE html><title>Not a valid choice</title><h1>Not a valid choice</h1><p>{html.escape(message)}</p>"
    return Response.html(body, status=400)


@hookimpl
def asgi_wrapper(datasette: Any) -> Any:
    def wrap(app: Any) -> Any:
        async def checked(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope.get("type") == "http" and scope.get("query_string"):
                params = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
                database = scope.get("path", "/").strip("/").split("/")[0].split(".")[0]
                if any(n in BOXES for n, _ in params) and _logged_in(datasette, scope):
                    message = await _problem(datasette, database, params)
                    if message:
                        await _response(message, scope.get("path", "")).asgi_send(send)
                        return
            await app(scope, receive, send)

        return checked

    return wrap
