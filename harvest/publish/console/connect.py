"""Connect a source: paste an Eventbrite private token into the page; for Microsoft and
Google, whose sign-in needs a terminal today, the one `harvest auth …` command to run.
A saved secret is never shown again: the page says only that one is saved."""

from __future__ import annotations

import asyncio
from typing import Any

from datasette.utils.asgi import Response
from pydantic import SecretStr

from harvest import audit, signin_job
from harvest.connectors.eventbrite import DEFAULT_API_URL, TOKEN_HINT, TOKEN_NAME, authorise
from harvest.errors import AuthError, ConfigError, SourceError
from harvest.publish.console.web import HOME, Staff, back, page, staff_only
from harvest.secrets import TokenStore

MICROSOFT = (
    "Microsoft 365 (Excel files in OneDrive or SharePoint, Microsoft Forms)",
    "harvest auth microsoft --config {config}",
    "It shows a code and an address: open the address on any device, type the code and "
    "sign in. harvest asks only to read files.",
)
COMMANDS = [
    (
        "Google (Sheets and Forms)",
        "harvest auth google --client-file CLIENT.json",
        "CLIENT.json is the OAuth client file downloaded from Google Cloud (see "
        "docs/connectors/google.md); Google's consent page opens in a browser.",
    ),
]


def eventbrite_api_url(staff: Staff) -> str:
    """The Eventbrite address of harvest.yaml's eventbrite source (tests, proxies), if any."""
    for src in staff.config.sources:
        if src.type == "eventbrite" and src.options.get("api_url"):
            return str(src.options["api_url"])
    return DEFAULT_API_URL


async def _page(request: Any, datasette: Any, staff: Staff, error: str | None = None) -> Response:
    has_microsoft = any(s.type == "microsoft_excel" for s in staff.config.sources)
    commands = [] if has_microsoft else [MICROSOFT]
    assert staff.config.path is not None
    context = {
        "microsoft": signin_job.state(staff.config.path) if has_microsoft else None,
        "saved": TokenStore().get(TOKEN_NAME) is not None,
        "hint": TOKEN_HINT,
        "commands": [
            (n, c.format(config=staff.config.path), w) for n, c, w in [*commands, *COMMANDS]
        ],
        "config_path": staff.config.path,
        "error": error,
        "has_eventbrite": any(s.type == "eventbrite" for s in staff.config.sources),
    }
    return await page(datasette, request, "console_connect.html", context, 400 if error else 200)


@staff_only
async def connect(request: Any, datasette: Any, staff: Staff) -> Response:
    if request.method != "POST":
        return await _page(request, datasette, staff)
    form = await request.post_vars()
    try:
        token = SecretStr(form.get("token") or "")
        result = await asyncio.to_thread(authorise, token, eventbrite_api_url(staff))
    except (AuthError, ConfigError, SourceError) as exc:
        return await _page(request, datasette, staff, str(exc))
    with staff.store() as db, staff.acting():
        audit.record(
            db, "auth.eventbrite", {"organisations": len(result.organisations)}, "console connect"
        )
    names = ", ".join(name for _, name in result.organisations) or "none"
    return back(
        datasette,
        request,
        f"{HOME}/connect",
        f"Eventbrite accepted the token (user: {result.user}) and it is saved in "
        f"{result.stored_in}. It can read: {names}.",
    )


@staff_only
async def microsoft(request: Any, datasette: Any, staff: Staff) -> Response:
    """POST: start signing in to Microsoft 365; the connect page shows the code to type."""
    assert staff.config.path is not None
    if request.method == "POST" and not signin_job.start(staff.config.path, staff.name):
        return back(datasette, request, f"{HOME}/connect", "A sign-in is already waiting.", 2)
    return Response.redirect(datasette.urls.path(f"{HOME}/connect#microsoft"))


@staff_only
async def microsoft_status(request: Any, datasette: Any, staff: Staff) -> Response:
    """The sign-in's progress, for the connect page to show while it waits."""
    assert staff.config.path is not None
    job = signin_job.state(staff.config.path)
    return Response.json({"running": job.running, "messages": len(job.messages)})
