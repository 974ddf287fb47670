"""The identifying fields of records as columnar arrays, ready to block and compare.

Records with exactly the same identifying values are one *profile* and are matched
once (a weekly sign-up sheet repeats the same person many times). Each field is
factorised into integer codes over its distinct values, so that agreement is an
integer comparison and the Python work is per distinct value, not per record.

Placeholders never count as evidence: names such as "Test" or "Unknown", emails
such as none@none.com, phones such as 07777 777777 are treated as blank, and an
email or phone shared by many different names (an office's) is ignored for
matching. A profile with no name, or with a name and nothing else, is *not
matchable*: its records stay people on their own.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property, lru_cache
from typing import Any, TypeVar

import numpy as np
from nicknames import NickNamer

from harvest.people.name_variants import SHORT_FORMS, stems

IDENTITY = ("given_name", "family_name", "date_of_birth", "postcode", "email", "phone", "address")
# A postcode that is not a UK one (records.postcode_text) takes the place of the missing
# postcode, marked so that it has no sector or district and agrees only as text.
NOT_UK = "~"
IDENTITY_SQL = ", ".join(
    f"coalesce([postcode], '{NOT_UK}' || [postcode_text])" if f == "postcode" else f"[{f}]"
    for f in IDENTITY
)
PLACEHOLDER_NAMES = frozenset(
    "test testing tester unknown anon anonymous none null na nil xxx xx x client guest noname "
    "dummy asdf qwerty person someone somebody tbc tba blank sample example fake".split()
)
PLACEHOLDER_EMAIL_USERS = frozenset(
    "test none noemail nomail no na n a noreply donotreply unknown email blank nobody null "
    "dummy fake sample xxx x".split()
)
_NOT_WORD = re.compile(r"[^a-z0-9]+")


_V = TypeVar("_V")


def factorize(values: Sequence[_V]) -> tuple[np.ndarray, list[_V]]:
    """Integer codes (−1 for None or '') and the distinct values in order of first sight."""
    index: dict[_V, int] = {}
    codes = np.fromiter(
        (-1 if v is None or v == "" else index.setdefault(v, len(index)) for v in values),
        dtype=np.int64,
        count=len(values),
    )
    return codes, list(index)


def recode(codes: np.ndarray, uniques: list[object], fn) -> tuple[np.ndarray, list[object]]:
    """Apply ``fn`` to each distinct value and factorise the results again."""
    mapped, new_uniques = factorize([fn(u) for u in uniques])
    table = np.append(mapped, -1)  # code −1 indexes the appended −1
    return table[codes], new_uniques


def fold(text: str) -> str:
    """Lower case, accents dropped: 'Zoë' → 'zoe'."""
    text = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in text if not unicodedata.combining(c))


@lru_cache(maxsize=65536)
def given_key(name: str) -> str | None:
    """The first given name, letters (and any digits) only: 'Mary-Jane' → 'maryjane', 'R.' → 'r'."""
    words = fold(name).replace(".", " ").split()
    first = _NOT_WORD.sub("", words[0]) if words else ""
    return None if not first or first in PLACEHOLDER_NAMES else first


@lru_cache(maxsize=65536)
def family_key(name: str) -> str | None:
    """The family name, letters (and any digits) only: "O'Brien-Smith" → 'obriensmith'."""
    key = _NOT_WORD.sub("", fold(name))
    return None if not key or key in PLACEHOLDER_NAMES else key


def email_key(email: str) -> str | None:
    user, _, domain = email.partition("@")
    plain = _NOT_WORD.sub("", user)
    if not plain or user in PLACEHOLDER_EMAIL_USERS or plain in PLACEHOLDER_EMAIL_USERS:
        return None
    if plain == _NOT_WORD.sub("", domain.split(".")[0]):  # none@none.com, test@test.org
        return None
    return email


def phone_key(phone: str) -> str | None:
    digits = phone[-10:]
    if len(set(digits)) <= 2 or digits in "01234567890123456789" or digits in "9876543210":
        return None
    return phone


def address_key(address: str) -> str | None:
    words = _NOT_WORD.sub(" ", fold(address)).split()
    return " ".join(words) or None


def sector_of(postcode: str) -> str | None:
    """'NW1 2AB' → 'NW1 2'; None for a postcode that is not a UK one."""
    return None if postcode.startswith(NOT_UK) else postcode[:-2]


def district_of(postcode: str) -> str | None:
    """'NW1 2AB' → 'NW1'; None for a postcode that is not a UK one."""
    return None if postcode.startswith(NOT_UK) else postcode.split(" ")[0]


_FLAT = re.compile(r"(?:flat|apartment|apt|unit|room) \w+ ")
_SHORTER = {
    "street": "st",
    "road": "rd",
    "avenue": "ave",
    "lane": "ln",
    "drive": "dr",
    "close": "cl",
    "gardens": "gdns",
    "crescent": "cres",
    "court": "ct",
    "place": "pl",
    "terrace": "ter",
    "square": "sq",
}


def address_parts(key: str) -> tuple[str, str]:
    """An address (as address_key makes it) as its flat and the rest, street words
    shortened: 'flat 3 12 high street' → ('flat 3', '12 high st')."""
    m = _FLAT.match(key + " ")
    flat = m.group(0).strip() if m else ""
    rest = key[m.end() :] if m else key
    return flat, " ".join(_SHORTER.get(w, w) for w in rest.split())


def dob_parts(iso: str) -> tuple[int, int, int]:
    try:
        y, m, d = (int(p) for p in iso[:10].split("-"))
    except ValueError:
        return 0, 0, 0
    return (0, 0, 0) if y < 1901 else (y, m, d)


@cache
def nicknamer() -> NickNamer:
    return NickNamer()


_SPELLINGS = [  # one spelling for names that differ only in how a sound is written
    (re.compile(r"ph"), "f"),
    (re.compile(r"ck"), "k"),
    (re.compile(r"c(?=[aoulrt]|$)"), "k"),  # Catherine, Katherine; Carl, Karl; Eric, Erik
    (re.compile(r"y"), "i"),  # Lucy, Luci
    (re.compile(r"(.)\1"), r"\1"),  # Anna, Ana; Matt, Mat
]


@lru_cache(maxsize=200_000)
def spelling(name: str) -> str:
    """A name's sound-alike spelling, so that Katherine and Catherine are one name."""
    for pattern, repl in _SPELLINGS:
        name = pattern.sub(repl, name)
    return name


@lru_cache(maxsize=200_000)
def spelled_group(name: str) -> frozenset[str]:
    """``name_group`` in sound-alike spellings: Kate → {kate, katherine, …} meets
    Catherine → {katherine, …}, where the nicknames list only knows the K spelling."""
    return frozenset(spelling(n) for n in name_group(name))


@lru_cache(maxsize=200_000)
def name_group(name: str) -> frozenset[str]:
    """The name and the formal names it is a nickname of: 'bob' → {'bob', 'robert'}; also
    the British short forms and spelling variants the nicknames list lacks
    (name_variants.py): 'sal' → {'sal', 'sarah', 'sally'}, 'paula' → {'paula', 'paul~'}."""
    if len(name) < 2:
        return frozenset({name})
    return frozenset(
        {name, *nicknamer().canonicals_of(name), *SHORT_FORMS.get(name, ()), *stems(name)}
    )


@dataclass
class Features:
    """Per-profile arrays. Codes index the lists of distinct values; −1 means blank."""

    n: int
    record_profile: np.ndarray  # record index → profile index
    profile_record: np.ndarray  # profile index → its first record index
    given: np.ndarray
    given_values: list[str]
    family: np.ndarray
    family_values: list[str]
    dob: np.ndarray  # (n, 3) year, month, day; 0 when blank
    dob_code: np.ndarray
    postcode: np.ndarray
    sector: np.ndarray
    district: np.ndarray
    email: np.ndarray
    phone: np.ndarray
    address: np.ndarray
    address_values: list[str]
    matchable: np.ndarray
    counts: dict[str, np.ndarray] = field(default_factory=dict)  # value frequencies per field
    shared: dict[str, int] = field(default_factory=dict)  # emails/phones ignored as shared
    nick_pairs: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    given_groups: list[frozenset[str]] = field(default_factory=list)
    profiles: list[tuple] = field(default_factory=list)  # identifying values, per profile
    _indexes: dict[str, dict[str, int]] = field(default_factory=dict, repr=False)

    @cached_property
    def given_lengths(self) -> np.ndarray:
        """Each given name's length, by code (code −1 indexes the 0 at the end)."""
        return np.array([len(v) for v in self.given_values] + [0])

    @cached_property
    def address_forms(self) -> tuple[np.ndarray, np.ndarray]:
        """Per address code, the code of its flat (−1 when it names none) and of the rest,
        street words shortened ('12 High St' is '12 High Street'); −2 and −3 for code −1."""
        parts = [address_parts(v) for v in self.address_values]
        flat, _ = factorize([p[0] for p in parts])
        rest, _ = factorize([p[1] for p in parts])
        return np.append(flat, -2), np.append(rest, -3)

    def used_as_given(self, name: str) -> int:
        """How many profiles have this given name."""
        return self.used_as("given", name)

    def used_as(self, column: str, name: str) -> int:
        """How many profiles have this name (as given_key or family_key makes it) in the
        ``column``, "given" or "family"."""
        code = self._index(column).get(name)
        return 0 if code is None else int(self.name_use[column, column][code])

    def _index(self, name: str) -> dict[str, int]:
        if name not in self._indexes:
            self._indexes[name] = {v: i for i, v in enumerate(getattr(self, f"{name}_values"))}
        return self._indexes[name]

    def _used(self, values: str, as_: str) -> np.ndarray:
        """For each of the ``values`` column's names (and code −1), how many profiles have
        it in the ``as_`` column."""
        counts = self.counts.get(as_, np.zeros(0, np.int64))
        if values == as_:
            return np.append(counts, 0)
        index = self._index(as_)
        codes = [index.get(v, -1) for v in getattr(self, f"{values}_values")]
        return np.array([int(counts[c]) if c >= 0 else 0 for c in codes] + [0], np.int64)

    @cached_property
    def name_use(self) -> dict[tuple[str, str], np.ndarray]:
        """(the column a name is in, the column counted) → how many profiles have each name
        there, by code (code −1 indexes a 0 at the end): ("given", "family") counts each
        given name as a family name."""
        cols = ("given", "family")
        return {(values, as_): self._used(values, as_) for values in cols for as_ in cols}

    def strings(self, name: str, idx: np.ndarray) -> np.ndarray:
        values = np.array([*getattr(self, f"{name}_values"), ""], dtype=object)
        return values[getattr(self, name)[idx]]

    def nickname(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Whether given names a and b (codes) are nicknames of one name: Bob/Robert."""
        out = np.zeros(len(a), bool)
        if not len(self.nick_pairs):
            return out
        k = len(self.given_values) + 1
        key = np.minimum(a, b) * k + np.maximum(a, b)
        pos = np.searchsorted(self.nick_pairs, key).clip(max=len(self.nick_pairs) - 1)
        return (a >= 0) & (b >= 0) & (self.nick_pairs[pos] == key)


def build_features(columns: Mapping[str, Sequence[Any]], shared_limit: int = 5) -> Features:
    """Features from columns of records (each a list, one value per record)."""
    n_records = len(columns["given_name"])
    rows = list(zip(*(columns.get(f) or [None] * n_records for f in IDENTITY), strict=False))
    record_profile, profiles = factorize(rows)
    first = np.full(len(profiles), -1, np.int64)
    first[record_profile[::-1]] = np.arange(n_records)[::-1]  # first record of each profile
    cols = list(zip(*profiles, strict=False)) if profiles else [()] * len(IDENTITY)
    col = dict(zip(IDENTITY, cols, strict=False))
    given, given_values = _coded(col["given_name"], given_key)
    family, family_values = _coded(col["family_name"], family_key)
    email, _ = _coded(col["email"], email_key)
    phone, _ = _coded(col["phone"], phone_key)
    address, address_values = _coded(col["address"], address_key)
    pc_codes, pcs = factorize(col["postcode"])
    postcode = pc_codes
    sector = recode(pc_codes, pcs, lambda p: sector_of(str(p)))[0]
    district = recode(pc_codes, pcs, lambda p: district_of(str(p)))[0]
    dob_codes, dobs = factorize(col["date_of_birth"])
    parts = np.array([dob_parts(str(d)) for d in dobs] + [(0, 0, 0)], dtype=np.int16)
    dob = parts[dob_codes]
    dob_code = np.where(dob[:, 0] > 0, dob_codes, -1)
    feats = Features(
        len(profiles),
        record_profile,
        first,
        given,
        given_values,
        family,
        family_values,
        dob,
        dob_code,
        postcode,
        sector,
        district,
        email,
        phone,
        address,
        address_values,
        np.zeros(len(profiles), bool),
    )
    feats.profiles = profiles
    feats.shared = {
        "email": _drop_shared(feats, "email", shared_limit),
        "phone": _drop_shared(feats, "phone", shared_limit),
    }
    named = (feats.given >= 0) | (feats.family >= 0)
    other = (
        (dob_code >= 0) | (postcode >= 0) | (feats.email >= 0) | (feats.phone >= 0) | (address >= 0)
    )
    feats.matchable = named & other
    for name in ("given", "family", "dob_code", "postcode", "email", "phone", "address"):
        codes = getattr(feats, name)
        feats.counts[name] = np.bincount(codes[codes >= 0], minlength=codes.max(initial=-1) + 1)
    _nicknames(feats)
    return feats


def _coded(values: Sequence[object], key) -> tuple[np.ndarray, list[str]]:
    codes, uniques = factorize(values)
    return recode(codes, uniques, lambda v: key(str(v)))  # type: ignore[return-value]


def _drop_shared(feats: Features, name: str, limit: int) -> int:
    """Blank an email or phone that many different names use; return how many were."""
    codes = getattr(feats, name)
    has = codes >= 0
    if not has.any():
        return 0
    person = (feats.given + 1) * (len(feats.family_values) + 1) + feats.family + 1
    pairs = np.unique(np.stack([codes[has], person[has]], axis=1), axis=0)
    names_per_value = np.bincount(pairs[:, 0], minlength=codes.max() + 1)
    shared = names_per_value >= limit
    codes[has & shared[np.maximum(codes, 0)]] = -1
    return int(shared.sum())


def _nicknames(feats: Features) -> None:
    """Pairs of distinct given names (codes) that share a formal name (in sound-alike
    spelling), sorted as keys."""
    feats.given_groups = [name_group(g) for g in feats.given_values]
    members: dict[str, list[int]] = {}
    for code, value in enumerate(feats.given_values):
        for name in spelled_group(value):
            members.setdefault(name, []).append(code)
    k = len(feats.given_values) + 1
    keys = {
        min(a, b) * k + max(a, b)
        for codes in members.values()
        if 1 < len(codes) <= 200
        for i, a in enumerate(codes)
        for b in codes[i + 1 :]
    }
    feats.nick_pairs = np.array(sorted(keys), dtype=np.int64)
