"""Clean the standard's value-list fields of version 2: several values in one cell, values in
no list, and "prefer not to say" however it is written.

``clean_cell`` is what a row's cells go through: it handles the fields of version 2
(religion, food needs, languages, skills…) and "prefer not to say" for every category field
but yes/no, and hands everything else to ``clean.clean_value``. Its results are those of
``clean_value`` with one addition: a value *and* a problem together is a note about a value
that was kept ("'Halal, no nuts' read as two food needs: halal, nut allergy"); the row
normaliser reports a note once per distinct value in a table, not on every row.

* A multi-valued field (``multiple: true``) is stored as a JSON list. A cell is first
  matched whole ("Mental health and wellbeing" is one need), then split on commas,
  semicolons, slashes, "+", bullets and line breaks, and a part that is still unknown on
  "and", "&" or "or" when every piece of it is known.
* An open field (``open: true``) keeps a value in no list as typed, spaces tidied, with a
  note; a single-valued one first looks for one known value among its words, so
  "Pakistani Muslim" in a religion column is read as muslim, with a note.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache

from harvest.normalise.clean import (
    EMPTY,
    PLACEHOLDERS,
    Result,
    _choice_index,
    clean_value,
    normalise,
)
from harvest.normalise.clean_v2 import SPECIAL_CLEANERS
from harvest.normalise.standard import Field, load_standard

PREFER_NOT = "prefer_not_to_say"
_PNTS = re.compile(
    r"(?:\b(?:prefer|rather|choose|chose|wish|want|like|would)\b.*\bnot\b"
    r"|\bnot\b.*\b(?:wish|want|like)\b|\bdon t\b|\bdo not\b)"
    r".*\b(?:say|answer|disclose|tell|state|share|specify|declare|give|provide)\b"
    r"|^(?:pnts|pnta|p n t s|declined?|refused|withheld|not stated|not disclosed|not declared"
    r"|no comment|rather not|prefer not|would rather not|i d rather not|private|confidential)"
    r"(?: to (?:say|answer|state|disclose))?$"
)
_SPLIT = re.compile(r"\s*(?:[,;|/\n\r•·+]|\s-\s)\s*")
_SPLIT_AND = re.compile(r"\s+(?:and|&|or)\s+|\s*&\s*", re.IGNORECASE)
WORDS_FALLBACK = {"ethnicity"}  # closed lists that look for one known value among the words
NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def is_prefer_not_to_say(text: str) -> bool:
    """'Prefer not to say', "I'd rather not say", 'PNTS', 'Declined to answer', 'Don't want
    to disclose'… in any case and punctuation."""
    return bool(_PNTS.search(normalise(text)))


def clean_cell(field: Field, raw: str) -> Result:
    """One raw cell of any field, cleaned (see the module's docstring)."""
    text = (raw or "").strip()
    if not field.multiple:  # a list keeps its line breaks until it is split
        text = " ".join(text.split())
    if field.type == "category" and field.values != "yes_no" and is_prefer_not_to_say(text):
        return _prefer_not(field)
    special = SPECIAL_CLEANERS.get(field.name)
    result = special(field, text) if special is not None else None
    if result is not None:
        return result
    if field.multiple:
        return clean_many(field, text)
    if field.open and field.type == "category":
        return clean_open(field, text)
    if field.name in WORDS_FALLBACK:
        return _closed_with_words(field, text)
    return clean_value(field, raw)


def _closed_with_words(field: Field, text: str) -> Result:
    """A closed list whose answers are often run together with another question's, as on a
    form that asks ethnicity and religion in one: 'Pakistani Muslim' → asian_pakistani."""
    value, problem = clean_value(field, text)
    if problem is None:
        return value, None
    found = _values_among_words(field, text)
    if len(found) != 1:
        return None, problem
    rest = f"the other words are not {_a(_noun(field))}"
    return found[0], f"{text!r} read as {_label(field, found[0])}; {rest}"


def _prefer_not(field: Field) -> Result:
    allowed = {v.value for v in load_standard().values_of(field.name)}
    if PREFER_NOT not in allowed:
        return EMPTY  # a volunteer's skills: "rather not say" is simply no answer
    return (json.dumps([PREFER_NOT]) if field.multiple else PREFER_NOT), None


# --- one value ---------------------------------------------------------------------------


def _known(field: Field, text: str) -> str | None:
    """The stored value a piece of text names in the field's list, or None."""
    value, problem = clean_value(field, text)
    return None if problem or value is None else str(value)


def clean_open(field: Field, text: str) -> Result:
    """A single-valued open field: a known value, one known value among the words, or the
    text kept as typed with a note."""
    if text.lower() in PLACEHOLDERS:
        return EMPTY
    value = _known(field, text)
    if value is not None:
        return value, None
    found = _values_among_words(field, text)
    if len(found) == 1:
        [value] = found
        rest = f"the other words are not {_a(_noun(field))}"
        return value, f"{text!r} read as {_label(field, value)}; {rest}"
    return text, f"{text!r} is not in the standard's list of {_plural(field)}: kept as typed"


def _values_among_words(field: Field, text: str) -> list[str]:
    """Known values named by runs of words, longest runs first, without overlaps."""
    words = normalise(text).split(" ")
    taken = [False] * len(words)
    found: list[str] = []
    for size in range(min(4, len(words) - 1), 0, -1):
        for start in range(len(words) - size + 1):
            if any(taken[start : start + size]):
                continue
            value = _choice_index(field.values or "").get(" ".join(words[start : start + size]))
            if value is not None:
                taken[start : start + size] = [True] * size
                if value.value not in found:
                    found.append(value.value)
    return found


# --- several values ----------------------------------------------------------------------


@lru_cache(maxsize=16_384)
def _many(field: Field, text: str) -> tuple[tuple[str, ...], tuple[str, ...], bool]:
    """(known values, unknown parts, whether reading them took more than the labels)."""
    whole = _known(field, " ".join(text.split()))
    if whole is not None:
        return (whole,), (), False
    known: list[str] = []
    unknown: list[str] = []
    interpreted = False
    for part in (p for p in _SPLIT.split(text) if p.strip(" .")):
        part = " ".join(part.strip(" .").split())
        if part.lower() in PLACEHOLDERS:
            continue
        pieces = [part]
        value = _known(field, part)
        if value is None:
            subparts = [s for s in _SPLIT_AND.split(part) if s.strip()]
            values = [_known(field, s) for s in subparts]
            if len(subparts) > 1 and all(values):
                pieces, interpreted = subparts, True
        for piece in pieces:
            value = _known(field, piece)
            if value is None:
                unknown.append(piece)
                continue
            interpreted = interpreted or not _is_label(field, piece, value)
            if value not in known:
                known.append(value)
    return tuple(known), tuple(unknown), interpreted


def clean_many(field: Field, text: str) -> Result:
    """A multi-valued field: a JSON list of known values and unknown parts kept as typed."""
    if " ".join(text.lower().split()) in PLACEHOLDERS:
        return EMPTY
    known, unknown, interpreted = _many(field, text)
    values = [*known, *(u for u in unknown if u not in known)]
    if not values:
        return EMPTY
    note = None
    if unknown:
        shown = ", ".join(repr(u) for u in unknown)
        verb = "is" if len(unknown) == 1 else "are"
        note = f"{shown} {verb} not in the standard's list of {_plural(field)}: kept as typed"
    elif len(known) > 1 and interpreted:
        labels = ", ".join(_label(field, v) for v in known)
        said = " ".join(text.split())
        note = f"{said!r} read as {_count(len(known))} {_plural(field)}: {labels}"
    return json.dumps(values, ensure_ascii=False), note


def _is_label(field: Field, piece: str, value: str) -> bool:
    said = normalise(piece)
    v = _choice_index(field.values or "").get(said)
    return v is not None and said in (normalise(v.value), normalise(v.label))


# --- words for notes -----------------------------------------------------------------------


def _label(field: Field, value: str) -> str:
    for v in load_standard().values_of(field.name):
        if v.value == value:
            label = v.label
            if field.values == "language" or label[1:] != label[1:].lower():
                return label  # English, British Sign Language
            return label[:1].lower() + label[1:]
    return value


NOUNS = {  # value set → (one, several), for notes
    "religion": ("religion", "religions"),
    "ethnicity": ("ethnic group", "ethnic groups"),
    "language": ("language", "languages"),
    "food_need": ("food need", "food needs"),
    "support_need": ("support need", "support needs"),
    "vulnerability": ("vulnerability", "vulnerabilities"),
    "skill": ("skill", "skills"),
    "availability": ("time of availability", "times of availability"),
    "contact_method": ("way of contact", "ways of contact"),
    "contact_format": ("format", "formats"),
    "english_proficiency": ("level of English", "levels of English"),
    "income_band": ("income band", "income bands"),
    "unpaid_care": ("unpaid care answer", "unpaid care answers"),
    "general_health": ("health answer", "health answers"),
    "dbs_level": ("DBS level", "DBS levels"),
}


def _plural(field: Field) -> str:
    return NOUNS.get(field.values or "", ("", field.name.replace("_", " ")))[1]


def _noun(field: Field) -> str:
    return NOUNS.get(field.values or "", (field.name.replace("_", " "), ""))[0]


def _a(noun: str) -> str:
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


def _count(n: int) -> str:
    return NUMBER_WORDS[n] if n < len(NUMBER_WORDS) else str(n)
