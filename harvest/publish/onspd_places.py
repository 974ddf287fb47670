"""The ONSPD read back from the store, for publishing: each postcode's Place (onspd.py imports it)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harvest.publish.onspd import META_KEY, normalise_postcode

# --- reading it back, for publishing ---------------------------------------------------


@dataclass(frozen=True)
class Place:
    """What the ONSPD says about one postcode, with names where known (else codes)."""

    country: str | None
    region: str | None
    local_authority_code: str | None
    local_authority: str | None
    ward_code: str | None
    ward: str | None
    imd_decile: int | None


EMPTY = Place(None, None, None, None, None, None, None)


def has_postcodes(conn: sqlite3.Connection) -> bool:
    return (
        conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'geo_postcodes'"
        ).fetchone()
        is not None
    )


def imported(conn: sqlite3.Connection) -> dict[str, Any] | None:
    """The last import's file names, time and size, or None if there has been none."""
    if not has_postcodes(conn):
        return None
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (META_KEY,)).fetchone()
    return json.loads(row[0]) if row else None


def places(conn: sqlite3.Connection) -> Callable[[str | None], Place]:
    """A function from a store postcode to its Place (EMPTY without an import)."""
    if not has_postcodes(conn):
        return lambda postcode: EMPTY
    names = {code: name for code, name in conn.execute("SELECT code, name FROM geo_areas")}

    def place(postcode: str | None) -> Place:
        row = conn.execute(
            "SELECT * FROM geo_postcodes WHERE postcode = ?",
            (normalise_postcode(postcode or "") or "",),
        ).fetchone()
        if row is None:
            return EMPTY
        _, la, ward, region, country, decile = tuple(row)
        country_name = names.get(country or "", country)
        region_name = names.get(region or "", region) if region else country_name
        return Place(
            country_name,
            region_name,
            la,
            names.get(la or "", la),
            ward,
            names.get(ward or "", ward),
            decile,
        )

    return place
