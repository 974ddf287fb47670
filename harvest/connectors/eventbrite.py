"""The Eventbrite connector (``type: eventbrite``): events become activities, attendees
become records and attendances, read incrementally.

It uses the official ``eventbrite`` SDK, with its requests sent through harvest's
:class:`~harvest.connectors.http.HttpClient` (the SDK itself sends no timeout and never
raises on an HTTP error). One sync:

1. finds the organisation (``organization_id``, or the only one the token can see);
2. lists its events (``/organizations/{id}/events/``, every status unless
   ``event_status`` says otherwise) and yields an :class:`Activity` for each;
3. for each event reads the attendees changed since the cursor (``changed_since``,
   inclusive, so the overlap re-delivers some), follows ``continuation`` to the end,
   keeps one copy of each attendee (the latest ``changed``) and yields one
   :class:`Table` per event, ``complete=False``: attendees not in it are not gone;
4. leaves the new cursor in ``self.state`` (the server's time when the sync began,
   less ``overlap_minutes``), which the sync commits with the rows.

A row's values are a fixed projection of the attendee (``Attendee ID``, the event, the
attendance, the profile, one column per custom question; see eventbrite_rows.py); the
attendee's JSON is kept verbatim as ``Row.raw``. Columns for optional profile fields and
for questions appear once any attendee of the event has them and stay (they are kept in
the state), so an attendee re-delivered unchanged lands as unchanged. ``changed`` is not a column: only a
change to what is read makes a new version. A ticket bought for someone else that
carries only the buyer's details is read without them (eventbrite_orders.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from eventbrite import Eventbrite
from eventbrite.models import EventbriteObject
from eventbrite.utils import format_path
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from harvest.connectors.base import Activity, Connector, Problem, Table
from harvest.connectors.eventbrite_rows import (
    Layout,
    _dict,
    event_name,
    event_start,
    event_table,
    text,
    unique,
)
from harvest.connectors.http import HttpClient, RetryPolicy, paginate, require_https, url_path
from harvest.errors import AuthError, ConfigError, SourceError
from harvest.secrets import SecretRef, TokenStore, resolve_secret

DEFAULT_API_URL = "https://www.eventbriteapi.com/v3/"
TOKEN_NAME = "eventbrite"
AUTH_COMMAND = "harvest auth eventbrite"
TOKEN_HINT = (
    "Eventbrite shows your private token under Account settings → Developer links → "
    "API keys (https://www.eventbrite.com/platform/api-keys)."
)
EVENT_STATUSES = ("all", "draft", "live", "started", "ended", "completed", "canceled")


class EventbriteOptions(BaseModel):
    """Options of a ``type: eventbrite`` source in harvest.yaml."""

    model_config = ConfigDict(extra="forbid")

    organization_id: str | None = None  # default: the only organisation the token can see
    event_status: str = "all"  # or some of draft, live, started, ended, completed, canceled
    api_url: str = DEFAULT_API_URL
    token: SecretRef | None = None  # {env: NAME}; default: the token store's "eventbrite"
    overlap_minutes: int = Field(default=10, ge=0, le=24 * 60)
    max_attempts: int = Field(default=5, ge=1, le=20)
    max_wait_seconds: float = Field(default=60.0, gt=0, le=3600)
    timeout_seconds: float = Field(default=60.0, gt=0, le=600)

    @field_validator("organization_id", mode="before")
    @classmethod
    def _id_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value

    @field_validator("event_status", mode="before")
    @classmethod
    def _statuses(cls, value: Any) -> Any:
        words = value if isinstance(value, list) else str(value).split(",")
        words = [str(w).strip().lower().replace("cancelled", "canceled") for w in words]
        wrong = [w for w in words if w not in EVENT_STATUSES]
        if wrong or not words:
            raise ValueError(
                f"unknown event status {', '.join(wrong)!r}; use all, or some of "
                f"{', '.join(EVENT_STATUSES[1:])}"
            )
        return ",".join(words)

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        return normalise_api_url(value)


def normalise_api_url(url: str) -> str:
    """The SDK joins paths onto the URL, so it must end with ``/`` or ``v3`` is dropped."""
    url = require_https(url)
    return url if url.endswith("/") else url + "/"


class EventbriteClient(Eventbrite):
    """The SDK's client with its generic ``get()`` sent through harvest's HttpClient.

    The SDK's own ``get`` calls ``requests.get`` with no timeout and turns every answer,
    401 and 429 included, into an object. This keeps the SDK's URLs, headers, ``expand``
    handling and ``EventbriteObject`` results, and adds a timeout, retries and errors.
    ``allow`` lists statuses returned as objects instead of raised (e.g. 404).
    """

    def __init__(self, token: SecretStr, api_url: str, http: HttpClient) -> None:
        super().__init__(token.get_secret_value(), eventbrite_api_url=normalise_api_url(api_url))
        self.http = http
        self.server_time: datetime | None = None  # the Date of the first answer

    def get(
        self, path: str, data: dict | None = None, expand: tuple = (), allow: tuple[int, ...] = ()
    ) -> EventbriteObject:
        params = dict(data or {})
        if not params.get("expand"):
            params["expand"] = ",".join(expand) if expand else "none"
        headers = self.headers
        headers.pop("content-type", None)
        url = format_path(path, self.eventbrite_api_url)
        response = self.http.request("GET", url, headers=headers, params=params, allow=allow)
        if self.server_time is None:
            self.server_time = _http_date(response.headers.get("Date"))
        if not isinstance(self.http.json(response), dict):  # not JSON: a clear error too
            raise SourceError(
                f"Eventbrite answered {url_path(url)} with JSON that is not an object.",
                retriable=True,
            )
        return EventbriteObject.create(response)

    def pages(
        self, path: str, key: str, params: dict[str, str] | None = None, allow: tuple[int, ...] = ()
    ) -> Iterator[dict[str, Any]]:
        """Every item under ``key`` of a paged list, following ``continuation`` to the end."""

        def page(token: str | None) -> tuple[list[dict[str, Any]], str | None]:
            data = dict(params or {}, **({"continuation": token} if token else {}))
            answer = self.get(path, data, allow=allow)
            if answer.status_code in allow:
                raise _Missing(answer.status_code)
            items = answer.get(key)
            if not isinstance(items, list):
                raise SourceError(
                    f"Eventbrite answered {url_path(answer.resource_uri)} without a list of {key}.",
                    retriable=True,
                )
            pagination = answer.get("pagination") or {}
            more = pagination.get("has_more_items") and pagination.get("continuation")
            return [i for i in items if isinstance(i, dict)], (str(more) if more else None)

        return paginate(page, f"Eventbrite {path}")


class _Missing(Exception):
    """An allowed status (404: the event was deleted while harvest was reading it)."""

    def __init__(self, status: int) -> None:
        self.status = status


def _http_date(value: str | None) -> datetime | None:
    try:
        return parsedate_to_datetime(value).astimezone(UTC) if value else None
    except (TypeError, ValueError, IndexError):
        return None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the connector ------------------------------------------------------------------------


class EventbriteConnector(Connector):
    """Reads an Eventbrite organisation's events and their attendees."""

    type = "eventbrite"
    Options = EventbriteOptions
    options: EventbriteOptions

    def check(self) -> None:
        """One call (``/users/me/``): a missing or refused token fails at once."""
        with self.naming_source():
            self._client().get("/users/me/")

    def _token(self) -> SecretStr:
        return resolve_secret(self.options.token, TokenStore(), TOKEN_NAME, AUTH_COMMAND)

    def _client(self) -> EventbriteClient:
        o = self.options
        if o.token is not None:
            again = (
                f"put a valid private token in the environment variable {o.token.env} "
                f"({TOKEN_HINT})"
            )
        else:
            again = f"run `{AUTH_COMMAND}`"
        policy = RetryPolicy(max_attempts=o.max_attempts, max_wait=o.max_wait_seconds)
        http = HttpClient("Eventbrite", again, policy, timeout=o.timeout_seconds)
        return EventbriteClient(self._token(), o.api_url, http)

    def fetch(
        self, state: dict[str, Any], full: bool = False
    ) -> Iterator[Table | Problem | Activity]:
        began, state = datetime.now(UTC), state or {}
        client = self._client()
        org = self.options.organization_id or only_organization(client, self.name)
        same = state.get("organization_id") == org
        since = state.get("changed_since") if same and not full else None
        layouts = dict(_dict(state.get("events"))) if same else {}
        events = list(
            client.pages(
                f"/organizations/{org}/events/", "events", {"status": self.options.event_status}
            )
        )
        events = [e for e in events if e.get("id") is not None]
        for event in events:
            yield Activity(event_name(event), str(event["id"]), event_start(event)[:10] or None)
        for event in events:
            event_id = str(event["id"])
            params = {"changed_since": since} if since else {}
            try:
                found = list(
                    client.pages(
                        f"/events/{event_id}/attendees/", "attendees", params, allow=(404,)
                    )
                )
            except _Missing:
                yield Problem(
                    f"event '{event_name(event)}' ({event_id})",
                    "Eventbrite says this "
                    "event no longer exists (deleted while harvest was reading it); "
                    "its attendees already stored are kept.",
                    fatal=False,
                )
                continue
            if not found:
                continue
            attendees = unique(found)
            layout = Layout.from_state(layouts.get(event_id))
            layout.learn(attendees, event)
            table = event_table(event, attendees, layout)  # learns the event's orders too
            layouts[event_id] = layout.state()
            yield table
        cursor = (client.server_time or began) - timedelta(minutes=self.options.overlap_minutes)
        self.state = {"organization_id": org, "changed_since": _iso(cursor), "events": layouts}


def organizations(client: EventbriteClient) -> list[tuple[str, str]]:
    """(id, name) of every organisation the token can read."""
    return [
        (text(o.get("id")), text(o.get("name")))
        for o in client.pages("/users/me/organizations/", "organizations")
    ]


def only_organization(client: EventbriteClient, source: str) -> str:
    orgs = organizations(client)
    if len(orgs) == 1:
        return orgs[0][0]
    if not orgs:
        raise ConfigError(
            f"Source '{source}': the Eventbrite token cannot see any organisation. "
            f"Check the token belongs to your organisation and run `{AUTH_COMMAND}`."
        )
    listed = ", ".join(f"{name} (organization_id: {oid})" for oid, name in orgs)
    raise ConfigError(
        f"Source '{source}': the Eventbrite token can read {len(orgs)} "
        f"organisations, so say which one in harvest.yaml under the source's "
        f'options, e.g. organization_id: "{orgs[0][0]}". They are: {listed}.'
    )


@dataclass
class Authorisation:
    user: str
    organisations: list[tuple[str, str]]
    stored_in: str


def authorise(
    token: SecretStr, api_url: str = DEFAULT_API_URL, store: TokenStore | None = None
) -> Authorisation:
    """Check a private token against ``/users/me/``, list its organisations, then store it."""
    if not token.get_secret_value().strip():
        raise AuthError(f"No token was given. {TOKEN_HINT}")
    token = SecretStr(token.get_secret_value().strip())
    again = f"check that you copied the whole private token. {TOKEN_HINT}"
    http = HttpClient("Eventbrite", again, RetryPolicy(max_attempts=3, max_wait=10), timeout=30)
    try:
        client = EventbriteClient(token, api_url, http)
    except ValueError as exc:
        raise ConfigError(f"--api-url: {exc}") from None
    me = client.get_user()
    orgs = organizations(client)
    store = store or TokenStore()
    store.set(TOKEN_NAME, token)
    return Authorisation(text(me.get("name")) or "unnamed user", orgs, store.where)
