"""Eventbrite attendees as rows (pure, no I/O): the columns of an event's table, the
optional columns it has learnt (its :class:`Layout`, kept in the state), and one copy of
each attendee. Used by the connector in :mod:`harvest.connectors.eventbrite`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harvest.connectors.base import Row, Table
from harvest.connectors.eventbrite_orders import GUEST, as_guest, guest_tickets

ID_COLUMN = "Attendee ID"


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
