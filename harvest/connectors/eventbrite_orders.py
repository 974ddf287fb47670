"""Tickets bought for others: the tickets of one order that carry only the buyer's details.

Unless an event's order form collects details from each attendee, Eventbrite gives every
ticket of an order the buyer's name and email. Those guests are other people: counted as
the buyer they would vanish from reach. A ticket is a *guest ticket* when its order has
an earlier ticket (the buyer's, the lowest attendee id) with the same name and email;
its name and email are then left out of the row (the attendee's JSON keeps them), so it
counts as a person of its own, and the ``Guest ticket`` column says so. A guest whose
ticket has their own name is an ordinary attendee.

Orders with more than one ticket are remembered in the event's state (the first ticket's
id and a digest of the buyer's name and email), so a guest ticket re-read alone in a
later sync (checked in at the door) is still known as one.
"""

from __future__ import annotations

import hashlib
from typing import Any

NAME_KEYS = ("first_name", "last_name", "name", "email")  # the buyer's, on a guest ticket
GUEST = "_harvest_guest"  # set on the copy of a guest ticket that the row is read from


def _id_order(attendee_id: str) -> tuple[int, str]:
    return len(attendee_id), attendee_id  # numeric ids as text: shorter is smaller


def _profile(attendee: dict[str, Any]) -> dict[str, Any]:
    profile = attendee.get("profile")
    return profile if isinstance(profile, dict) else {}


def who(attendee: dict[str, Any]) -> str | None:
    """A digest of the name and email a ticket carries; None when it has none."""
    profile = _profile(attendee)
    parts = [str(profile.get(k) or "").strip().casefold() for k in NAME_KEYS if k != "name"]
    if not any(parts):
        return None
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).hexdigest()


def guest_tickets(attendees: list[dict[str, Any]], known: dict[str, list[str]]) -> set[str]:
    """The ids of guest tickets among ``attendees``; ``known`` (order id → [first ticket's
    id, buyer digest]) is read and extended with the orders of two or more tickets."""
    orders: dict[str, list[dict[str, Any]]] = {}
    for a in attendees:
        if a.get("order_id") is not None and a.get("id") is not None:
            orders.setdefault(str(a["order_id"]), []).append(a)
    guests: set[str] = set()
    for order, tickets in orders.items():
        tickets.sort(key=lambda a: _id_order(str(a["id"])))
        first_id, digest = str(tickets[0]["id"]), who(tickets[0])
        before = known.get(order)
        if before and _id_order(before[0]) <= _id_order(first_id):
            first_id, digest = before[0], before[1] or None
        if len({first_id, *(str(a["id"]) for a in tickets)}) < 2:
            continue
        known[order] = [first_id, digest or ""]
        guests |= {
            str(a["id"])
            for a in tickets
            if str(a["id"]) != first_id and digest and who(a) == digest
        }
    return guests


def as_guest(attendee: dict[str, Any]) -> dict[str, Any]:
    """The copy of a guest ticket that its row is read from: no name or email."""
    kept = {k: v for k, v in _profile(attendee).items() if k not in NAME_KEYS}
    return {**attendee, "profile": kept, GUEST: True}
