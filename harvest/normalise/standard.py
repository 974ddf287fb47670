"""The common data standard: fields, hashtags, types and value sets.

The standard lives in two data files beside this module: ``standard.yaml``
(the fields) and ``values.yaml`` (allowed values of category fields with their
synonyms). Everything else (mapping, cleaning, the data dictionary, Datasette
descriptions, the JSON Schema) is derived from them. Earlier versions are kept
frozen beside them (``standard-v1.yaml``, ``values-v1.yaml``) so that
``harvest standard --diff v1 v2`` can say what changed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml

FIELD_TYPES = {
    "text",
    "name",
    "email",
    "phone",
    "postcode",
    "date",
    "integer",
    "number",
    "category",
    "boolean",
    "id",
}
ENTITIES = ("record", "person", "contact", "outcome")
VERSION = 2  # the version of the bundled standard (standard.yaml says so too)
FROZEN = {1: ("standard-v1.yaml", "values-v1.yaml")}  # older versions, never edited
# attributes written another way: +number is HXL's +num, +hh its households
ATTRIBUTE_ALIASES = {"number": "num", "hh": "household", "households": "household"}


@dataclass(frozen=True)
class Value:
    """One allowed value of a category field."""

    value: str
    label: str
    group: str | None = None
    synonyms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Field:
    """One field of the standard."""

    name: str
    entity: str
    hashtag: str
    type: str
    description: str
    values: str | None = None
    synonyms: tuple[str, ...] = ()
    identifying: bool = False
    special: bool = False
    multiple: bool = False  # several values, stored as a JSON list
    open: bool = False  # a value in no list is kept as typed (and reported once)
    since: int = 1  # the version of the standard that added it

    @property
    def hashtag_key(self) -> frozenset[str]:
        return hashtag_key(self.hashtag)


@dataclass
class Standard:
    """The loaded standard: fields in order, plus value sets."""

    version: int
    fields: list[Field]
    value_sets: dict[str, list[Value]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_name = {f.name: f for f in self.fields}
        self.by_hashtag = {f.hashtag_key: f for f in self.fields}

    def field(self, name: str) -> Field:
        return self.by_name[name]

    def values_of(self, field_name: str) -> list[Value]:
        set_name = self.by_name[field_name].values
        return self.value_sets.get(set_name or "", [])

    def match_hashtag(self, tag: str) -> Field | None:
        """The field a HXL hashtag names; extra attributes are allowed (``#adm+postcode+home``)."""
        key = hashtag_key(tag)
        if not key:
            return None
        if key in self.by_hashtag:
            return self.by_hashtag[key]
        best: Field | None = None
        for f in self.fields:
            fk = f.hashtag_key
            if fk <= key and (best is None or len(fk) > len(best.hashtag_key)):
                best = f
        return best

    def dictionary_rows(self) -> list[dict[str, Any]]:
        """The data dictionary as rows, for `harvest standard` and the `standard` table."""
        rows = []
        for f in self.fields:
            allowed = [v.value for v in self.values_of(f.name)]
            rows.append(
                {
                    "name": f.name,
                    "entity": f.entity,
                    "hashtag": f.hashtag,
                    "type": f.type,
                    "description": f.description,
                    "allowed_values": ", ".join(allowed) or None,
                    "synonyms": ", ".join(f.synonyms),
                    "identifying": int(f.identifying),
                    "special_category": int(f.special),
                    "multiple": int(f.multiple),
                    "since": f.since,
                }
            )
        return rows


def hashtag_key(tag: str) -> frozenset[str]:
    """A hashtag as a set of lower-case parts: ``#Person +name+Given`` → {person, name, given}.

    The first part keeps its ``#`` so that ``#date+activity`` and ``#activity+date``
    stay different tags, as HXL intends.
    """
    tag = re.sub(r"\s+", "", tag or "").lower()
    if not tag.startswith("#"):
        return frozenset()
    parts = [p for p in tag.split("+") if p]
    if not parts or parts[0] == "#":
        return frozenset()
    return frozenset([parts[0], *(ATTRIBUTE_ALIASES.get(p, p) for p in parts[1:])])


def _load_yaml(name: str) -> Any:
    text = resources.files("harvest.normalise").joinpath(name).read_text(encoding="utf-8")
    # libyaml's loader when PyYAML has it: every command loads the standard, and the
    # pure-Python loader takes ~90 ms of CPU over it (libyaml ~11 ms), the same result
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@cache
def load_standard(version: int | None = None) -> Standard:
    """Load and check the bundled standard (cached: it never changes at run time);
    ``version`` picks a frozen earlier one (``load_standard(1)``)."""
    if version is not None and version != VERSION and version not in FROZEN:
        known = ", ".join(f"v{v}" for v in sorted([*FROZEN, VERSION]))
        raise ValueError(f"There is no version {version} of the standard (known: {known}).")
    names = FROZEN.get(version or VERSION, ("standard.yaml", "values.yaml"))
    data = _load_yaml(names[0])
    value_sets = {
        set_name: [_value(v) for v in values]
        for set_name, values in (_load_yaml(names[1]) or {}).items()
    }
    fields = [_field(raw, value_sets) for raw in data["fields"]]
    return Standard(version=int(data["version"]), fields=fields, value_sets=value_sets)


def _value(v: dict[str, Any]) -> Value:
    return Value(
        value=str(v["value"]),
        label=str(v.get("label", v["value"])),
        group=v.get("group"),
        synonyms=tuple(str(s) for s in v.get("synonyms", [])),
    )


def _field(raw: dict[str, Any], value_sets: dict[str, list[Value]]) -> Field:
    f = Field(
        name=raw["name"],
        entity=raw["entity"],
        hashtag=raw["hashtag"],
        type=raw["type"],
        description=" ".join(str(raw["description"]).split()),
        values=raw.get("values"),
        synonyms=tuple(str(s) for s in raw.get("synonyms", [])),
        identifying=bool(raw.get("identifying", False)),
        special=bool(raw.get("special", False)),
        multiple=bool(raw.get("multiple", False)),
        open=bool(raw.get("open", False)),
        since=int(raw.get("since", 1)),
    )
    assert f.type in FIELD_TYPES, f"standard.yaml: {f.name} has unknown type {f.type}"
    assert f.entity in ENTITIES, f"standard.yaml: {f.name} has unknown entity {f.entity}"
    assert f.values is None or f.values in value_sets, f"values.yaml lacks {f.values}"
    assert not f.multiple or f.values, f"standard.yaml: {f.name} is multiple but has no values"
    return f
