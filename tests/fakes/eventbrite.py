"""A fake Eventbrite v3 API that speaks the documented JSON, for the unmodified SDK.

Routes (under ``/v3/``): ``users/me/``, ``users/me/organizations/``,
``organizations/{id}/events/`` (``status`` filter) and ``events/{id}/attendees/``
(``changed_since``, inclusive, and ``status``). Lists are paged ``page_size`` at a
time with an opaque ``continuation``; the ``pagination`` object carries
``object_count``, ``page_number``, ``page_size``, ``page_count``, ``continuation`` and
``has_more_items``. A request without ``Authorization: Bearer <token>`` gets
Eventbrite's 401 error body. The server's clock (``now``) is also its ``Date`` header.
"""

from __future__ import annotations

import base64
import copy
import itertools
from datetime import timedelta
from typing import Any

from harvest.testing.fake_api import FakeServer, Reply, Request

TOKEN = "fake-private-token-8f3a1c"
ORG_ID = "4567"


def iso(dt: Any) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeEventbrite(FakeServer):
    def __init__(self, page_size: int = 50) -> None:
        super().__init__()
        self.token = TOKEN
        self.page_size = page_size
        self.repeat_last = False  # start each later page with the previous page's last item
        self.organizations: list[dict[str, Any]] = [
            {"_type": "organization", "id": ORG_ID, "name": "St Mary's Community Trust"}
        ]
        self.events: dict[str, dict[str, Any]] = {}
        self.attendees: dict[str, list[dict[str, Any]]] = {}
        self.gone: set[str] = set()  # events whose attendees answer 404 (deleted mid-sync)
        self._ids = itertools.count(1001)
        self.add_route("GET", r"/v3/users/me/", self._me)
        self.add_route("GET", r"/v3/users/me/organizations/", self._organizations)
        self.add_route("GET", r"/v3/organizations/(?P<org>[^/]+)/events/", self._events)
        self.add_route("GET", r"/v3/events/(?P<event>[^/]+)/attendees/", self._attendees)

    @property
    def api_url(self) -> str:
        return self.url + "/v3/"

    # --- data ------------------------------------------------------------------------

    def tick(self, minutes: int = 60) -> None:
        self.now += timedelta(minutes=minutes)

    def add_event(self, name: str, start: str, status: str = "live", org: str = ORG_ID) -> str:
        event_id = str(next(self._ids))
        self.events[event_id] = {
            "name": {"text": name, "html": name},
            "description": {"text": None, "html": None},
            "id": event_id,
            "url": f"https://www.eventbrite.co.uk/e/{event_id}",
            "start": {"timezone": "Europe/London", "local": start, "utc": start + "Z"},
            "end": {"timezone": "Europe/London", "local": start, "utc": start + "Z"},
            "organization_id": org,
            "created": iso(self.now),
            "changed": iso(self.now),
            "capacity": 30,
            "status": status,
            "currency": "GBP",
            "online_event": False,
        }
        self.attendees[event_id] = []
        return event_id

    def add_attendee(
        self,
        event_id: str,
        first: str | None = "Bob",
        last: str | None = "Smith",
        email: str | None = None,
        *,
        answers: list[dict[str, Any]] | None = None,
        checked_in: bool = False,
        status: str = "Attending",
        ticket: str = "General admission",
        profile: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        attendee_id = str(next(self._ids))
        if profile is None:
            profile = {
                "first_name": first,
                "last_name": last,
                "name": f"{first} {last}",
                "email": email or f"{(first or 'x').lower()}@example.org",
                "addresses": {"home": {}, "ship": {}, "work": {}, "bill": {}},
            }
        attendee = {
            "team": None,
            "costs": {
                "gross": {"display": "£0.00", "currency": "GBP", "value": 0, "major_value": "0.00"}
            },
            "resource_uri": f"https://www.eventbriteapi.com/v3/events/{event_id}/attendees/"
            f"{attendee_id}/",
            "id": attendee_id,
            "changed": iso(self.now),
            "created": iso(self.now),
            "quantity": 1,
            "variant_id": None,
            "profile": profile,
            "barcodes": [
                {
                    "status": "used" if checked_in else "unused",
                    "barcode": f"{attendee_id}001",
                    "checkin_type": 0,
                    "is_printed": False,
                }
            ],
            "answers": answers or [],
            "checked_in": checked_in,
            "cancelled": False,
            "refunded": False,
            "affiliate": None,
            "guestlist_id": None,
            "invited_by": None,
            "status": "Checked In" if checked_in else status,
            "ticket_class_name": ticket,
            "delivery_method": "electronic",
            "event_id": event_id,
            "order_id": str(next(self._ids)),
            "ticket_class_id": "77",
        }
        self.attendees[event_id].append(attendee)
        return attendee

    def update_attendee(self, attendee: dict[str, Any], **changes: Any) -> None:
        """Change an attendee as Eventbrite would: the ``changed`` time moves on."""
        attendee.update(changes)
        attendee["changed"] = iso(self.now)

    def delete_event(self, event_id: str) -> None:
        del self.events[event_id]
        del self.attendees[event_id]

    # --- routes ----------------------------------------------------------------------

    def _authorised(self, request: Request) -> Reply | None:
        if request.headers.get("authorization") == f"Bearer {self.token}":
            return None
        return _error(401, "INVALID_AUTH", "The OAuth token you provided was invalid.")

    def _me(self, request: Request) -> Reply:
        return self._authorised(request) or Reply(
            200,
            {
                "emails": [{"email": "sam@stmarys.example.org", "verified": True, "primary": True}],
                "id": "99",
                "name": "Sam Organiser",
                "first_name": "Sam",
                "last_name": "Organiser",
                "is_public": False,
                "image_id": None,
            },
        )

    def _organizations(self, request: Request) -> Reply:
        return self._authorised(request) or self._page(request, "organizations", self.organizations)

    def _events(self, request: Request, org: str) -> Reply:
        if refused := self._authorised(request):
            return refused
        if org not in {o["id"] for o in self.organizations}:
            return _error(403, "NOT_AUTHORIZED", "You do not have permission to access it.")
        wanted = set(request.query.get("status", "all").split(","))
        events = [
            e
            for e in self.events.values()
            if e["organization_id"] == org and ("all" in wanted or e["status"] in wanted)
        ]
        return self._page(request, "events", events)

    def _attendees(self, request: Request, event: str) -> Reply:
        if refused := self._authorised(request):
            return refused
        if event not in self.events or event in self.gone:
            return _error(404, "NOT_FOUND", "The event you requested does not exist.")
        items = self.attendees[event]
        since = request.query.get("changed_since")
        if since:
            items = [a for a in items if a["changed"] >= since]  # inclusive, as documented
        status = request.query.get("status")
        if status == "attending":
            items = [a for a in items if not (a["cancelled"] or a["refunded"])]
        elif status == "not_attending":
            items = [a for a in items if a["cancelled"] or a["refunded"]]
        return self._page(request, "attendees", items)

    def _page(self, request: Request, key: str, items: list[dict[str, Any]]) -> Reply:
        token = request.query.get("continuation")
        try:
            start = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
        except ValueError:
            return _error(400, "ARGUMENTS_ERROR", "The continuation is not valid.")
        size = self.page_size
        begin = max(0, start - 1) if self.repeat_last and start else start
        page = items[begin : start + size]
        more = start + size < len(items)
        pagination: dict[str, Any] = {
            "object_count": len(items),
            "page_number": start // size + 1,
            "page_size": size,
            "page_count": max(1, -(-len(items) // size)),
            "has_more_items": more,
        }
        if more:
            pagination["continuation"] = base64.urlsafe_b64encode(
                str(start + size).encode()
            ).decode()
        return Reply(200, {"pagination": pagination, key: copy.deepcopy(page)})


def _error(status: int, error: str, description: str) -> Reply:
    return Reply(status, {"status_code": status, "error": error, "error_description": description})


def question(question_id: str, text: str, answer: Any = None, kind: str = "text") -> dict:
    """One entry of an attendee's ``answers``; ``answer`` is left out when None (unanswered)."""
    entry = {"question_id": question_id, "question": text, "type": kind}
    if answer is not None:
        entry["answer"] = answer
    return entry
