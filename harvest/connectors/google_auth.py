"""Google, written once for both Google connectors: options, credentials, clients and errors.

Credentials are the OAuth refresh token that ``harvest auth google`` keeps in the token
store (an "authorized user" JSON), or a service account's key file named in harvest.yaml
(``service_account_file``). Access tokens are renewed by google-auth as they expire; a
refresh token Google no longer accepts (revoked, or expired after 7 days because the
OAuth app was left in "Testing") fails that source with "run `harvest auth google`".

Google's client libraries send their own requests and raise on errors, so each call
goes through :meth:`harvest.connectors.http.HttpClient.call` with :meth:`Google.explain`
describing the exception: the same retries (429 and 5xx, honouring ``Retry-After``),
waits and messages as every other API connector. Google's 403s for a rate limit
(``rateLimitExceeded``, ``userRateLimitExceeded``) count as 429.

``api_url`` sends everything to one other address (a test server or a proxy):
google-api-python-client through its ``api_endpoint`` client option, gspread through
:class:`GoogleSession` (a google-auth ``AuthorizedSession`` whose transport adapter
rewrites Google's hosts; gspread's own URLs are constants), and token renewal to
``{api_url}/token``.
"""

from __future__ import annotations

import http.client
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import google_auth_httplib2
import httplib2
import requests
from google.auth.exceptions import GoogleAuthError, RefreshError, TransportError
from google.auth.transport.requests import AuthorizedSession
from google.auth.transport.requests import Request as GoogleAuthRequest
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from gspread.exceptions import APIError
from pydantic import BaseModel, ConfigDict, Field, field_validator
from requests.adapters import HTTPAdapter

from harvest.connectors.base import Connector
from harvest.connectors.http import (
    TRANSPORT_ERRORS,
    Failed,
    HttpClient,
    RetryPolicy,
    require_https,
    url_path,
)
from harvest.errors import AuthError, ConfigError, SourceError
from harvest.secrets import TokenStore, resolve_secret

T = TypeVar("T")

SCOPES = [
    "https://www.googleapis.com/auth/forms.responses.readonly",
    "https://www.googleapis.com/auth/forms.body.readonly",
    "https://www.googleapis.com/auth/spreadsheets.readonly",
    "https://www.googleapis.com/auth/drive.metadata.readonly",
]
TOKEN_NAME = "google"
AUTH_COMMAND = "harvest auth google"
GOOGLE_HOSTS = (
    "sheets.googleapis.com",
    "www.googleapis.com",
    "forms.googleapis.com",
    "oauth2.googleapis.com",
)
RATE_LIMIT_REASONS = {"rateLimitExceeded", "userRateLimitExceeded"}
TESTING_HINT = (
    "If this happens about a week after authorising, the OAuth app is still in "
    'Google\'s "Testing" status: publish it (see docs/connectors/google.md).'
)


class GoogleOptions(BaseModel):
    """Options every Google source has."""

    model_config = ConfigDict(extra="forbid")

    service_account_file: str | None = None  # a key file (relative to harvest.yaml)
    api_url: str | None = None  # one address for every Google API (tests, proxies)
    max_attempts: int = Field(default=5, ge=1, le=20)
    max_wait_seconds: float = Field(default=60.0, gt=0, le=3600)
    timeout_seconds: float = Field(default=60.0, gt=0, le=600)

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return require_https(value).rstrip("/")


def google_id(value: str, kind: str, path_word: str) -> str:
    """The id of a Google file from its id or its address (``/{path_word}/d/<id>/…``)."""
    text = value.strip()
    if "/" not in text:
        if len(text) >= 20 and all(c.isalnum() or c in "-_" for c in text):
            return text
        raise ValueError(
            f"{text!r} is not a {kind} id or address: copy the address of the "
            f"{kind} from your browser"
        )
    parts = urlsplit(text).path.split("/")
    if path_word in parts:
        rest = parts[parts.index(path_word) + 1 :]
        if len(rest) >= 2 and rest[0] == "d" and rest[1] != "e":
            return rest[1]
    raise ValueError(
        f"{text!r} is not the address of a {kind} (it should contain "
        f"/{path_word}/d/…): open the {kind} in Google {path_word.title()} and "
        "copy the address from your browser"
    )


# --- credentials ------------------------------------------------------------------------


def load_credentials(options: GoogleOptions, base_dir: Path) -> tuple[Any, str]:
    """The source's credentials, and how to fix them when Google refuses them."""
    if options.service_account_file:
        return _service_account(options, base_dir)
    secret = resolve_secret(None, TokenStore(), TOKEN_NAME, AUTH_COMMAND)
    again = f"run `{AUTH_COMMAND}`"
    try:
        info = json.loads(secret.get_secret_value())
        creds = user_credentials.Credentials.from_authorized_user_info(info, SCOPES)
    except (ValueError, TypeError, AttributeError):
        raise AuthError(f"The stored Google authorisation is not readable: {again}.") from None
    if options.api_url:
        creds = creds.with_token_uri(options.api_url + "/token")
    return creds, again


def _service_account(options: GoogleOptions, base_dir: Path) -> tuple[Any, str]:
    path = Path(os.path.expanduser(options.service_account_file or ""))
    path = path if path.is_absolute() else base_dir / path
    try:
        creds = service_account.Credentials.from_service_account_file(str(path), scopes=SCOPES)
    except FileNotFoundError:
        raise ConfigError(
            f"service_account_file: there is no file {path}. Download the "
            "service account's JSON key from Google Cloud and put it there."
        ) from None
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(
            f"service_account_file: {path} is not a Google service account key "
            f"({type(exc).__name__}). Download a new JSON key from Google "
            "Cloud → IAM → Service accounts → Keys."
        ) from None
    if options.api_url:
        creds = creds.with_token_uri(options.api_url + "/token")
    again = (
        f"check the key file {path} and that the form or spreadsheet is shared with "
        f"{creds.service_account_email}"
    )
    return creds, again


# --- clients ----------------------------------------------------------------------------


class RedirectAdapter(HTTPAdapter):
    """A requests transport adapter that sends a request for Google to ``base`` instead."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base.rstrip("/")

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        parts = urlsplit(request.url or "")
        request.url = self.base + parts.path + (f"?{parts.query}" if parts.query else "")
        return super().send(request, *args, **kwargs)


class GoogleSession(AuthorizedSession):
    """google-auth's requests session (tokens added and renewed), sent to ``api_url`` when
    it is set: the supported seam for pointing gspread elsewhere."""

    def __init__(self, credentials: Any, api_url: str | None = None) -> None:
        super().__init__(credentials)
        if api_url:
            adapter = RedirectAdapter(api_url)
            for host in GOOGLE_HOSTS:
                self.mount(f"https://{host}/", adapter)


class Google:
    """One source's way into Google: credentials, the shared retry policy, and clients.

    Make one per sync and per thread (httplib2, under Google's client, is not thread-safe).
    """

    def __init__(self, options: GoogleOptions, base_dir: Path) -> None:
        self.options = options
        self.credentials, self.reauthorise = load_credentials(options, base_dir)
        policy = RetryPolicy(max_attempts=options.max_attempts, max_wait=options.max_wait_seconds)
        self.http = HttpClient("Google", self.reauthorise, policy, timeout=options.timeout_seconds)

    def renew(self) -> None:
        """Renew the access token now (one call to Google's token endpoint), so that an
        authorisation Google no longer accepts fails at once, not part way through."""
        request = GoogleAuthRequest(requests.Session())
        self.call(lambda: self.credentials.refresh(request), "/token")

    def service(self, name: str, version: str) -> Any:
        """A google-api-python-client service, offline (the discovery document in the wheel)."""
        http = google_auth_httplib2.AuthorizedHttp(
            self.credentials, http=httplib2.Http(timeout=self.options.timeout_seconds)
        )
        endpoint = (
            {"client_options": {"api_endpoint": self.options.api_url + "/"}}
            if self.options.api_url
            else {}
        )
        return build(
            name, version, http=http, static_discovery=True, cache_discovery=False, **endpoint
        )

    def session(self) -> GoogleSession:
        return GoogleSession(self.credentials, self.options.api_url)

    def execute(self, request: Any, missing: str | None = None) -> Any:
        """Execute a google-api-python-client request with harvest's retries and errors."""
        path = url_path(request.uri)
        answer = self.call(lambda: request.execute(num_retries=0), path, missing)
        if not isinstance(answer, dict):  # the library hands back a body that is not JSON
            raise SourceError(
                f"Google answered {path} with something that is not JSON. Nothing "
                "from this source was changed; the next sync will try again.",
                retriable=True,
            )
        return answer

    def call(self, fn: Callable[[], T], path: str, missing: str | None = None) -> T:
        """Run one call of a Google client library with harvest's retries and errors;
        ``missing`` is the message of a 404 (the file is not there or not shared)."""
        return self.http.call(fn, path, lambda exc: self.explain(exc, path, missing))

    def explain(self, exc: Exception, path: str, missing: str | None = None) -> Failed | None:
        """Google's exceptions as a :class:`Failed` try (or a harvest error raised at once)."""
        failed = None
        if isinstance(exc, HttpError):
            failed = _http_failed(exc.resp.status, exc.resp.get("retry-after"), exc.content)
        elif isinstance(exc, APIError):
            response = exc.response
            failed = _http_failed(
                response.status_code, response.headers.get("Retry-After"), response.content
            )
        if failed is not None:
            if failed.status == 404 and missing:
                raise SourceError(f"{missing} (Google answered HTTP 404 for {path}.)") from None
            return failed
        if isinstance(exc, RefreshError):
            if getattr(exc, "retryable", False):
                return Failed("could not renew harvest's access (its sign-in service failed)")
            reason = str(exc.args[0]) if exc.args else type(exc).__name__
            raise AuthError(
                f"Google refused harvest's authorisation ({reason}): "
                f"{self.reauthorise}. {TESTING_HINT}"
            ) from None
        if isinstance(exc, json.JSONDecodeError):
            raise SourceError(
                f"Google answered {path} with something that is not JSON. Nothing "
                "from this source was changed; the next sync will try again.",
                retriable=True,
            ) from None
        if isinstance(
            exc,
            (
                *TRANSPORT_ERRORS,
                TransportError,
                httplib2.HttpLib2Error,
                OSError,
                http.client.HTTPException,
            ),
        ):
            return Failed.transport(exc, self.options.timeout_seconds)
        if isinstance(exc, GoogleAuthError):
            raise AuthError(
                f"Google could not use harvest's authorisation ({exc}): {self.reauthorise}."
            ) from None
        return None


def _http_failed(status: int, retry_after: str | None, content: bytes | str) -> Failed:
    try:
        error = json.loads(content or b"{}").get("error")
    except (ValueError, AttributeError):
        error = None
    said, reasons = "", set()
    if isinstance(error, dict):
        said = " ".join(str(error.get("message") or "").split())[:200]
        reasons = {e.get("reason") for e in error.get("errors") or [] if isinstance(e, dict)}
    elif isinstance(error, str):
        said = error
    if status == 403 and reasons & RATE_LIMIT_REASONS:
        status = 429  # Drive reports its rate limits as 403
    return Failed.http(status, retry_after, said)


class GoogleConnector(Connector):
    """What both Google connectors share: ``check()`` renews the authorisation (a revoked
    one fails at once, naming the source), and ``fetch()`` goes on with that same
    :class:`Google`, so the check costs no extra call."""

    options: GoogleOptions
    _google: Google | None = None

    def check(self) -> None:
        with self.naming_source():
            self._google = Google(self.options, self.base_dir)
            self._google.renew()

    def google(self) -> Google:
        """The source's Google: the one ``check()`` made, else a new one."""
        if self._google is None:
            self._google = Google(self.options, self.base_dir)
        return self._google
