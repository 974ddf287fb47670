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
attendance, the profile, one column per custom question); the attendee's JSON is kept
verbatim as ``Row.raw``. Columns for optional profile fields and for questions appear
once any attendee of the event has them and stay (they are kept in the state), so an
attendee re-delivered unchanged lands as unchanged. ``changed`` is not a column: only a
change to what is read makes a new version. A ticket bought for someone else that
carries only the buyer's details is read without them (eventbrite_orders.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from eventbrite import Eventbrite
from eventbrite.models import EventbriteObject
from eventbrite.utils import format_path
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from harvest.connectors.base import Activity, Connector, Problem, Row, Table, register
from harvest.connectors.eventbrite_orders import GUEST, as_guest, guest_tickets
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
ID_COLUMN = "Attendee ID"


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


# --- from an attendee to a row (pure, no I/O) ---------------------------------------------


def text(value: Any) -> str:
    """A value as text, the same every time: lists joined with `` | ``, objects as JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return " | ".join(t for t in (text(v) for v in value) if t)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value)


def attendance_status(attendee: dict[str, Any]) -> str:
    """checked in → attended; cancelled, refunded or not attending → cancelled; else registered."""
    status = str(attendee.get("status") or "").strip().casefold()
    if attendee.get("checked_in") is True or status == "checked in":
        return "attended"
    if (
        attendee.get("cancelled") is True
        or attendee.get("refunded") is True
        or status in {"not attending", "deleted", "cancelled", "refunded"}
    ):
        return "cancelled"
    return "registered"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _profile(a: dict[str, Any]) -> dict[str, Any]:
    return _dict(a.get("profile"))


def _home(a: dict[str, Any]) -> dict[str, Any]:
    return _dict(_dict(_profile(a).get("addresses")).get("home"))


def event_name(event: dict[str, Any]) -> str:
    name = event.get("name")
    name = name.get("text") if isinstance(name, dict) else name
    return " ".join(str(name).split()) if name else f"Eventbrite event {event.get('id')}"


def event_start(event: dict[str, Any]) -> str:
    return text(_dict(event.get("start")).get("local"))


Getter = Callable[[dict[str, Any], dict[str, Any]], Any]

# Always present: (header, HXL hashtag or "" to let the header matcher decide, value).
BASE_COLUMNS: list[tuple[str, str, Getter]] = [
    (ID_COLUMN, "#meta+id", lambda a, e: a.get("id")),
    ("Event", "#activity+name", lambda a, e: event_name(e)),
    ("Event start", "#date+activity", lambda a, e: event_start(e)),
    ("Attendance", "#status+attendance", lambda a, e: attendance_status(a)),
    ("Ticket type", "#contact+ticket+type", lambda a, e: a.get("ticket_class_name")),
    ("Eventbrite status", "", lambda a, e: a.get("status")),
    ("Order ID", "", lambda a, e: a.get("order_id")),
    ("Guest ticket", "", lambda a, e: "yes" if a.get(GUEST) else ""),
    ("Event ID", "", lambda a, e: e.get("id")),
    ("Booked on", "", lambda a, e: a.get("created")),
    ("First name", "#person+name+given", lambda a, e: _profile(a).get("first_name")),
    ("Last name", "#person+name+family", lambda a, e: _profile(a).get("last_name")),
    ("Email", "#contact+email", lambda a, e: _profile(a).get("email")),
]

# Present once any attendee of the event has a value: key → (header, hashtag, value).
PROFILE_COLUMNS: dict[str, tuple[str, str, Getter]] = {
    "cell_phone": ("Mobile phone", "#contact+phone", lambda a, e: _profile(a).get("cell_phone")),
    "home_phone": ("Home phone", "#contact+phone+home", lambda a, e: _profile(a).get("home_phone")),
    "home_address": (
        "Home address",
        "#loc+address",
        lambda a, e: ", ".join(
            t for t in (text(_home(a).get(k)) for k in ("address_1", "address_2", "city")) if t
        ),
    ),
    "home_postcode": ("Home postcode", "#adm+postcode", lambda a, e: _home(a).get("postal_code")),
    "age": ("Age", "#person+age", lambda a, e: _profile(a).get("age")),
    "birth_date": (
        "Date of birth",
        "#person+birth+date",
        lambda a, e: _profile(a).get("birth_date"),
    ),
    "gender": ("Gender", "#person+gender", lambda a, e: _profile(a).get("gender")),
}


def answers(attendee: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The attendee's custom-question answers by question id (entries that are not objects
    with a ``question_id`` are left out)."""
    found = attendee.get("answers")
    entries = found if isinstance(found, list) else []
    return {
        str(q["question_id"]): q
        for q in entries
        if isinstance(q, dict) and q.get("question_id") is not None
    }


@dataclass
class Layout:
    """The optional columns of one event's table: grows, never shrinks (kept in the state)."""

    profile: list[str]
    questions: dict[str, str]  # question id → question text
    orders: dict[str, list[str]] = field(default_factory=dict)  # see eventbrite_orders.py

    @classmethod
    def from_state(cls, data: Any) -> Layout:
        data = _dict(data)
        return cls(
            [k for k in data.get("profile", []) if k in PROFILE_COLUMNS],
            {str(k): str(v) for k, v in _dict(data.get("questions")).items()},
            {str(k): [str(x) for x in v] for k, v in _dict(data.get("orders")).items()},
        )

    def learn(self, attendees: list[dict[str, Any]], event: dict[str, Any]) -> None:
        for a in attendees:
            for key, (_, _, get) in PROFILE_COLUMNS.items():
                if key not in self.profile and text(get(a, event)).strip():
                    self.profile.append(key)
            for qid, q in answers(a).items():
                label = " ".join(text(q.get("question")).split()) or f"Question {qid}"
                self.questions[qid] = label
        self.profile.sort(key=list(PROFILE_COLUMNS).index)

    def state(self) -> dict[str, Any]:
        return {"profile": self.profile, "questions": self.questions, "orders": self.orders}

    def columns(self) -> list[tuple[str, str, Getter]]:
        cols = [*BASE_COLUMNS, *(PROFILE_COLUMNS[k] for k in self.profile)]
        taken = {c[0].casefold() for c in cols}
        for qid in sorted(self.questions, key=lambda q: (len(q), q)):
            header, n = self.questions[qid], 1
            while header.casefold() in taken:
                n += 1
                header = f"{self.questions[qid]} ({n})"
            taken.add(header.casefold())
            cols.append((header, "", _answer_getter(qid)))
        return cols


def _answer_getter(qid: str) -> Getter:
    return lambda a, e: answers(a).get(qid, {}).get("answer")


def odd_answers(attendees: list[dict[str, Any]], layout: Layout) -> list[str]:
    """One note per question whose answers were not text (a list, number, object...)."""
    kinds: dict[str, set[str]] = {}
    for a in attendees:
        if "answers" in a and not isinstance(a["answers"], list | type(None)):
            kinds.setdefault("", set()).add(type(a["answers"]).__name__)
        for qid, q in answers(a).items():
            value = q.get("answer")
            if value is not None and not isinstance(value, str):
                kinds.setdefault(qid, set()).add(type(value).__name__)
    notes = []
    for qid, found in sorted(kinds.items()):
        what = ", ".join(sorted(found))
        if qid:
            notes.append(
                f"answers to {layout.questions.get(qid, qid)!r} came as {what}, not "
                "text; kept as text (lists joined with ' | ')"
            )
        else:
            notes.append(
                f"some attendees' answers came as {what}, not a list; left out of the "
                "columns (kept in the raw record)"
            )
    return notes


def event_table(event: dict[str, Any], attendees: list[dict[str, Any]], layout: Layout) -> Table:
    """One event's attendees as a table of text; each row keeps its attendee's JSON. A
    guest ticket (eventbrite_orders.py) is read without the buyer's name and email."""
    cols = layout.columns()
    guests = guest_tickets(attendees, layout.orders)
    views = [as_guest(a) if text(a.get("id")) in guests else a for a in attendees]
    rows = [
        Row(i, [text(get(v, event)) for _, _, get in cols], json.dumps(a, ensure_ascii=False))
        for i, (a, v) in enumerate(zip(attendees, views, strict=True), start=1)
    ]
    return Table(
        location=f"event '{event_name(event)}' ({event.get('id')})",
        key=f"eventbrite:event:{event.get('id')}",
        headers=[c[0] for c in cols],
        rows=rows,
        hxl=[c[1] for c in cols],
        notes=odd_answers(attendees, layout),
        id_column=ID_COLUMN,
        complete=False,
    )


def unique(attendees: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One copy of each attendee (pages can repeat one): the latest ``changed`` wins."""
    best: dict[str, dict[str, Any]] = {}
    for a in attendees:
        key = text(a.get("id")) or json.dumps(a, sort_keys=True)
        old = best.get(key)
        if old is None or text(a.get("changed")) > text(old.get("changed")):
            best[key] = a
    return list(best.values())


# --- the connector ------------------------------------------------------------------------


@register
class EventbriteConnector(Connector):
    """Reads an Eventbrite organisation's events and their attendees."""

    type = "eventbrite"
    Options = EventbriteOptions
    options: EventbriteOptions

    def check(self) -> None:
        self._token()

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
