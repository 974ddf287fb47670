"""The kept profiles as arrays (``Profiles``): made from a full load, turned into features.

``from_load`` takes the profiles of a full load (build_features) apart into codes and
the values they stand for; ``features`` makes from them exactly the features
`build_features` would make from every record. match_cache.py keeps them in the store,
match_cache_update.py brings them up to date with the records changed since.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from harvest.people.features import (
    IDENTITY,
    Features,
    _drop_shared,
    _nicknames,
    address_key,
    district_of,
    email_key,
    family_key,
    given_key,
    phone_key,
    sector_of,
)

KEYED: dict[str, tuple[str, Callable[[str], str | None]]] = {  # field → (column, key)
    "given": ("given_name", given_key),
    "family": ("family_name", family_key),
    "email": ("email", email_key),
    "phone": ("phone", phone_key),
    "address": ("address", address_key),
}
RAW = {"postcode": "postcode", "dob": "date_of_birth"}  # factorised as they are
STRINGS = (*KEYED, *RAW, "sector", "district")


@dataclass
class Profiles:
    """Every profile of the current records, as build_features numbers them."""

    covered: int  # the highest record id read
    ids: np.ndarray  # current record ids, ascending
    record_profile: np.ndarray
    hashes: np.ndarray  # profile → its hash (match_pairs.profile_a and profile_b)
    codes: dict[str, np.ndarray]  # email and phone before shared ones are blanked
    values: dict[str, list[str]]  # the distinct values, in code order
    sector_of: np.ndarray  # postcode code → sector code
    district_of: np.ndarray
    dob_parts: np.ndarray  # dob code → (year, month, day); zeros when not a date
    matchable: np.ndarray
    saved: dict | None = None  # how much of this is in the store already (None: none)

    @property
    def n(self) -> int:
        return len(self.hashes)


# --- from a full load ---------------------------------------------------------------------


def from_load(feats: Features, ids: np.ndarray, hashes: np.ndarray) -> Profiles:
    """The cache of a full load (``feats.profiles`` still set).

    Identifying columns are TEXT, so values are strings or None; email_key and
    phone_key give a usable value back unchanged, so a kept code's value is the raw
    value of its first profile."""
    rows = feats.profiles
    codes = {"given": feats.given, "family": feats.family, "address": feats.address}
    values = {name: list(getattr(feats, f"{name}_values")) for name in codes}
    for name, kept in (("email", feats.email), ("phone", feats.phone)):
        codes[name], values[name] = _restore(kept, rows, name, KEYED[name][1])
    codes["postcode"], values["postcode"] = _restore(feats.postcode, rows, "postcode")
    codes["dob"], values["dob"] = _restore(feats.dob_code, rows, "date_of_birth", str)
    parts = np.zeros((len(values["dob"]), 3), np.int16)
    has = feats.dob_code >= 0
    parts[feats.dob_code[has]] = feats.dob[has]
    sector_of, values["sector"] = _per_postcode(
        feats.postcode, feats.sector, values["postcode"], _sector
    )
    district_of, values["district"] = _per_postcode(
        feats.postcode, feats.district, values["postcode"], _district
    )
    return Profiles(
        covered=int(ids.max(initial=0)),
        ids=ids,
        record_profile=feats.record_profile,
        hashes=hashes,
        codes=codes,
        values=values,
        sector_of=sector_of,
        district_of=district_of,
        dob_parts=parts,
        matchable=feats.matchable.copy(),
    )


def _restore(kept: np.ndarray, rows: list[tuple], field: str, key=None) -> tuple[np.ndarray, list]:
    """Codes and values as factorised, before build_features blanked some codes (an email
    many names share, a date that is not one; ``key`` tells those from blanks): codes
    are ranks of first sight, so the blanked values fill the gaps in the kept codes, in
    the order they were first seen."""
    i = IDENTITY.index(field if field in IDENTITY else KEYED[field][0])
    codes = kept.astype(np.int64)
    present, first = _first_of_each(codes)
    dropped: dict[str, int] = {}
    where = []
    for p in np.flatnonzero(kept < 0).tolist() if key else ():
        value = rows[p][i]
        k = None if value is None or value == "" else key(value)
        if k is not None:
            where.append((p, dropped.setdefault(k, len(dropped))))
    total = len(present) + len(dropped)
    gaps = np.setdiff1d(np.arange(total), present)
    if len(gaps) != len(dropped):
        raise ValueError("codes are not ranks of first sight")
    for p, j in where:
        codes[p] = gaps[j]
    values: list = [None] * total
    for c, p in zip(present.tolist(), first.tolist(), strict=True):
        values[c] = rows[p][i]
    for k, j in dropped.items():
        values[int(gaps[j])] = k
    return codes, values


def _sector(postcode: str) -> str | None:
    return sector_of(str(postcode))


def _district(postcode: str) -> str | None:
    return district_of(str(postcode))


def _per_postcode(postcode, derived, pcs: list[str], fn) -> tuple[np.ndarray, list[str]]:
    """Each postcode's sector (or district) code, and the sectors' values."""
    of = np.full(len(pcs), -1, np.int64)
    has = postcode >= 0
    of[postcode[has]] = derived[has]
    values: list[str] = [""] * int(of.max(initial=-1) + 1)
    for c, i in zip(*(a.tolist() for a in _first_of_each(of)), strict=True):
        values[c] = fn(pcs[i])
    return of, values


def _first_of_each(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The codes used (ascending) and where each is first seen."""
    at = np.flatnonzero(codes >= 0)
    first = np.full(int(codes.max(initial=-1)) + 1, -1, np.int64)
    first[codes[at][::-1]] = at[::-1]
    present = np.flatnonzero(first >= 0)
    return present, first[present]


# --- the features ----------------------------------------------------------------------


def features(p: Profiles, shared_limit: int) -> Features:
    """The features `build_features` makes from the same records (tested to be equal)."""
    c = p.codes
    rp = p.record_profile.astype(np.int64)
    first = np.full(p.n, -1, np.int64)
    first[rp[::-1]] = np.arange(len(rp))[::-1]
    parts = np.vstack([p.dob_parts, np.zeros((1, 3), np.int16)]).astype(np.int16)
    dob = parts[c["dob"]]
    feats = Features(
        p.n,
        rp,
        first,
        c["given"].astype(np.int64),
        p.values["given"],
        c["family"].astype(np.int64),
        p.values["family"],
        dob,
        np.where(dob[:, 0] > 0, c["dob"], -1).astype(np.int64),
        c["postcode"].astype(np.int64),
        np.append(p.sector_of, -1)[c["postcode"]].astype(np.int64),
        np.append(p.district_of, -1)[c["postcode"]].astype(np.int64),
        c["email"].astype(np.int64),
        c["phone"].astype(np.int64),
        c["address"].astype(np.int64),
        p.values["address"],
        np.zeros(p.n, bool),
    )
    _finish(feats, shared_limit)
    return feats


def _finish(feats: Features, shared_limit: int) -> None:
    """What build_features works out over every profile once the codes are known."""
    feats.shared = {
        "email": _blank_shared(feats, "email", shared_limit),
        "phone": _blank_shared(feats, "phone", shared_limit),
    }
    named = (feats.given >= 0) | (feats.family >= 0)
    other = (
        (feats.dob_code >= 0)
        | (feats.postcode >= 0)
        | (feats.email >= 0)
        | (feats.phone >= 0)
        | (feats.address >= 0)
    )
    feats.matchable = named & other
    for name in ("given", "family", "dob_code", "postcode", "email", "phone", "address"):
        codes = getattr(feats, name)
        feats.counts[name] = np.bincount(codes[codes >= 0], minlength=codes.max(initial=-1) + 1)
    _nicknames(feats)


def _blank_shared(feats: Features, name: str, limit: int) -> int:
    """features._drop_shared, with one sort of integers instead of rows."""
    codes = getattr(feats, name)
    has = codes >= 0
    if not has.any():
        return 0
    width = (len(feats.given_values) + 1) * (len(feats.family_values) + 1)
    if (int(codes.max()) + 1) * width >= 2**62:
        return _drop_shared(feats, name, limit)
    person = (feats.given + 1) * (len(feats.family_values) + 1) + feats.family + 1
    pairs = np.sort(codes[has] * width + person[has])
    pairs = pairs[np.r_[True, pairs[1:] != pairs[:-1]]]
    names_per_value = np.bincount(pairs // width, minlength=codes.max() + 1)
    shared = names_per_value >= limit
    codes[has & shared[np.maximum(codes, 0)]] = -1
    return int(shared.sum())
