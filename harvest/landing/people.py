"""A provisional person for each row as it lands, by exact keys; matching then decides."""

from __future__ import annotations

from typing import Any

import sqlite_utils

from harvest.landing.rows import Pending
from harvest.people.features import email_key, family_key, given_key, phone_key

CHUNK = 500  # keys looked up per query (SQLite's default limit is 999 parameters)
KNOWN_LIMIT = 200_000  # keys remembered (people sign up again and again: their keys repeat)


def person_keys(rec: dict[str, Any]) -> list[str]:
    """Exact keys safe to join records on as they land, before matching.

    Only whole identities: the same given name, family name and date of birth; or
    the same email or phone *with* the same names (and date of birth, when given).
    A shared email or phone on its own never joins anyone (a household's landline,
    an office's inbox): the matching step after the sync weighs those. Placeholder
    values ("Test", none@none.com, 07777 777777) are not keys.
    """
    given = given_key(rec["given_name"]) if rec.get("given_name") else None
    family = family_key(rec["family_name"]) if rec.get("family_name") else None
    if not (given and family) or len(given) < 2:
        return []
    dob = rec.get("date_of_birth") or ""
    keys = [f"n:{given}|{family}|{dob}"] if dob else []
    email = email_key(rec["email"]) if rec.get("email") else None
    if email:
        keys.append(f"e:{email}|{given}|{family}|{dob}")
    phone = phone_key(rec["phone"]) if rec.get("phone") else None
    if phone:
        keys.append(f"p:{phone}|{given}|{family}|{dob}")
    return keys


class People:
    """Gives each new row a person: its earlier version's, one with the same exact key
    (see ``person_keys``), else a new one. Ids matching merged away are never given again."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        self.next_id = self._max("SELECT max(person_id) FROM people") + 1
        self._ids_checked = False
        # key -> person, as the store has it: nothing else writes person_keys or
        # person_merges while the source's transaction is open, and this adds only keys
        # it looked up and did not find
        self.known: dict[str, int] = {}

    def _max(self, sql: str) -> int:
        return int(self.db.execute(sql).fetchone()[0] or 0)

    def assign(self, pending: list[Pending]) -> dict[str, int]:
        """Set ``person_id`` on every pending row; return the keys new to the store."""
        if not self._ids_checked:
            merged = self._max("SELECT max(merged_id) FROM person_merges")
            self.next_id = max(self.next_id, merged + 1)
            self._ids_checked = True
        all_keys = [person_keys(p.norm.fields) if p.keys is None else p.keys for p in pending]
        wanted = {
            k
            for p, keys in zip(pending, all_keys, strict=True)
            if p.person_id is None
            for k in keys
        }
        found = self._lookup(wanted)
        new_keys: dict[str, int] = {}
        for p, keys in zip(pending, all_keys, strict=True):
            if p.person_id is None:
                ids = [found[k] for k in keys if k in found]
                if ids:
                    p.person_id = min(ids)
                else:
                    p.person_id = self.next_id
                    self.next_id += 1
            for k in keys:
                if k not in found:
                    found[k] = new_keys[k] = p.person_id
        if len(self.known) > KNOWN_LIMIT:
            self.known.clear()
        # not the keys of rows that kept an earlier version's person: those were not looked
        # up, and INSERT OR IGNORE leaves a key already in the store with its own person
        self.known.update((k, found[k]) for k in wanted)
        return new_keys

    def _lookup(self, keys: set[str]) -> dict[str, int]:
        """Person ids of known keys, following ids that matching merged into others."""
        known = self.known
        found = {k: known[k] for k in keys if k in known}
        keys_list = [k for k in keys if k not in found]
        for i in range(0, len(keys_list), CHUNK):
            chunk = keys_list[i : i + CHUNK]
            sql = f"""SELECT k.key, coalesce(m.person_id, k.person_id) FROM person_keys k
                      LEFT JOIN person_merges m ON m.merged_id = k.person_id
                      WHERE k.key IN ({",".join("?" * len(chunk))})"""
            found.update(self.db.execute(sql, chunk).fetchall())
        return found
