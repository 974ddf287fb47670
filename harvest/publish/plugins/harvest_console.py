"""The staff console (docs/console.md), loaded with ``--plugins-dir``: run harvest from the
browser. Pages live under ``/-/console``, which harvest_logins keeps for staff only; the
pages themselves are in harvest/publish/console/ and call harvest's library.
"""

from __future__ import annotations

from typing import Any

from datasette import hookimpl

from harvest.publish.console import audit, connect, mapping, people, review, sources
from harvest.publish.console.web import HOME

ROUTES = [
    ("", sources.home),
    ("/sources", sources.sources),
    ("/sync", sources.sync_now),
    (r"/sync\.json", sources.sync_status),
    (r"/sources/(?P<source>[^/]+)/problems\.xlsx", sources.problems_download),
    ("/review", review.review),
    ("/review/answer", review.answer),
    ("/review/undo", review.undo),
    ("/people", people.find),
    ("/people/(?P<person_id>[0-9]+)", people.person),
    (r"/people/(?P<person_id>[0-9]+)/access\.(?P<format>xlsx|json)", people.access),
    ("/people/(?P<person_id>[0-9]+)/erase", people.erase),
    ("/audit", audit.audit),
    ("/mapping/(?P<source>[^/]+)", mapping.mapping),
    ("/connect", connect.connect),
    ("/connect/microsoft", connect.microsoft),
    (r"/connect/microsoft\.json", connect.microsoft_status),
]


@hookimpl
def register_routes() -> list[tuple[str, Any]]:
    return [(f"^{HOME}{path}$", view) for path, view in ROUTES]


@hookimpl
def menu_links(datasette: Any, actor: dict | None) -> list[dict[str, str]]:
    if actor and actor.get("role") == "staff":
        return [{"href": datasette.urls.path(HOME), "label": "Staff console"}]
    return []
