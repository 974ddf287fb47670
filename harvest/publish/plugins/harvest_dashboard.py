"""harvest's Datasette plugin: the funder's dashboard, loaded with ``--plugins-dir``.

* ``/dashboard`` is the overview of funders.db for a period, activity and area chosen
  from its ``choices`` (in the address, so a view can be bookmarked); the figures come
  from harvest/publish/dashboard.py, exactly as published.
* ``/dashboard/report.pdf`` is the same overview as a PDF (harvest/publish/report.py).
* A funder who opens ``/`` (as after logging in) is sent to the dashboard.
* The login page names the charity and says in one sentence what this is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from datasette import hookimpl
from datasette.utils.asgi import Response
from jinja2 import ChoiceLoader, FileSystemLoader

from harvest.errors import PublishError
from harvest.publish import dashboard, logins
from harvest.publish.charts import bars
from harvest.publish.uk_map import uk_map

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
PATH = "/dashboard"


async def funders_database(datasette: Any) -> str | None:
    """The name of the database holding the protected tables (funders.db), or None."""
    for name, db in datasette.databases.items():
        if name != "_internal" and await db.table_exists("people_reached"):
            if await db.table_exists("choices"):
                return str(name)
    return None


async def _overview(request: Any, datasette: Any) -> tuple[str, dashboard.Overview]:
    name = await funders_database(datasette)
    if name is None:
        raise PublishError("There are no figures for funders yet: run `harvest publish`.")
    await datasette.ensure_permissions(request.actor, [("view-database", name), "view-instance"])
    args = {k: request.args.get(k, "") for k in ("period", "activity", "area")}

    def read(conn: Any) -> dashboard.Overview:
        return dashboard.build(conn, dashboard.selection_from(conn, args))

    return name, await datasette.get_database(name).execute_fn(read)


def _refused(error: PublishError) -> Response:
    body = (
        "<!DOCTYPE html><html lang='en'><title>Not a valid choice</title>"
        f"<main><h1>Not a valid choice</h1><p>{_escape(str(error))}</p>"
        f"<p><a href='{PATH}'>Back to the overview</a></p></main></html>"
    )
    return Response.html(body, status=400)


def _escape(text: str) -> str:
    from html import escape

    return escape(text)


async def overview_page(request: Any, datasette: Any) -> Response:
    try:
        database, overview = await _overview(request, datasette)
    except PublishError as error:
        return _refused(error)
    context = {
        "o": overview,
        "database": database,
        "f": overview.figures,
        "reach_chart": bars(overview.figures["reach"], overview.selection.period),
        "uk_map": uk_map(overview.figures["districts"]),
        "logged_in": request.actor is not None and "ds_actor" in request.cookies,
    }
    html = await datasette.render_template("dashboard/overview.html", context, request=request)
    return Response.html(html)


async def report_pdf(request: Any, datasette: Any) -> Response:
    from harvest.publish.report import render_pdf

    try:
        _, overview = await _overview(request, datasette)
    except PublishError as error:
        return _refused(error)
    filename = "report-" + "".join(c if c.isalnum() else "-" for c in overview.selection.period)
    return Response(
        render_pdf(overview),
        content_type="application/pdf",
        headers={"content-disposition": f'attachment; filename="{filename}.pdf"'},
    )


@hookimpl
def register_routes() -> list[tuple[str, Any]]:
    return [(rf"^{PATH}$", overview_page), (rf"^{PATH}/report\.pdf$", report_pdf)]


@hookimpl
def prepare_jinja2_environment(env: Any, datasette: Any) -> None:
    # the login page override first; the dashboard's own templates after Datasette's
    first = FileSystemLoader(str(TEMPLATES / "dashboard" / "overrides"))
    env.loader = ChoiceLoader([first, env.loader, FileSystemLoader(str(TEMPLATES))])
    env.filters["published"] = dashboard.shown_value


@hookimpl
def extra_template_vars(template: str, datasette: Any) -> Any:
    if template != "password_login.html":
        return {}

    async def organisation() -> dict[str, Any]:
        name = await funders_database(datasette)
        if name is None:
            return {"harvest_organisation": None}
        rows = await datasette.get_database(name).execute(
            "SELECT value FROM about WHERE key = 'organisation'"
        )
        return {"harvest_organisation": rows.first()[0] if rows.rows else None}

    return organisation


@hookimpl
def menu_links(datasette: Any, actor: Any) -> list[dict[str, str]]:
    return [{"href": datasette.urls.path(PATH), "label": "Funder dashboard"}] if actor else []


def _is_funder(datasette: Any, scope: dict[str, Any]) -> bool:
    if "actor" in scope:
        actor = scope["actor"] or {}
        return actor.get("role") == "funder"
    state = logins.logins_for(datasette)
    if state is None:
        return False
    user = logins.with_session(state, scope)[1]
    return user is not None and user.role == "funder"


@hookimpl
def asgi_wrapper(datasette: Any) -> Any:
    def wrap(app: Any) -> Any:
        async def landing(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope.get("type") == "http" and scope.get("path") == "/":
                if _is_funder(datasette, scope):
                    await Response.redirect(datasette.urls.path(PATH)).asgi_send(send)
                    return
            await app(scope, receive, send)

        return landing

    return wrap
