"""The Datasette side of logins: the login page, the session cookie and the ``/-/`` pages.

Used by the ``harvest_logins`` plugin (plugins/harvest_logins.py). Its settings come
from the metadata's ``plugins: {harvest: {...}}`` block written by site.py: the users
file, the session file, the store (for the audit trail) and the limits. Without that
block (the staff view with no users, for this computer only) nothing here applies.

* ``ds_actor``, the cookie Datasette reads, holds only a signed session id. A request's
  actor (name and role) is set from the session store and the users file, before
  Datasette looks; a cookie that is not a live session is dropped and cleared.
* Pages under ``/-/`` are for staff, but the login and logout pages and static files:
  anyone else is sent to the login page (not logged in) or refused (a funder).
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Awaitable, Callable
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import Any

from datasette.utils.asgi import Response
from datasette_auth_passwords.utils import hash_password, verify_password
from itsdangerous import BadData

from harvest.errors import HarvestError
from harvest.publish.sessions import PLUGIN, LoginsConfig, SessionStore, UsersCache
from harvest.publish.users import User

log = logging.getLogger(__name__)

COOKIE = "ds_actor"
NAMESPACE = "harvest-session"
OPEN_PAGES = re.compile(r"^/-/(login|logout|static/.*|static-plugins/.*)$")
FORBIDDEN = (
    "<!DOCTYPE html><title>Forbidden</title><h1>Forbidden</h1>"
    '<p>This page is for staff only. <a href="/">Back to the start</a></p>'
)
DUMMY_HASH = hash_password("not anyone's password")  # unknown names take as long to refuse

ASGI = Callable[[dict, Callable, Callable], Awaitable[None]]


class Logins:
    """One server's logins: its session store and settings."""

    def __init__(self, datasette: Any, config: dict[str, Any]) -> None:
        self.datasette = datasette
        self.settings = LoginsConfig.model_validate(config.get("limits") or {})
        self.store_path = Path(config["store"]) if config.get("store") else None
        self.users = UsersCache(Path(config["users"]))
        self.sessions = SessionStore(Path(config["sessions"]), self.users, self.settings)

    def session_id(self, cookie: str) -> str | None:
        try:
            value = self.datasette.unsign(cookie, NAMESPACE)
        except BadData:  # not signed by this server as a session: not one of ours
            return None
        return value.get("s") if isinstance(value, dict) else None

    def cookie_for(self, session_id: str) -> str:
        return str(self.datasette.sign({"s": session_id}, NAMESPACE))

    def audit(self, action: str, counts: dict[str, Any], user: str) -> None:
        """An entry in the store's audit trail: counts and a known login name, no passwords."""
        if self.store_path is None or not self.store_path.is_file():
            return
        from harvest import audit

        try:
            audit.record_at(self.store_path, action, counts, command="login", user=user)
        except (sqlite3.Error, OSError, HarvestError) as exc:  # busy or read-only: never block
            log.warning("Could not write %s to the audit trail: %s", action, exc)


def logins_for(datasette: Any) -> Logins | None:
    """This server's Logins, made on first use; None when logins are off."""
    config = datasette.plugin_config(PLUGIN) or {}
    if not config.get("users"):
        return None
    logins = getattr(datasette, "_harvest_logins", None)
    if logins is None:
        logins = Logins(datasette, config)
        datasette._harvest_logins = logins
    return logins


def cookies_of(scope: dict) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for key, value in scope.get("headers", []):
        if key == b"cookie":
            try:
                jar.load(value.decode("latin-1"))
            except CookieError:
                continue
    return {name: morsel.value for name, morsel in jar.items()}


def one_cookie_header(scope: dict, name: str, value: str | None) -> dict:
    """The scope with all its Cookie headers made one, in which the cookie ``name`` is
    ``value`` (or absent): Datasette reads only the last Cookie header."""
    parts, headers = [], []
    for key, header in scope.get("headers", []):
        if key != b"cookie":
            headers.append((key, header))
            continue
        for part in header.decode("latin-1").split(";"):
            if part.strip() and part.strip().partition("=")[0] != name:
                parts.append(part.strip())
    if value is not None:
        parts.append(f"{name}={value}")
    if parts:
        headers.append((b"cookie", "; ".join(parts).encode("latin-1")))
    return dict(scope, headers=headers)


def secure(datasette: Any, scope: dict) -> bool:
    """Served over https: directly, or through a proxy that says so (see docs/datasette.md)."""
    return scope.get("scheme") == "https" or bool(datasette.setting("force_https_urls"))


def with_session(logins: Logins, scope: dict) -> tuple[dict, User | None, str | None, bool]:
    """The scope with its actor set from the session; the user, the session id, and
    whether the browser's cookie is to be cleared (it is not a live session)."""
    cookie = cookies_of(scope).get(COOKIE)
    session_id = logins.session_id(cookie) if cookie else None
    user = logins.sessions.user(session_id) if session_id else None
    # Leave Datasette one ds_actor, the live session's, so that nothing else (such as an
    # old-style signed actor) is read.
    scope = one_cookie_header(scope, COOKIE, cookie if user is not None else None)
    actor = {"id": user.name, "role": user.role} if user else None
    return dict(scope, actor=actor), user, session_id, cookie is not None and user is None


def wrap(datasette: Any, app: ASGI) -> ASGI:
    """The ASGI wrapper: actor from the session, the ``/-/`` gate, logout ends the session."""

    async def with_sessions(scope: dict, receive: Callable, send: Callable) -> None:
        logins = logins_for(datasette) if scope["type"] == "http" else None
        if logins is None:
            return await app(scope, receive, send)
        scope, user, session_id, clear = with_session(logins, scope)
        path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        path = path.partition("?")[0]
        response = gate(datasette, path, user)
        if response is not None:
            if clear:
                response.set_cookie(COOKIE, "", expires=0, max_age=0)
            return await response.asgi_send(send)
        logout = path == "/-/logout" and scope["method"] == "POST"

        async def send_and_clear(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if clear and not any(
                    k.lower() == b"set-cookie" and v.startswith(COOKIE.encode() + b"=")
                    for k, v in headers
                ):
                    headers.append((b"set-cookie", f"{COOKIE}=; Max-Age=0; Path=/".encode()))
                if logout and message["status"] == 302 and session_id is not None:
                    logins.sessions.end(session_id)
                message = dict(message, headers=headers)
            await send(message)

        await app(scope, receive, send_and_clear)

    return with_sessions


def gate(datasette: Any, path: str, user: User | None) -> Response | None:
    """For a ``/-/`` page that is for staff only: the login page or a refusal, else None."""
    if not path.startswith("/-/") or OPEN_PAGES.match(path) or (user and user.role == "staff"):
        return None
    if user is None:
        return Response.redirect(datasette.urls.path("/-/login"))
    return Response.html(FORBIDDEN, status=403)


async def login(request: Any, datasette: Any) -> Response:
    """The login page: checks the users file, throttles failures, starts a session."""
    logins = logins_for(datasette)
    error = None
    if logins is None:
        error = "Nobody can log in here: add users with `harvest users add`."
    elif request.method == "POST":
        form = await request.post_vars()
        name, password = form.get("username") or "", form.get("password") or ""
        address = (request.scope.get("client") or ("unknown",))[0]
        response, error = attempt(logins, request, name, password, address)
        if response is not None:
            return response
    return Response.html(
        await datasette.render_template("password_login.html", {"error": error}, request=request)
    )


def attempt(
    logins: Logins, request: Any, name: str, password: str, address: str
) -> tuple[Response | None, str | None]:
    """One login attempt: a redirect with the session cookie, or the error to show."""
    wait = logins.sessions.wait(name, address)
    user = logins.users.get(name)
    known = name if user else "(unknown name)"
    if wait > 0:
        refused = logins.sessions.refused(name)
        if refused & (refused - 1) == 0:  # the 1st, 2nd, 4th, 8th…: a flood stays a trickle
            logins.audit("login.refused", {"refused": refused, "wait_seconds": round(wait)}, known)
        minutes = max(1, round(wait / 60))
        return None, (
            f"Too many failed logins: try again in {minutes} minute{'s' if minutes != 1 else ''}."
        )
    if not verify_password(password, user.password_hash if user else DUMMY_HASH) or not user:
        failure = logins.sessions.failed(name, address)
        counts = {"for_name": failure.for_name, "from_address": failure.from_address}
        logins.audit("login.failed", counts, known)
        return None, "Wrong name or password."
    logins.sessions.succeeded(name)
    logins.audit("login", {user.role: True}, user.name)
    earlier = logins.session_id(request.cookies.get(COOKIE, ""))
    if earlier:  # a new login is a new session: the browser's earlier one ends
        logins.sessions.end(earlier)
    response = Response.redirect(logins.datasette.urls.path("/"))
    response.set_cookie(
        COOKIE,
        logins.cookie_for(logins.sessions.start(user)),
        max_age=int(logins.sessions.absolute),
        httponly=True,
        samesite="lax",
        secure=secure(logins.datasette, request.scope),
    )
    return response, None
