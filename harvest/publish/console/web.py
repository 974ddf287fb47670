"""What every console page shares: who may see it, harvest.yaml, the store, rendering."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils
from datasette.utils.asgi import Response

from harvest import audit, store
from harvest.config import HarvestConfig, load_config
from harvest.errors import HarvestError, NotFoundError, UnknownPerson
from harvest.publish.sessions import PLUGIN

HOME = "/-/console"
NOT_FOUND = (NotFoundError, UnknownPerson)  # no such person (erasure, explain)
BUSY = (
    "The store is busy: a sync or an erasure is writing to it. Nothing was changed; "
    "wait a minute and try again."
)
NOT_STAFF = "This page is for the charity's staff only."
NO_CONSOLE = (
    "The staff console runs in the staff server that `harvest serve` starts once staff "
    "logins exist. Add one with `harvest users add NAME --role staff`, then restart "
    "`harvest serve`."
)


@dataclass
class Staff:
    """The logged-in member of staff and the harvest.yaml the server was started with."""

    name: str
    config: HarvestConfig

    @contextmanager
    def store(self) -> Iterator[sqlite_utils.Database]:
        """The store, opened for this request and closed after it."""
        if not self.config.database_path.is_file():
            raise HarvestError(
                f"There is no store at {self.config.database_path} yet: press Sync now "
                "on the sources page, or run `harvest sync`."
            )
        db = store.connect(self.config.database_path)
        try:
            yield db
        finally:
            db.conn.close()

    @contextmanager
    def acting(self) -> Iterator[None]:
        """Audit entries written inside are by this member of staff."""
        with audit.acting_as(self.name):
            yield


def config_path(datasette: Any) -> Path | None:
    value = (datasette.plugin_config(PLUGIN) or {}).get("config")
    return Path(value) if value else None


async def page(
    datasette: Any, request: Any, template: str, context: dict[str, Any], status: int = 200
) -> Response:
    """A console page: ``template`` from harvest/publish/templates, in the console layout."""
    html = await datasette.render_template(template, {"home": HOME, **context}, request=request)
    return Response.html(html, status=status)


async def message_page(
    datasette: Any, request: Any, title: str, text: str, status: int
) -> Response:
    return await page(
        datasette, request, "console_message.html", {"title": title, "text": text}, status
    )


Handler = Callable[[Any, Any, Staff], Awaitable[Response]]


def staff_only(handler: Handler) -> Callable[[Any, Any], Awaitable[Response]]:
    """Wrap a page: anonymous visitors go to the login page, anyone not staff gets 403,
    a HarvestError becomes a page that says what went wrong and what to do."""

    async def view(request: Any, datasette: Any) -> Response:
        actor = request.actor or {}
        if not actor.get("id"):
            if config_path(datasette) is None and request.method == "GET":
                return await message_page(datasette, request, "Staff console", NO_CONSOLE, 403)
            return Response.redirect(datasette.urls.path("/-/login"))
        if actor.get("role") != "staff":
            return await message_page(datasette, request, "Forbidden", NOT_STAFF, 403)
        path = config_path(datasette)
        if path is None:
            return await message_page(datasette, request, "Staff console", NO_CONSOLE, 404)
        try:
            staff = Staff(str(actor["id"]), load_config(path))
            return await handler(request, datasette, staff)
        except HarvestError as exc:
            status = 404 if isinstance(exc, NOT_FOUND) else 409
            return await message_page(datasette, request, "Something went wrong", str(exc), status)
        except sqlite3.OperationalError as exc:  # busy: a sync or an erasure is writing
            if "locked" not in str(exc):
                raise
            return await message_page(datasette, request, "Try again in a minute", BUSY, 503)

    return view


def back(datasette: Any, request: Any, path: str, text: str, kind: int = 1) -> Response:
    """After a change: the message shown on the next page, and a redirect to ``path``."""
    datasette.add_message(request, text, kind)
    return Response.redirect(datasette.urls.path(path))


def where(location: str | None, row_number: int | None) -> str:
    """ "row 4 of signups.xlsx, sheet 'Tuesday'", or just the location."""
    return f"row {row_number} of {location}" if row_number else (location or "")


def xlsx(name: str, headers: list[str], rows: list[tuple[Any, ...]]) -> Response:
    """A workbook download, formula-safe (harvest/publish/safe_downloads.py)."""
    import io

    from openpyxl import Workbook

    from harvest.publish.safe_downloads import safe_cell

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=name[:31])
    sheet.append(headers)
    for row in rows:
        sheet.append([safe_cell(v) for v in row])
    out = io.BytesIO()
    book.save(out)
    return Response(
        out.getvalue(),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"content-disposition": f'attachment; filename="{name}.xlsx"'},
    )
