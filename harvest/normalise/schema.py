"""A JSON Schema (draft 2020-12) of one cleaned record of the standard.

``harvest standard --format json-schema`` prints it, so another tool (or a funder's
validator) can check harvest's exports the way 360Giving's schema checks grants data.
Every field may be missing or null: a record holds what its source had. A closed value
list is an ``enum``; an open one (version 2's fields) lists its values as ``examples``,
since a value in no list is kept as typed; a multi-valued field is an array of them.
"""

from __future__ import annotations

from typing import Any

from harvest.normalise.standard import Field, Standard, load_standard

SCHEMA_ID = "urn:harvest:standard:v{version}:record"
TYPES: dict[str, dict[str, Any]] = {
    "text": {"type": "string"},
    "name": {"type": "string"},
    "id": {"type": "string"},
    "email": {"type": "string", "format": "email"},
    "phone": {"type": "string", "pattern": r"^\+[1-9][0-9]{6,14}$"},
    "postcode": {"type": "string", "pattern": r"^[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}$"},
    "date": {"type": "string", "format": "date", "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
    "integer": {"type": "integer"},
    "number": {"type": "number"},
}


def record_schema(standard: Standard | None = None) -> dict[str, Any]:
    """The JSON Schema of a record: one property per field, none required."""
    std = standard or load_standard()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID.format(version=std.version),
        "title": f"A record of the harvest common data standard, version {std.version}",
        "type": "object",
        "properties": {f.name: _property(std, f) for f in std.fields},
        "additionalProperties": False,
    }


def _property(std: Standard, f: Field) -> dict[str, Any]:
    one = _value_schema(std, f)
    prop: dict[str, Any] = {"description": f.description, "x-hashtag": f.hashtag}
    if f.special:
        prop["x-special-category"] = True
    if f.multiple:
        prop["anyOf"] = [{"type": "array", "items": one, "uniqueItems": True}, {"type": "null"}]
    else:
        prop["anyOf"] = [one, {"type": "null"}]
    return prop


def _value_schema(std: Standard, f: Field) -> dict[str, Any]:
    if f.type not in ("category", "boolean"):
        return dict(TYPES[f.type])
    allowed = [v.value for v in std.values_of(f.name)]
    if f.open:
        return {"type": "string", "examples": allowed}
    return {"type": "string", "enum": allowed}
