"""Clean one raw cell into the standard's form for its field's type.

Every cleaner takes the cell as text and returns ``(value, problem)``:
``(value, None)`` when it is usable, ``(None, None)`` when the cell is blank or
a placeholder such as "n/a", and ``(None, problem)`` when it cannot be used,
``problem`` being a short phrase a volunteer understands.

The per-type cleaners are pure and cached: the same dates, postcodes and
category answers repeat across thousands of rows. Decisions worth knowing:

* Dates are day first. Dates in figures only are read as ISO basic (19560125) or day
  first (25011956); six figures as day first (250156) or, failing that, year first
  (560125), and are a problem only when both readings are real dates. A two-digit year is put in the 2000s when that year is
  not after this year (dates of birth) or not more than 20 years ahead (other
  dates), else in the 1900s. Excel serial numbers are read only in 10000-80000
  (1927-2119), so small numbers are never taken for dates.
* Phones: UK numbers are checked against the numbering plan by length and
  prefix (so Ofcom's drama numbers, 07700 900xxx, pass); anything else goes to
  ``phonenumbers``. A 10-digit number starting 1, 2, 3 or 7 is taken as a UK
  number whose leading 0 a spreadsheet dropped. Of several numbers in one cell
  the first is kept.
* A postcode that is not a UK one is a problem, but ``postcode_text`` keeps it (letters
  and digits, upper case) for matching: a mistyped or overseas postcode is still evidence.
* Placeholders ("n/a", "unknown", "-") are empty; 01/01/1900 and dummy postcodes
  (AA1 1AA, ZZ99 ...) are problems. In a yes/no field "none" means no.
* Category answers are matched on a normalised form (lower case, no
  punctuation), then, for grouped value sets (ethnicity), with the group words
  dropped ("Asian British - Pakistani"), then with a close fuzzy match.
  In a yes/no field the first word decides ("Yes - hearing loss").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from functools import cache, lru_cache

import phonenumbers
from rapidfuzz import fuzz, process

from harvest.normalise.clean_common import CACHE_SIZE, EMPTY, PLACEHOLDERS, Result
from harvest.normalise.clean_dates import _clean_date
from harvest.normalise.standard import Field, Value, load_standard

P_NAME = "not a name (it has no letters)"
P_EMAIL = "not an email address"
P_PHONE = "not a phone number"
P_POSTCODE = "not a UK postcode"
P_POSTCODE_PART = "only part of a postcode"
P_POSTCODE_BFPO = "not a UK home postcode"
P_POSTCODE_DUMMY = "looks like a placeholder postcode"
P_INTEGER = "not a whole number"
P_NUMBER = "not a single number"
P_AGE = "not a believable age"


def clean_value(field: Field, raw: str) -> Result:
    """Clean one raw cell for a standard field. Returns (clean_value, None) on success,
    (None, None) for a blank/placeholder-empty cell, or (None, problem) when the value is
    unusable; `problem` is a short plain-English phrase a volunteer understands, e.g.
    "not a UK postcode", "not a date we recognise (day/month/year expected)"."""
    text = raw.strip() if raw else ""
    kind = field.type
    if kind == "category" or kind == "boolean":
        return _clean_choice(field.values or "", text, kind == "boolean")
    if text.lower() in PLACEHOLDERS:
        return EMPTY
    if kind == "date":
        return _clean_date(text, field.name == "date_of_birth")
    value, problem = _CLEANERS[kind](text)
    if field.name == "age" and isinstance(value, int) and not 0 <= value <= 120:
        return None, P_AGE
    return value, problem


def age_from_dob(dob_iso: str, on: date) -> int | None:
    """Age in whole years on a day; None for a bad date or one after `on`.

    Someone born on 29 February becomes a year older on 1 March in other years.
    """
    try:
        dob = date.fromisoformat(dob_iso)
    except (TypeError, ValueError):
        return None
    if dob > on:
        return None
    return on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))


# --- id, text, name, email -------------------------------------------------------------

_WHOLE_FLOAT = re.compile(r"([+-]?\d+)\.0+")


@lru_cache(maxsize=CACHE_SIZE)
def clean_id(text: str) -> Result:
    m = _WHOLE_FLOAT.fullmatch(text)
    return (m.group(1) if m else text), None


def clean_text(text: str) -> Result:
    return " ".join(text.split()), None


_PARTICLES = frozenset(
    "van von der den de da di du del della dos das la le ter ten bin ibn al el".split()
)
_TITLES = frozenset("mr mrs ms miss mx dr prof rev sir dame".split())
_ROMAN = frozenset({"ii", "iii", "iv", "vi", "vii", "viii"})


@lru_cache(maxsize=CACHE_SIZE)
def clean_name(text: str) -> Result:
    name = " ".join(text.split())
    if not any(c.isalpha() for c in name):
        return None, P_NAME
    own = " ".join(w for w in name.split(" ") if w.lower().rstrip(".") not in _TITLES) or name
    if not (own.isupper() or own.islower()):  # the person's own casing: keep it
        return name, None
    words = name.lower().split(" ")
    last = len(words) - 1
    return " ".join(
        w if 0 < i < last and w in _PARTICLES else "-".join(_title_part(p) for p in w.split("-"))
        for i, w in enumerate(words)
    ), None


def _title_part(part: str) -> str:
    """One lower-case name part in title case: o'brien → O'Brien, mcdonald → McDonald."""
    if part in _ROMAN:
        return part.upper()
    if len(part) > 3 and part.startswith("mc"):
        return "Mc" + part[2].upper() + part[3:]
    for mark in "'’":
        head, sep, tail = part.partition(mark)
        if sep and len(head) == 1 and tail:
            return head.upper() + sep + tail[0].upper() + tail[1:]
    return part[:1].upper() + part[1:]


_EMAIL = re.compile(
    r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"
)
_EMAIL_IN_BRACKETS = re.compile(r"<([^<>]+)>")
_EMAIL_SPLIT = re.compile(r"[\s;,/]+")


@lru_cache(maxsize=CACHE_SIZE)
def clean_email(text: str) -> Result:
    email = text.lower()
    bracketed = _EMAIL_IN_BRACKETS.search(email)
    if bracketed:  # "Ann Smith <ann@example.org>"
        email = bracketed.group(1)
    email = email.strip().removeprefix("mailto:").strip(" .,;:'\"")
    if not _EMAIL.fullmatch(email):
        first = next((p for p in _EMAIL_SPLIT.split(email) if "@" in p), "")
        if first == email or not _EMAIL.fullmatch(first.strip(".,;:'\"")):
            return None, P_EMAIL
        email = first.strip(".,;:'\"")
    return email, None


# --- phone -----------------------------------------------------------------------------

_EXTENSION = re.compile(r"\s*(?:x|ext|extn|extension)\.?\s*\d{1,6}\s*$", re.IGNORECASE)
_NOT_DIGIT = re.compile(r"[^\d+]+")
# +44, 0044 or 44, or the trunk 0; then mobile 07, geographic 01/02, non-geographic 03
_UK_PHONE = re.compile(r"(?:(?:\+44|0044|44)0?|0)?(7\d{9}|1\d{8,9}|2[03489]\d{8}|3[0347]\d{8})")
_PHONE_SPLIT = re.compile(r"[,;/&]|\bor\b|\band\b", re.IGNORECASE)


@lru_cache(maxsize=CACHE_SIZE)
def clean_phone(text: str) -> Result:
    value = _phone(text)
    if value is None:
        parts = _PHONE_SPLIT.split(text)
        value = _phone(parts[0]) if len(parts) > 1 else None
    return (value, None) if value else (None, P_PHONE)


def _phone(text: str) -> str | None:
    """One number in E.164: the UK fast path, else phonenumbers."""
    text = text.removesuffix(".0").replace("(0)", "")
    national = _uk_national(_NOT_DIGIT.sub("", text))
    if national is None:
        text = _EXTENSION.sub("", text)
        national = _uk_national(_NOT_DIGIT.sub("", text))
    if national is not None:
        return "+44" + national
    try:
        number = phonenumbers.parse(text, "GB")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _uk_national(digits: str) -> str | None:
    """The UK national number without its leading 0, if `digits` is a UK number."""
    m = _UK_PHONE.fullmatch(digits)
    if m is None or (m.start(1) == 0 and len(digits) != 10):
        return None  # without a prefix, only a 10-digit number whose 0 was dropped
    return m.group(1)


# --- postcode --------------------------------------------------------------------------

_OUTWARD = r"[A-PR-UWYZ](?:\d[A-HJKPSTUW\d]?|[A-HK-Y]\d[ABEHMNPRV-Y\d]?)"
_INWARD = r"\d[ABD-HJLNP-UW-Z]{2}"
_POSTCODE = re.compile(f"({_OUTWARD})({_INWARD})")
_POSTCODE_AT_END = re.compile(rf"\b({_OUTWARD})\s*({_INWARD})$")
_OUTWARD_ONLY = re.compile(_OUTWARD)
_POSTCODE_LIKE = re.compile(r"([A-Z]{1,2})\d[A-Z\d]?\d[A-Z]{2}")
_AREAS = frozenset(
    """
    AB AL B BA BB BD BH BL BN BR BS BT CA CB CF CH CM CO CR CT CV CW DA DD DE DG DH DL DN DT
    DY E EC EH EN EX FK FY G GL GU GY HA HD HG HP HR HS HU HX IG IM IP IV JE KA KT KW KY L LA
    LD LE LL LN LS LU M ME MK ML N NE NG NN NP NR NW OL OX PA PE PH PL PO PR RG RH RM S SA SE
    SG SK SL SM SN SO SP SR SS ST SW SY TA TD TF TN TQ TR TS TW UB W WA WC WD WF WN WR WS WV
    YO ZE""".split()
)
_DUMMY_AREAS = frozenset({"AA", "XX", "ZZ"})


@lru_cache(maxsize=CACHE_SIZE)
def clean_postcode(text: str) -> Result:
    upper = text.upper()
    compact = "".join(upper.split())
    if compact == "GIR0AA":
        return "GIR 0AA", None
    if compact.startswith("BFPO"):
        return None, P_POSTCODE_BFPO
    if len(compact) >= 5 and compact[-3] == "O":  # letter O typed for zero: inward starts 0-9
        compact = compact[:-3] + "0" + compact[-2:]
    dummy = _POSTCODE_LIKE.fullmatch(compact)
    if dummy and dummy.group(1) in _DUMMY_AREAS:
        return None, P_POSTCODE_DUMMY
    m = _POSTCODE.fullmatch(compact) or _POSTCODE_AT_END.search(upper)
    if m and _area(m.group(1)) in _AREAS:
        return f"{m.group(1)} {m.group(2)}", None
    if _OUTWARD_ONLY.fullmatch(compact) and _area(compact) in _AREAS:
        return None, P_POSTCODE_PART
    return None, P_POSTCODE


_NOT_ALNUM = re.compile(r"[^A-Z0-9]+")


@lru_cache(maxsize=CACHE_SIZE)
def postcode_text(text: str) -> str | None:
    """A postcode that is not a UK one (mistyped, overseas, an Irish Eircode), as text that
    matching can compare: upper case, letters and digits only ('d02 x285' → 'D02X285').
    None for a value that is no postcode at all: a town (no digits), a placeholder, a
    part, a phone number (ten digits or more)."""
    if clean_postcode(text)[1] != P_POSTCODE:
        return None
    compact = _NOT_ALNUM.sub("", text.upper())
    if not any(c.isdigit() for c in compact) or compact.isdigit() and len(compact) > 9:
        return None
    return compact if 4 <= len(compact) <= 10 else None


def _area(outward: str) -> str:
    return outward[:2] if outward[1].isalpha() else outward[:1]


# --- integer, number -------------------------------------------------------------------

_INTEGER = re.compile(
    r"([+-]?\d+)(?:\.0*)?\s*(?:years?|yrs?|yo|y/o|y\.o\.)?(?:\s*old)?", re.IGNORECASE
)
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")


@lru_cache(maxsize=CACHE_SIZE)
def clean_integer(text: str) -> Result:
    if _THOUSANDS.fullmatch(text):
        text = text.replace(",", "")
    m = _INTEGER.fullmatch(text)
    return (int(m.group(1)), None) if m else (None, P_INTEGER)


@lru_cache(maxsize=CACHE_SIZE)
def clean_number(text: str) -> Result:
    """A number: an int when written without a fraction, else a float."""
    if _THOUSANDS.fullmatch(text):
        text = text.replace(",", "")
    if not _NUMBER.fullmatch(text):
        return None, P_NUMBER
    number = float(text)
    return (int(number) if number.is_integer() and "." not in text else number), None


# --- category, boolean -----------------------------------------------------------------

_NOT_WORD = re.compile(r"(?:[^\w✓✔☑✗✘☒]|_)+")
_GROUP_FILLER = frozenset({"other", "any", "ethnic", "group", "background", "or", "and"})
FUZZY_CUTOFF = 90


def normalise(text: str) -> str:
    """The form answers are compared in: 'White & Black-Caribbean' → 'white and black caribbean'."""
    return " ".join(_NOT_WORD.sub(" ", text.lower().replace("&", " and ")).split())


@cache
def _choice_index(set_name: str) -> dict[str, Value]:
    """Normalised value, label or synonym → the value it names (first one wins)."""
    index: dict[str, Value] = {}
    for v in load_standard().value_sets.get(set_name, []):
        for said in (v.value, v.label, *v.synonyms):
            index.setdefault(normalise(said), v)
    return index


@lru_cache(maxsize=CACHE_SIZE)
def _clean_choice(set_name: str, text: str, yes_no: bool) -> Result:
    index = _choice_index(set_name)
    whole = _WHOLE_FLOAT.fullmatch(text)  # a number cell read as 1.0
    said = normalise(whole.group(1) if whole else text)
    if said in index:
        return index[said].value, None
    if text.lower() in PLACEHOLDERS or not said:
        return EMPTY
    found = _without_group_words(index, said)
    if found is None and yes_no:
        found = index.get(said.split(" ", 1)[0])  # "yes - hearing loss", "no thanks"
    if found is None:
        best = process.extractOne(said, list(index), scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF)
        found = index[best[0]] if best else None
    return (found.value, None) if found else (None, _not_allowed(set_name))


def _without_group_words(index: dict[str, Value], said: str) -> Value | None:
    """Match after dropping leading group words: 'asian british pakistani' → asian_pakistani.

    Only when the dropped words name the matched value's group (or are filler such as
    'other'), so 'black british' never becomes white_british.
    """
    words = said.split(" ")
    for cut in range(1, len(words)):
        found = index.get(" ".join(words[cut:]))
        if found is not None and found.group:
            dropped = set(words[:cut])
            if found.group in dropped or dropped <= _GROUP_FILLER:
                return found
    return None


@cache
def _not_allowed(set_name: str) -> str:
    values = [v.value for v in load_standard().value_sets.get(set_name, [])]
    shown = ", ".join(values if len(values) <= 8 else [*values[:6], "…"])
    return f"not one of the allowed values: {shown}"


_CLEANERS: dict[str, Callable[[str], Result]] = {
    "id": clean_id,
    "text": clean_text,
    "name": clean_name,
    "email": clean_email,
    "phone": clean_phone,
    "postcode": clean_postcode,
    "integer": clean_integer,
    "number": clean_number,
}
