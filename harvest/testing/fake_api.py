"""A small local HTTP server that plays a vendor's API, so its real client runs unmodified.

A fake API is a :class:`FakeServer` with a route table (``add_route`` or the ``route``
decorator): a handler takes the :class:`Request` and the path's named groups and
returns a :class:`Reply`. Every request is recorded (method, path, query, headers,
time) so tests can assert what was sent. Failures can be scripted for the next N
calls to a path::

    api.fail("/v3/events/1/attendees/", "429", times=2, retry_after="0.01")
    api.fail("/v3/", "drop")           # any path starting with /v3/, once

Kinds: ``"429"`` (``retry_after`` optional), any other status code as text (``"500"``,
``"401"``), ``"not_json"`` (HTTP 200 with an HTML page), ``"drop"`` (close the
connection without answering), ``"cut"`` (start a 200 answer, then hang up half
way) and ``"hang"`` (answer after ``delay`` seconds). The server listens on
127.0.0.1 on a free port and runs in a thread; use it as a context manager. Give it
an ``ssl.SSLContext`` (``FakeServer(tls=...)``) to serve ``https://`` instead, for clients
that insist on it (MSAL accepts only https authorities).
"""

from __future__ import annotations

import json
import re
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]  # the last value of each parameter
    headers: dict[str, str]  # lower-cased names
    body: bytes = b""
    at: float = field(default_factory=time.monotonic)
    params: dict[str, list[str]] = field(default_factory=dict)  # every value of each parameter


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON-able, or str/bytes sent as they are
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> tuple[bytes, str]:
        if isinstance(self.body, bytes):
            return self.body, "application/octet-stream"
        if isinstance(self.body, str):
            return self.body.encode("utf-8"), "text/html; charset=utf-8"
        return json.dumps(self.body).encode("utf-8"), "application/json"


@dataclass
class Failure:
    prefix: str
    kind: str
    times: int
    retry_after: str | None = None
    delay: float = 0.0


Handler = Callable[..., Reply]


class FakeServer:
    """A threaded fake API on 127.0.0.1 with a route table, scripted failures and a request log."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.tls = tls
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.failures: list[Failure] = []
        self.requests: list[Request] = []
        self.now = datetime(2026, 3, 10, 12, 0, 0, tzinfo=UTC)  # the server's clock (Date header)
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    # --- setup -----------------------------------------------------------------------

    def add_route(self, method: str, pattern: str, handler: Handler) -> None:
        """``pattern`` is a regex for the whole path, with named groups passed to the handler."""
        self.routes.append((method.upper(), re.compile(pattern), handler))

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        def decorate(handler: Handler) -> Handler:
            self.add_route(method, pattern, handler)
            return handler

        return decorate

    def fail(
        self,
        prefix: str,
        kind: str,
        times: int = 1,
        retry_after: str | None = None,
        delay: float = 1.0,
    ) -> None:
        """The next ``times`` requests whose path starts with ``prefix`` fail as ``kind``."""
        with self._lock:
            self.failures.append(Failure(prefix, kind, times, retry_after, delay))

    # --- running ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._httpd is not None, "start the server first"
        host, port = self._httpd.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host  # for mypy: always text
        return f"{'https' if self.tls else 'http'}://{host}:{port}"

    def start(self) -> FakeServer:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._httpd.daemon_threads = True
        if self.tls is not None:
            self._httpd.socket = self.tls.wrap_socket(self._httpd.socket, server_side=True)
        threading.Thread(target=self._httpd.serve_forever, args=(0.01,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- inspection ------------------------------------------------------------------

    def calls(self, prefix: str = "") -> list[Request]:
        """The requests recorded so far whose path starts with ``prefix``."""
        with self._lock:
            return [r for r in self.requests if r.path.startswith(prefix)]

    # --- dispatch (called from the server's threads) ----------------------------------

    def _take_failure(self, path: str) -> Failure | None:
        with self._lock:
            for f in self.failures:
                if path.startswith(f.prefix) and f.times > 0:
                    f.times -= 1
                    return f
        return None

    def error_body(self, status: int) -> Any:
        """The body of a scripted failure with this status; vendor fakes override it."""
        return {
            "status_code": status,
            "error": _ERRORS.get(status, "ERROR"),
            "error_description": _DESCRIPTIONS.get(status, "Something went wrong."),
        }

    def dispatch(self, request: Request) -> Reply:
        for method, pattern, handler in self.routes:
            m = pattern.fullmatch(request.path)
            if m and method == request.method:
                return handler(request, **m.groupdict())
        return Reply(
            404,
            {
                "error": "NOT_FOUND",
                "status_code": 404,
                "error_description": f"No route for {request.path}",
            },
        )


def _make_handler(server: FakeServer) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

        def date_time_string(self, timestamp: float | None = None) -> str:
            return format_datetime(server.now, usegmt=True)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            params = parse_qs(parts.query, keep_blank_values=True)
            request = Request(
                method,
                parts.path,
                {k: v[-1] for k, v in params.items()},
                {k.lower(): v for k, v in self.headers.items()},
                self.rfile.read(length) if length else b"",
                params=params,
            )
            with server._lock:
                server.requests.append(request)
            failure = server._take_failure(parts.path)
            try:
                if failure is not None and self._fail(failure):
                    return
                self._send(server.dispatch(request))
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
                self.close_connection = True

        def _fail(self, failure: Failure) -> bool:
            """Act out a scripted failure; False when the request should then be answered."""
            kind = failure.kind
            if kind == "drop":
                self.close_connection = True
                return True
            if kind == "hang":
                time.sleep(failure.delay)
                return False
            if kind == "cut":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "5000")
                self.end_headers()
                self.wfile.write(b'{"attendees": [{"id": "')
                self.wfile.flush()
                self.close_connection = True
                return True
            if kind == "not_json":
                self._send(Reply(200, "<html><body><h1>502 Bad Gateway</h1></body></html>"))
                return True
            status = int(kind)
            headers = {"Retry-After": failure.retry_after} if failure.retry_after else {}
            self._send(Reply(status, server.error_body(status), headers))
            return True

        def _send(self, reply: Reply) -> None:
            data, content_type = reply.encoded()
            self.send_response(reply.status)
            headers = {"Content-Type": content_type, **reply.headers}
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return _Handler


_ERRORS = {
    401: "INVALID_AUTH",
    403: "NOT_AUTHORIZED",
    404: "NOT_FOUND",
    429: "HIT_RATE_LIMIT",
    500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
}
_DESCRIPTIONS = {
    401: "The OAuth token you provided was invalid.",
    403: "You do not have permission to access the resource you requested.",
    404: "The resource you requested does not exist.",
    429: "Hourly rate limit has been reached for this token.",
    500: "There was an internal error.",
    503: "The service is temporarily unavailable.",
}
