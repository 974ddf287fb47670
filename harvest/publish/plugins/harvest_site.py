"""harvest's Datasette plugin, loaded with ``--plugins-dir`` by the published servers.

* Someone who is not logged in and is refused a page is sent to the login page,
  so an anonymous visitor sees nothing else.
* Every table and canned query downloads as ``.xlsx`` as well as CSV and JSON.
* In every CSV, TSV, JSON and XLSX download, any text cell that a spreadsheet would
  run as a formula gets a leading apostrophe (harvest/publish/safe_downloads.py).

Logins and the ``/-/`` pages are in harvest_logins.py.
"""

from __future__ import annotations

import re
from typing import Any

from datasette import hookimpl
from datasette.utils.asgi import Response

from harvest.publish import safe_downloads
from harvest.publish.safe_downloads import xlsx_bytes


@hookimpl
def forbidden(datasette: Any, request: Any, message: str) -> Response | None:
    if request.actor:
        return None
    return Response.redirect(datasette.urls.path("/-/login"))


def render_xlsx(
    columns: list[str],
    rows: list[Any],
    request: Any,
    query_name: str | None,
    table: str | None,
    database: str,
) -> Response:
    name = re.sub(r"[^A-Za-z0-9_-]", "_", query_name or table or database)
    return Response(
        xlsx_bytes(query_name or table or database, columns, rows),
        status=200,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"content-disposition": f'attachment; filename="{name}.xlsx"'},
    )


@hookimpl
def register_output_renderer(datasette: Any) -> dict[str, Any]:
    return {"extension": "xlsx", "render": render_xlsx, "can_render": lambda: True}


@hookimpl
def asgi_wrapper(datasette: Any) -> Any:
    return safe_downloads.wrap
