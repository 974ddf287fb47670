"""Postcode districts: the table harvest ships, derived from GeoNames.

``postcode_districts.csv`` has one row per UK outward code (``NW1``) with its
centroid, place, county, country and, where GeoNames gives one, local authority.
It is made by ``scripts/make_postcode_districts.py``.
Postal code data © GeoNames (geonames.org), CC BY 4.0.
"""

from __future__ import annotations

import csv
import io
import re
from functools import cache
from importlib import resources
from typing import Any

ATTRIBUTION = "Postal code data © GeoNames (geonames.org), CC BY 4.0"
LICENSE_URL = "https://creativecommons.org/licenses/by/4.0/"
SOURCE_URL = "https://www.geonames.org/"
OUTWARD = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?$")


@cache
def districts() -> dict[str, dict[str, Any]]:
    """Every postcode district, keyed by outward code."""
    text = resources.files("harvest.publish").joinpath("postcode_districts.csv").read_text("utf-8")
    rows = {}
    for row in csv.DictReader(io.StringIO(text)):
        row["latitude"], row["longitude"] = float(row["latitude"]), float(row["longitude"])
        rows[row["postcode_district"]] = {k: (v if v != "" else None) for k, v in row.items()}
    return rows


def district_of(postcode: str | None) -> str | None:
    """The outward code of a postcode ('NW1 2AB' → 'NW1'), or None if it has none."""
    if not postcode:
        return None
    text = postcode.strip().upper()
    outward = text.split()[0] if " " in text else text[:-3]
    return outward if OUTWARD.match(outward) else None
