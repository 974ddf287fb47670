"""harvest's logins for the published Datasette, loaded with ``--plugins-dir``.

* ``/-/login`` checks the users file itself (not datasette-auth-passwords' copy of
  it), throttles failed logins and starts a session kept on the server.
* Every request's actor is looked up from its session and the users file, so a
  removed or demoted user, or one whose password changed, is logged out at once.
* Pages under ``/-/`` other than login, logout and static files are for staff only.

The work is done in harvest/publish/logins.py and sessions.py.
"""

from __future__ import annotations

from typing import Any

from datasette import hookimpl

from harvest.publish import logins


@hookimpl
def register_routes() -> list[tuple[str, Any]]:
    # Plugins in --plugins-dir register after installed ones, so this /-/login comes first.
    return [(r"^/-/login$", logins.login)]


@hookimpl
def asgi_wrapper(datasette: Any) -> Any:
    return lambda app: logins.wrap(datasette, app)
