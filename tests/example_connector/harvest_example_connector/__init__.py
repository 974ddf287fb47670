"""An example of a harvest connector from outside harvest: a lunch club's sign-in API.

The API (played in the tests by tests/fakes/signins.py) answers ``GET /api/me`` for the
token's owner and ``GET /api/signins?since=…&page=…`` with a page of sign-ins (each has
an ``id`` and an ``updated`` time) and the next page's marker. The connector:

- ``check()`` asks ``/api/me``, so a refused token fails at once, naming the source;
- ``fetch(state)`` reads the sign-ins updated since the cursor in the state (all of them
  the first time), page by page, and yields one Table whose rows keep each sign-in's
  JSON; then leaves the newest ``updated`` seen in ``self.state`` for the next sync.

HTTP goes through harvest's HttpClient: timeouts, retries of 429, 5xx and dropped
connections (honouring Retry-After), and plain-English errors, written once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from harvest.connectors.base import Connector, Problem, Row, Table
from harvest.connectors.http import HttpClient, RetryPolicy, paginate, require_https
from harvest.errors import SourceError
from harvest.secrets import SecretRef, TokenStore, resolve_secret

COLUMNS = [  # (header, the sign-in's field); the header matcher maps them to the standard
    ("Sign-in ID", "id"),
    ("First name", "first_name"),
    ("Last name", "last_name"),
    ("Postcode", "postcode"),
    ("Date", "date"),
    ("Activity", "activity"),
]


class SigninsOptions(BaseModel):
    """Options of a ``type: example_signins`` source in harvest.yaml."""

    model_config = ConfigDict(extra="forbid")

    api_url: str
    token: SecretRef  # {env: NAME}: the environment variable holding the API token
    max_attempts: int = Field(default=5, ge=1, le=20)
    max_wait_seconds: float = Field(default=60.0, gt=0, le=3600)

    @field_validator("api_url")
    @classmethod
    def _https(cls, value: str) -> str:
        return require_https(value).rstrip("/")  # a token never goes out over plain http


class SigninsConnector(Connector):
    """Reads a lunch club's sign-ins, incrementally by their ``updated`` time."""

    type = "example_signins"
    Options = SigninsOptions
    options: SigninsOptions

    def check(self) -> None:
        with self.naming_source():  # errors say "Source '<name>': …"
            self._get("/api/me")

    def fetch(self, state: dict[str, Any], full: bool = False) -> Iterator[Table | Problem]:
        since = None if full else (state or {}).get("since")
        found = list(paginate(lambda page: self._page(since, page), "the sign-in API"))
        if not found:  # nothing new (or nothing yet): the cursor stays where it was
            self.state = {"since": since}
            return
        rows = [
            Row(n, [str(s.get(field) or "") for _, field in COLUMNS], json.dumps(s))
            for n, s in enumerate(found, 1)
        ]
        yield Table(
            location=f"sign-ins of source '{self.name}'",
            key=f"example_signins:{self.name}",
            headers=[header for header, _ in COLUMNS],
            rows=rows,
            id_column="Sign-in ID",
            complete=False,  # only the sign-ins changed since the cursor
        )
        newest = max((str(s["updated"]) for s in found if s.get("updated")), default=since)
        self.state = {"since": newest}

    def _page(self, since: str | None, page: str | None) -> tuple[list[dict], str | None]:
        params = {k: v for k, v in {"since": since, "page": page}.items() if v}
        answer = self._get("/api/signins", params)
        return [s for s in answer.get("signins", []) if isinstance(s, dict)], answer.get("next")

    def _get(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        o = self.options
        token = resolve_secret(o.token, TokenStore(), "example_signins", "set the token")
        again = f"put a valid token in the environment variable {o.token.env}"
        policy = RetryPolicy(max_attempts=o.max_attempts, max_wait=o.max_wait_seconds)
        http = HttpClient("sign-in API", again, policy)
        url = o.api_url + path
        headers = {"Authorization": f"Bearer {token.get_secret_value()}"}
        answer = http.json(http.request("GET", url, params=params, headers=headers))
        if not isinstance(answer, dict):
            raise SourceError(f"The sign-in API answered {path} with JSON that is not an object.")
        return answer
