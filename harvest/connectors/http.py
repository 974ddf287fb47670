"""HTTP for every API connector, written once: timeouts, retries, paging and errors.

An API connector sends its requests through :class:`HttpClient` (a ``requests``
session of its own, so a vendor's client library can use it without any global
patching) and gets back a response with a 2xx status, or one of harvest's errors:

==========================================  ==============================================
what happened                               what is raised
==========================================  ==============================================
HTTP 429, 5xx, a refused, dropped or        retried with exponential backoff (with jitter,
timed-out connection                        capped), honouring ``Retry-After``; after
                                            ``max_attempts`` a ``SourceError(retriable=True)``
a ``Retry-After`` longer than ``max_wait``  ``SourceError(retriable=True)`` at once: the next
                                            sync carries on, cron is not held up for an hour
HTTP 401 / 403                              ``AuthError`` saying how to authorise again
any other 4xx (unless the caller allows it) ``SourceError`` (fatal), with the API's reason
a body that is not JSON (:meth:`json`)      ``SourceError(retriable=True)`` naming the path
==========================================  ==============================================

Messages name the URL's path, never its query string, headers or the token. The
``sleep`` function is injectable so tests can record waits instead of waiting.

A vendor library that sends its own requests and *raises* on an error (Google's
clients, gspread) gets the same policy through :meth:`HttpClient.call`: the
connector passes a function that describes the library's exception as a
:class:`Failed` try (status, ``Retry-After``, the API's reason), and the table above
applies unchanged.
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
import time
from collections.abc import Callable, Collection, Hashable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests

from harvest.errors import AuthError, SourceError

log = logging.getLogger(__name__)

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)

TRANSPORT_ERRORS: tuple[type[Exception], ...] = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep trying. Waits double from ``backoff`` (±``jitter``), capped at
    ``max_wait``; a 429 without ``Retry-After`` starts from ``rate_limit_wait`` instead."""

    max_attempts: int = 5
    backoff: float = 1.0
    max_wait: float = 60.0
    rate_limit_wait: float = 20.0
    jitter: float = 0.25

    def wait(
        self, attempt: int, retry_after: float | None, rate_limited: bool, rng: random.Random
    ) -> float | None:
        """Seconds to wait after failed try number ``attempt``; None if the server asks too much."""
        if retry_after is not None:
            return retry_after if retry_after <= self.max_wait else None
        base = self.rate_limit_wait if rate_limited else self.backoff
        delay = base * 2 ** (attempt - 1) * (1 + self.jitter * (2 * rng.random() - 1))
        return min(delay, self.max_wait)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: a number (fractions allowed) or an HTTP date; else None."""
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def is_safe_for_tokens(url: str) -> bool:
    """https anywhere; plain http only to this machine (a test server, a local proxy)."""
    parts = urlsplit(url)
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK)


def require_https(url: str) -> str:
    """``url`` if a token may be sent to it, else ValueError (a config validator's message)."""
    if not is_safe_for_tokens(url.strip()):
        raise ValueError(
            f"must start with https:// (got {url!r}): a token sent over plain http can be "
            "read by anyone on the network. http:// is allowed only to this machine "
            f"({', '.join(LOOPBACK)})"
        )
    return url.strip()


def url_path(url: str) -> str:
    """The part of a URL that is safe to show: its path, never the query or credentials."""
    return urlsplit(url).path or "/"


class HttpClient:
    """Sends requests for one service (``"Eventbrite"``) with timeouts, retries and errors.

    ``reauthorise`` finishes the message of a refused token, e.g. "run `harvest auth
    eventbrite`". ``timeout`` is seconds to connect and to wait for each read.
    """

    def __init__(
        self,
        service: str,
        reauthorise: str,
        policy: RetryPolicy | None = None,
        timeout: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.service = service
        self.reauthorise = reauthorise
        self.policy = policy or RetryPolicy()
        self.timeout = (min(10.0, timeout), timeout)
        self.sleep = sleep
        self.session = session or requests.Session()
        self.rng = rng or random.Random()
        self.calls = 0

    def request(
        self, method: str, url: str, *, allow: Collection[int] = (), **kwargs: Any
    ) -> requests.Response:
        """Send one request, retrying what is worth retrying; statuses in ``allow`` are returned."""
        path = url_path(url)
        if not is_safe_for_tokens(url):  # never a token in clear text, whatever called us
            raise SourceError(
                f"harvest will not send the {self.service} token to {urlsplit(url).scheme}://"
                f"{urlsplit(url).hostname}{path}: use an https:// address."
            )
        for attempt in range(1, self.policy.max_attempts + 1):
            self.calls += 1
            try:
                response = self.session.request(method, url, timeout=self.timeout, **kwargs)
            except TRANSPORT_ERRORS as exc:
                problem, retry_after, limited = (
                    _transport_problem(exc, self.timeout[1]),
                    None,
                    False,
                )
            else:
                status = response.status_code
                if status < 400 or status in allow:
                    return response
                self._raise_if_final(response, path)
                problem = f"answered HTTP {status}"
                retry_after = retry_after_seconds(response.headers.get("Retry-After"))
                limited = status == 429
            self._wait_or_give_up(attempt, problem, path, retry_after, limited)
        raise AssertionError("unreachable")  # the loop returns or raises

    def call(
        self, fn: Callable[[], T], path: str, explain: Callable[[Exception], Failed | None]
    ) -> T:
        """Run ``fn`` (one call of a vendor library that raises on errors) with the policy of
        :meth:`request`. ``explain`` describes the library's exception as a :class:`Failed`
        try, or returns None for an exception that is not about HTTP (raised as it is)."""
        for attempt in range(1, self.policy.max_attempts + 1):
            self.calls += 1
            try:
                return fn()
            except Exception as exc:
                failed = explain(exc)
                if failed is None:
                    raise
            if failed.status is not None:
                self._raise_for_status(failed.status, path, failed.said)
            self._wait_or_give_up(
                attempt, failed.problem, path, failed.retry_after, failed.status == 429
            )
        raise AssertionError("unreachable")  # the loop returns or raises

    def _raise_if_final(self, response: requests.Response, path: str) -> None:
        """Raise for a status that trying again will not fix (401, 403, other 4xx)."""
        self._raise_for_status(response.status_code, path, describe_error(response))

    def _raise_for_status(self, status: int, path: str, said: str) -> None:
        said = f" ({self.service} said: {said})" if said else ""
        if status == 401:
            raise AuthError(f"The {self.service} token was refused{said}: {self.reauthorise}.")
        if status == 403:
            raise AuthError(
                f"{self.service} refused access to {path} (HTTP 403){said}. The token may not "
                f"belong to this organisation: {self.reauthorise}."
            )
        if status != 429 and status < 500:
            raise SourceError(
                f"{self.service} answered HTTP {status} for {path}{said}. This is not something "
                "trying again will fix: check the source's options in harvest.yaml."
            )

    def _wait_or_give_up(
        self, attempt: int, problem: str, path: str, retry_after: float | None, limited: bool
    ) -> None:
        if attempt >= self.policy.max_attempts:
            raise SourceError(
                f"{self.service} {problem} for {path}, {attempt} times in a row. Nothing from "
                "this source was changed; the next sync will try again.",
                retriable=True,
            )
        wait = self.policy.wait(attempt, retry_after, limited, self.rng)
        if wait is None:
            raise SourceError(
                f"{self.service} {problem} for {path} and asked harvest to wait "
                f"{retry_after:,.0f} s (its rate limit). Nothing from this source was changed; "
                "the next sync will carry on.",
                retriable=True,
            )
        log.info(
            "%s %s for %s; try %d again in %.2f s", self.service, problem, path, attempt + 1, wait
        )
        self.sleep(wait)

    def json(self, response: requests.Response) -> Any:
        """The response's JSON, or a clear SourceError naming the path when it is not JSON."""
        try:
            return response.json()
        except ValueError:
            kind = response.headers.get("Content-Type", "no content type").split(";")[0]
            start = " ".join(response.text[:80].split())
            raise SourceError(
                f"{self.service} answered {url_path(response.url)} with something that is not "
                f"JSON ({kind}, {len(response.content):,} bytes, starting {start!r}). Nothing "
                "from this source was changed; the next sync will try again.",
                retriable=True,
            ) from None


@dataclass(frozen=True)
class Failed:
    """One failed try as :meth:`HttpClient.call` sees it, whichever library raised it.

    ``problem`` finishes "Google …" ("answered HTTP 503", "could not be reached");
    ``status`` is None for a failed connection; ``said`` is the API's own reason.
    """

    problem: str
    status: int | None = None
    retry_after: float | None = None
    said: str = ""

    @classmethod
    def http(cls, status: int, retry_after: str | None = None, said: str = "") -> Failed:
        return cls(f"answered HTTP {status}", status, retry_after_seconds(retry_after), said)

    @classmethod
    def transport(cls, exc: Exception, read_timeout: float) -> Failed:
        return cls(_transport_problem(exc, read_timeout))


def describe_error(response: requests.Response) -> str:
    """A short reason from an API's error body, in the shapes APIs commonly use."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    error = body.get("error")
    text = (
        body.get("error_description")
        or (error.get("message") if isinstance(error, dict) else error)
        or body.get("message")
        or ""
    )
    return " ".join(str(text).split())[:200]


def _transport_problem(exc: Exception, read_timeout: float) -> str:
    if isinstance(exc, requests.exceptions.Timeout | TimeoutError):
        return f"did not answer within {read_timeout:g} s"
    if isinstance(
        exc, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError
    ):
        return "broke off the connection in the middle of an answer"
    return "could not be reached (the connection failed or was dropped)"


def paginate(
    fetch_page: Callable[[K | None], tuple[Iterable[T], K | None]],
    what: str,
    max_pages: int = 100_000,
) -> Iterator[T]:
    """Every item of every page: ``fetch_page(token)`` gives a page's items and the next token
    (None at the end). A token seen twice stops the loop with a SourceError."""
    token: K | None = None
    seen: set[K] = set()
    for _ in range(max_pages):
        items, token = fetch_page(token)
        yield from items
        if token is None:
            return
        if token in seen:
            raise SourceError(
                f"{what}: the API sent the same next-page marker twice, so harvest stopped "
                "rather than loop. Nothing from this source was changed.",
                retriable=True,
            )
        seen.add(token)
    raise SourceError(f"{what}: more than {max_pages:,} pages; stopped.", retriable=True)
