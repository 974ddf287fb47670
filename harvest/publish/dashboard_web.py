"""The funder's dashboard on the web: the pages ``plugins/harvest_dashboard.py`` serves.

* ``/dashboard``: the overview for a period, activity and area chosen from the
  ``choices`` of funders.db (in the address, so a view can be bookmarked or shared);
* ``/dashboard/report.pdf``: the same overview as a PDF (report.py);
* ``/dashboard/tables``: every figure's table, in words, with its downloads;
* ``/dashboard/table/<figure>``: one figure's table with the choices it depends on, and
  ``.csv`` and ``.xlsx`` downloads of it (labels for headings, every cell formula-safe).

A funder never sees Datasette's own pages of funders.db (their SQL, "Run SQL" and free
text boxes): ``funder_page`` sends them to the plain page with the same rows instead.
The figures come from dashboard.py, exactly as published.
"""

from __future__ import annotations

import re
from html import escape
from typing import Any
from urllib.parse import parse_qsl, urlencode

from datasette.utils.asgi import Response

from harvest.errors import PublishError
from harvest.publish import dashboard
from harvest.publish.charts import bars
from harvest.publish.dashboard import PATH, Figure, Overview
from harvest.publish.safe_downloads import csv_bytes, xlsx_bytes
from harvest.publish.uk_map import uk_map

CHOICES = ("period", "period_type", "activity", "area")
DOWNLOADS = {
    "pdf": "application/pdf",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
DATA_FORMATS = (".json", ".csv", ".tsv", ".xlsx", ".db")


async def funders_database(datasette: Any) -> str | None:
    """The name of the database holding the protected tables (funders.db), or None."""
    for name, db in datasette.databases.items():
        if name != "_internal" and await db.table_exists("people_reached"):
            if await db.table_exists("choices"):
                return str(name)
    return None


async def read_overview(
    request: Any, datasette: Any, top: int | None = dashboard.TOP_AREAS
) -> tuple[str, Overview]:
    """The overview for the request's choices, once the actor may see funders.db."""
    name = await funders_database(datasette)
    if name is None:
        raise PublishError("There are no figures for funders yet: run `harvest publish`.")
    await datasette.ensure_permissions(request.actor, [("view-database", name), "view-instance"])
    args = {k: request.args.get(k, "") for k in CHOICES}

    def read(conn: Any) -> Overview:
        return dashboard.build(conn, dashboard.selection_from(conn, args), top=top)

    return name, await datasette.get_database(name).execute_fn(read)


def refused(error: PublishError) -> Response:
    return plain_page("Not a valid choice", str(error), 400)


def plain_page(title: str, message: str, status: int) -> Response:
    body = (
        f"<!DOCTYPE html><html lang='en-GB'><title>{title}</title>"
        f"<main><h1>{title}</h1><p>{escape(message)}</p>"
        f"<p><a href='{PATH}'>Back to the overview</a></p></main></html>"
    )
    return Response.html(body, status=status)


async def render(
    request: Any, datasette: Any, template: str, overview: Overview, **context: Any
) -> Response:
    context = {
        "o": overview,
        "f": overview.figures,
        "logged_in": request.actor is not None and "ds_actor" in request.cookies,
        **context,
    }
    html = await datasette.render_template(template, context, request=request)
    return Response.html(html)


async def overview_page(request: Any, datasette: Any) -> Response:
    try:
        _, overview = await read_overview(request, datasette)
    except PublishError as error:
        return refused(error)
    return await render(
        request,
        datasette,
        "dashboard/overview.html",
        overview,
        charts={key: chart(overview.figures[key], overview) for key in ("reach", "volunteers")},
        uk_map=uk_map(overview.figures["districts"]),
    )


def chart(figure: Figure, overview: Overview) -> Any:
    unit = "volunteers" if figure.key == "volunteers" else "people"
    return bars(figure, overview.selection.period, unit)


async def report_pdf(request: Any, datasette: Any) -> Response:
    from harvest.publish.report import render_pdf

    try:
        _, overview = await read_overview(request, datasette)
    except PublishError as error:
        return refused(error)
    return download(render_pdf(overview), "pdf", "report", overview.selection.period)


def download(body: bytes, extension: str, *name: str) -> Response:
    """A file to save: its name from ``name``'s parts ("who-2026-Q1-All-areas.csv")."""
    words = "-".join(re.sub(r"[^A-Za-z0-9]+", "-", part).strip("-") for part in name)
    filename, content_type = f"{words}.{extension}", DOWNLOADS[extension]
    return Response(
        body,
        content_type=content_type,
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )


async def tables_page(request: Any, datasette: Any) -> Response:
    try:
        _, overview = await read_overview(request, datasette)
    except PublishError as error:
        return refused(error)
    return await render(request, datasette, "dashboard/tables.html", overview)


async def table_page(request: Any, datasette: Any) -> Response:
    """One figure's table, or its download when the address ends .csv or .xlsx."""
    key, extension = request.url_vars["figure"], request.url_vars.get("format")
    try:
        _, overview = await read_overview(request, datasette, top=None)
    except PublishError as error:
        return refused(error)
    if key not in overview.figures:
        return plain_page("Not found", f"There is no table called “{key}”.", 404)
    figure = overview.figures[key]
    if extension:
        return figure_download(figure, extension)
    return await render(
        request,
        datasette,
        "dashboard/table.html",
        overview,
        fig=figure,
        chart=chart(figure, overview) if key in ("reach", "volunteers") else "",
        uk_map=uk_map(figure) if key == "districts" else "",
    )


def download_value(value: Any) -> Any:
    """A published value for a spreadsheet: numbers as numbers, the rest in words."""
    if value is None or isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    return dashboard.shown_value(value)


def figure_download(figure: Figure, extension: str) -> Response:
    columns = figure.columns
    rows = [[download_value(v) for v in row[: len(columns)]] for row in figure.rows]
    if figure.too_few:
        rows = [[dashboard.TOO_FEW, *[None] * (len(columns) - 1)]]
    name = (figure.key, *(figure.params[k] for k in CHOICES if k in figure.params))
    if extension == "xlsx":
        body = xlsx_bytes(figure.title, columns, rows)
    else:
        body = csv_bytes(columns, rows)
    return download(body, extension, *name)


QUERY_FIGURES = {  # funder_queries.yaml's query → the figure with its rows
    "reach": "reach",
    "volunteers": "volunteers",
    "who": "who",
    "circumstances": "circumstances",
    "where_people_live": "districts",
    "areas": "areas",
    "deprivation": "deprivation",
    "activities": "activities",
    "sessions_per_person": "sessions",
    "outcomes": "outcomes",
    "score_change": "scores",
    "data_coverage": "coverage",
}


async def funder_page(datasette: Any, scope: dict[str, Any]) -> Response | None:
    """What a funder asking for a Datasette page of funders.db gets instead: sent to the
    plain page of the same figure (or the list of tables), or told that a choice is not
    offered; None for data (JSON, CSV, XLSX) and for pages that are not there."""
    path = scope.get("path", "")
    query = parse_qsl(scope.get("query_string", b"").decode("latin-1"))
    if path.endswith(DATA_FORMATS) or any(name in ("_format", "sql") for name, _ in query):
        return None  # data, or SQL (which Datasette refuses a funder)
    name = await funders_database(datasette)
    parts = path.strip("/").split("/")
    if name is None or parts[0] != name:
        return None
    if len(parts) > 1 and parts[1] in QUERY_FIGURES:
        target = f"{PATH}/table/{QUERY_FIGURES[parts[1]]}"
    elif len(parts) == 1 or await datasette.get_database(name).table_exists(parts[1]):
        target = f"{PATH}/tables"
    else:
        return None  # not there: Datasette's own "not found"
    args = {k: v for k, v in query if k in CHOICES and v}

    def problem(conn: Any) -> str | None:
        vocab = dashboard.vocabulary(conn)
        return dashboard.check(vocab, dashboard.selection_from(conn, args))

    message = await datasette.get_database(name).execute_fn(problem)
    if message:
        return refused(PublishError(message))
    choices = urlencode(args)
    return Response.redirect(datasette.urls.path(target) + (f"?{choices}" if choices else ""))
