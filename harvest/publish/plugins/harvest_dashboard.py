"""harvest's Datasette plugin: the funder's dashboard, loaded with ``--plugins-dir``.

* ``/dashboard`` is the overview of funders.db, ``/dashboard/report.pdf`` its PDF,
  ``/dashboard/tables`` and ``/dashboard/table/<figure>`` (``.csv``, ``.xlsx``) every
  figure's table in words (the pages are in harvest/publish/dashboard_web.py).
* A funder who opens ``/`` (as after logging in) is sent to the dashboard, and one who
  opens a Datasette page of funders.db to the plain page of the same figure.
* The login page names the charity and says in one sentence what this is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from datasette import hookimpl
from datasette.utils.asgi import Response
from jinja2 import ChoiceLoader, FileSystemLoader

from harvest.publish import dashboard, logins
from harvest.publish.dashboard import PATH
from harvest.publish.dashboard_web import (
    funder_page,
    funders_database,
    overview_page,
    report_pdf,
    table_page,
    tables_page,
)
from harvest.publish.figures import when

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


@hookimpl
def register_routes() -> list[tuple[str, Any]]:
    return [
        (rf"^{PATH}$", overview_page),
        (rf"^{PATH}/report\.pdf$", report_pdf),
        (rf"^{PATH}/tables$", tables_page),
        (rf"^{PATH}/table/(?P<figure>[a-z_]+)(\.(?P<format>csv|xlsx))?$", table_page),
    ]


@hookimpl
def prepare_jinja2_environment(env: Any, datasette: Any) -> None:
    # the login page override first; the dashboard's own templates after Datasette's
    first = FileSystemLoader(str(TEMPLATES / "dashboard" / "overrides"))
    env.loader = ChoiceLoader([first, env.loader, FileSystemLoader(str(TEMPLATES))])
    env.filters["published"] = dashboard.shown_value
    env.filters["when"] = when


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
            path = scope.get("path", "")
            ours = path.startswith(("/-/", PATH))  # never Datasette's pages of funders.db
            if scope.get("type") == "http" and not ours and _is_funder(datasette, scope):
                if path == "/":
                    await Response.redirect(datasette.urls.path(PATH)).asgi_send(send)
                    return
                instead = await funder_page(datasette, scope)
                if instead is not None:
                    await instead.asgi_send(send)
                    return
            await app(scope, receive, send)

        return landing

    return wrap
