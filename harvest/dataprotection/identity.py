"""Who was erased: the marks of a person's identity that a later row is checked against.

A row forgotten with ``harvest forget`` may come back edited: a column added to the
sheet, a cell retyped, the columns reordered. Its row digests then differ, so the
person's identity is remembered as well, as keyed hashes (see ``tombstones.py``) of marks
made from the *cleaned* values, with the same keys the store joins people on
(``harvest.people.features``): a lower-case email, a phone in one format, names folded
to letters, a date of birth as ``YYYY-MM-DD``. So ``BOB.Okafor@Example.org`` and
``bob.okafor@example.org``, or ``07700 900123`` and ``+447700900123``, are the same mark.

A row is about an erased person when, after cleaning, it has

* the same given name, family name and date of birth; or
* the same email or phone *and* the same given name; or
* the same email or phone *and* the same family name and date of birth; or
* the same email or phone and no name at all, or that email or phone was erased with
  no name beside it.

So any one cell of the row can be retyped and it is still recognised, while a shared
landline or family inbox alone does not stop another member of the household landing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from harvest.people.features import email_key, family_key, given_key, phone_key


def _keys(rec: dict[str, Any]) -> tuple[str | None, str | None, str, list[str]]:
    def text(name: str) -> str:
        value = rec.get(name)
        return str(value).strip() if value is not None else ""

    given = given_key(text("given_name")) if text("given_name") else None
    family = family_key(text("family_name")) if text("family_name") else None
    contacts = []
    if text("email") and (email := email_key(text("email").lower())):
        contacts.append(f"e:{email}")
    if text("phone") and (phone := phone_key(text("phone"))):
        contacts.append(f"p:{phone}")
    return given, family, text("date_of_birth")[:10], contacts


def identity_marks(rec: dict[str, Any], erased: bool = False) -> Iterator[tuple[str, str]]:
    """(kind, value) marks of one cleaned record. ``erased``: the marks kept for a record
    that is being erased (one more kind, for a contact erased with no name beside it)."""
    given, family, dob, contacts = _keys(rec)
    if given and family and dob:
        yield "name_dob", f"{given}|{family}|{dob}"
    for contact in contacts:
        yield "contact", contact
        if given:
            yield "contact_given", f"{contact}|{given}"
        if family and dob:
            yield "contact_family_dob", f"{contact}|{family}|{dob}"
        if erased and not (given or family):
            yield "contact_nameless", contact


def is_erased(rec: dict[str, Any], known: Callable[[str, str], bool]) -> bool:
    """Whether a cleaned record is about an erased person; ``known(kind, value)`` says
    whether a mark was kept at an erasure."""
    given, family, _dob, _contacts = _keys(rec)
    nameless = not (given or family)
    for kind, value in identity_marks(rec):
        if kind == "contact":
            if known("contact_nameless", value) or (nameless and known("contact", value)):
                return True
        elif known(kind, value):
            return True
    return False
