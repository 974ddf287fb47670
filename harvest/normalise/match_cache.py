"""The last match's profiles, kept so that a re-sync reads only the records it added.

Reading every record and building its features is most of what a re-sync's match
costs when it added a few records. So each match keeps its *profiles* in the store:
each profile's codes, the distinct values the codes stand for, and which records
have it. The next match reads them back, adds the profiles of records that landed
since (and drops records that are no longer current, listed in ``match_flips``),
and makes exactly the features `build_features` would have made from every record:
the same profiles in the same order, the same codes. They are kept as numpy arrays,
a row of ``match_cache`` each; a match that only added profiles writes just what it
added, as one more part, and the whole is written again now and then.

The cache is personal data (names, emails, addresses), so it lives in the store and
goes with the records it came from: triggers empty it whenever a record is deleted
(`harvest forget`, retention) or its identifying values are edited, and the next
match then reads every record again (see ``ensure_match_cache`` in store.py).

Beside the profiles the cache keeps a *stamp*: the thresholds and review decisions
the stored people were clustered with, and how many people there were. While the
stamp still holds, a re-sync re-clusters only the people its new records touch.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import sqlite_utils

from harvest.normalise.features import (
    IDENTITY,
    Features,
    _drop_shared,
    _nicknames,
    address_key,
    dob_parts,
    email_key,
    family_key,
    given_key,
    phone_key,
)
from harvest.store import ensure_match_cache

VERSION = 1
SEGMENTS = 16  # parts appended before the whole cache is written again
KEYED: dict[str, tuple[str, Callable[[str], str | None]]] = {  # field → (column, key)
    "given": ("given_name", given_key),
    "family": ("family_name", family_key),
    "email": ("email", email_key),
    "phone": ("phone", phone_key),
    "address": ("address", address_key),
}
RAW = {"postcode": "postcode", "dob": "date_of_birth"}  # factorised as they are
STRINGS = (*KEYED, *RAW, "sector", "district")
SEP = "\x00"


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


@dataclass
class Changes:
    """What changed among the records since the cache was kept."""

    gone: np.ndarray  # ids of records no longer current
    added: np.ndarray  # ids of records new or current again
    back: np.ndarray  # profiles of records current again (not new)
    vanished: np.ndarray  # hashes of profiles no current record has any more
    old_index: np.ndarray  # profile → its index in the cache, −1 when new
    matchable_changed: np.ndarray | None = None  # profile → (un)matchable since


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


def _sector(postcode: str) -> str:
    return str(postcode)[:-2]


def _district(postcode: str) -> str:
    return str(postcode).split(" ")[0]


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


# --- bringing it up to date ------------------------------------------------------------


def snapshot(p: Profiles) -> Profiles:
    """A copy that ``update`` leaves as it is (it replaces arrays, and extends lists)."""
    return dataclasses.replace(
        p, codes=dict(p.codes), values={k: list(v) for k, v in p.values.items()}
    )


def update(db: sqlite_utils.Database, p: Profiles, profile_hash) -> tuple[Profiles, Changes]:
    """The cache with the records that landed, came back or went since it was kept."""
    flips = _flips(db, p)
    gone = np.isin(p.ids, flips[flips[:, 1] == 0, 0])
    went = p.ids[gone]
    back = flips[(flips[:, 1] == 1) & ~np.isin(flips[:, 0], p.ids), 0]
    old_n = p.n
    added_ids, added_profiles = _add_profiles(db, p, _added(db, p.covered, back), profile_hash)
    p.covered = max(p.covered, int(added_ids.max(initial=0)))
    back_profiles = added_profiles[np.isin(added_ids, back)]
    p.ids = np.concatenate([p.ids[~gone], added_ids])
    p.record_profile = np.concatenate([p.record_profile[~gone], added_profiles])
    if not gone.any() and not len(back):
        old_index = np.r_[np.arange(old_n), np.full(p.n - old_n, -1)]
        return p, Changes(went, added_ids, back_profiles, np.zeros(0, np.int64), old_index)
    hashes = p.hashes
    order = np.argsort(p.ids, kind="stable")
    p.ids, p.record_profile = p.ids[order], p.record_profile[order]
    keep = _reorder(p)
    remap = np.full(len(hashes), -1, np.int64)
    remap[keep] = np.arange(len(keep))
    vanished = hashes[:old_n][remap[:old_n] < 0]
    old_index = np.where(keep < old_n, keep, -1)
    return p, Changes(went, added_ids, remap[back_profiles], vanished, old_index)


def _flips(db: sqlite_utils.Database, p: Profiles) -> np.ndarray:
    """(record id, is_current now) of records at or below ``covered`` whose state changed."""
    rows = db.execute(
        "SELECT f.record_id, coalesce(r.is_current, 0) FROM match_flips f"
        " LEFT JOIN records r ON r.id = f.record_id WHERE f.record_id <= ?",
        [p.covered],
    ).fetchall()
    return np.array(rows, np.int64).reshape(-1, 2)


def _added(db: sqlite_utils.Database, covered: int, back) -> list[tuple]:
    cols = ", ".join(f"[{f}]" for f in IDENTITY)
    rows = db.execute(
        f"SELECT id, {cols} FROM records WHERE is_current = 1 AND id > ? ORDER BY id", [covered]
    ).fetchall()
    back = [int(i) for i in back]
    for i in range(0, len(back), 500):
        chunk = back[i : i + 500]
        rows += db.execute(
            f"SELECT id, {cols} FROM records WHERE id IN ({','.join('?' * len(chunk))})", chunk
        ).fetchall()
    return sorted(rows)


def _add_profiles(
    db: sqlite_utils.Database, p: Profiles, rows: list[tuple], profile_hash
) -> tuple[np.ndarray, np.ndarray]:
    """Each added record's profile, appending the profiles (and values) not seen before."""
    ids = np.array([r[0] for r in rows], np.int64)
    if not rows:
        return ids, np.zeros(0, np.int64)
    tuples = [r[1:] for r in rows]
    hashes = np.array([profile_hash(t) for t in tuples], np.int64)
    known = _known(db, p, tuples, hashes)
    found: dict[tuple, int] = {}
    fresh: list[tuple] = []
    out = np.empty(len(rows), np.int64)
    for i, (t, h) in enumerate(zip(tuples, hashes.tolist(), strict=True)):
        if t not in found:
            found[t] = known.get(t, p.n + len(fresh))
            if found[t] == p.n + len(fresh):
                fresh.append((h, t))
        out[i] = found[t]
    if fresh:
        _append(p, fresh)
    return ids, out


def _known(db: sqlite_utils.Database, p: Profiles, tuples: list[tuple], hashes) -> dict:
    """The cached profiles these values belong to: same hash, and the same values as the
    profile's first record (so a None is never taken for an '')."""
    order = np.argsort(p.hashes, kind="stable")
    lo = np.searchsorted(p.hashes[order], hashes, "left")
    hi = np.searchsorted(p.hashes[order], hashes, "right")
    candidates = sorted({int(j) for a, b in zip(lo, hi, strict=True) for j in order[a:b]})
    if not candidates:
        return {}
    first = np.full(p.n, len(p.ids), np.int64)
    np.minimum.at(first, p.record_profile, np.arange(len(p.record_profile)))
    record = {int(p.ids[first[c]]): c for c in candidates}
    cols = ", ".join(f"[{f}]" for f in IDENTITY)
    out: dict[tuple, int] = {}
    ids = list(record)
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        for rid, *values in db.execute(
            f"SELECT id, {cols} FROM records WHERE id IN ({','.join('?' * len(chunk))})", chunk
        ).fetchall():
            out.setdefault(tuple(values), record[rid])
    return out


def _append(p: Profiles, fresh: list[tuple]) -> None:
    """Code new profiles as build_features would, values not seen before coming last."""
    cols = dict(zip(IDENTITY, zip(*(f[1] for f in fresh), strict=True), strict=True))
    new: dict[str, list[int]] = {}
    for name, (column, key) in KEYED.items():
        new[name] = _code_all(p.values[name], cols[column], key)
    new["dob"] = _code_all(p.values["dob"], cols["date_of_birth"], str)
    p.dob_parts = np.vstack(
        [p.dob_parts]
        + [np.array([dob_parts(v)], np.int16) for v in p.values["dob"][len(p.dob_parts) :]]
    )
    known = len(p.values["postcode"])
    new["postcode"] = _code_all(p.values["postcode"], cols["postcode"], str)
    added = p.values["postcode"][known:]
    p.sector_of = np.r_[p.sector_of, _code_all(p.values["sector"], added, _sector)]
    p.district_of = np.r_[p.district_of, _code_all(p.values["district"], added, _district)]
    for name, codes in new.items():
        p.codes[name] = np.r_[p.codes[name], np.array(codes, np.int64)]
    p.hashes = np.r_[p.hashes, np.array([f[0] for f in fresh], np.int64)]
    p.matchable = np.r_[p.matchable, np.zeros(len(fresh), bool)]


def _code_all(values: list[str], column: Sequence[object], key) -> list[int]:
    """Codes of these raw values in ``values`` (extended with the ones not seen before)."""
    keys = [None if raw is None or raw == "" else key(str(raw)) or None for raw in column]
    wanted = set(keys)
    index = {v: i for i, v in enumerate(values) if v in wanted}
    out = []
    for k in keys:
        if k is None:
            out.append(-1)
            continue
        code = index.get(k)
        if code is None:
            code = index[k] = len(values)
            values.append(k)
        out.append(code)
    return out


def _reorder(p: Profiles) -> np.ndarray:
    """Drop profiles with no current record, order the rest by their first record and
    number every value again by first sight; return the old index of each profile."""
    p.saved = None  # renumbered: the whole cache is written again
    alive = np.bincount(p.record_profile, minlength=p.n) > 0
    first = np.full(p.n, len(p.record_profile), np.int64)
    np.minimum.at(first, p.record_profile, np.arange(len(p.record_profile)))
    keep = np.flatnonzero(alive)
    keep = keep[np.argsort(first[keep], kind="stable")]
    remap = np.full(p.n, -1, np.int64)
    remap[keep] = np.arange(len(keep))
    p.record_profile = remap[p.record_profile]
    p.hashes, p.matchable = p.hashes[keep], p.matchable[keep]
    for name in (*KEYED, "dob", "postcode"):
        p.codes[name], p.values[name], used = _first_sight(p.codes[name][keep], p.values[name])
        if name == "dob":
            p.dob_parts = p.dob_parts[used]
        if name == "postcode":
            p.sector_of, p.district_of = p.sector_of[used], p.district_of[used]
    p.sector_of, p.values["sector"], _ = _first_sight(p.sector_of, p.values["sector"])
    p.district_of, p.values["district"], _ = _first_sight(p.district_of, p.values["district"])
    return keep


def _first_sight(codes: np.ndarray, values: list[str]) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Codes numbered again in order of first sight, values no code uses dropped."""
    at = np.flatnonzero(codes >= 0)
    present, first = np.unique(codes[at], return_index=True)
    used = present[np.argsort(first, kind="stable")]
    table = np.full(len(values) + 1, -1, np.int64)
    table[used] = np.arange(len(used))
    return table[codes], [values[i] for i in used.tolist()], used


# --- the store ---------------------------------------------------------------------------


def read(db: sqlite_utils.Database) -> Profiles | None:
    """The kept profiles, or None when there are none (first match, or after a forget)."""
    if not db["match_cache"].exists():
        return None
    parts: dict[str, dict] = {}
    for name, value in db.execute(
        "SELECT name, value FROM match_cache WHERE name GLOB 'p[0-9][0-9][0-9]:*' ORDER BY name"
    ):
        parts.setdefault(name[:4], {})[name[5:]] = value
    if "p000" not in parts:
        return None
    metas = [json.loads(part.pop("meta")) for part in parts.values()]
    if any(meta.get("version") != VERSION for meta in metas):
        return None
    arrays = {
        key: np.concatenate(
            [
                _array(part[key], meta["arrays"][key])
                for part, meta in zip(parts.values(), metas, strict=True)
            ]
        )
        for key in metas[0]["arrays"]
    }
    values = {
        name: [
            v
            for part, meta in zip(parts.values(), metas, strict=True)
            for v in _strings(part[f"s_{name}"], meta["sizes"][name])
        ]
        for name in STRINGS
    }
    last = list(parts.values())[-1]
    p = Profiles(
        covered=metas[-1]["covered"],
        codes={name: arrays.pop(f"c_{name}").astype(np.int64) for name in (*KEYED, *RAW)},
        values=values,
        matchable=_array(last["matchable"], metas[-1]["matchable"]).copy(),
        **{k: v.astype(np.int64) if v.dtype == np.int32 else v for k, v in arrays.items()},
    )
    p.saved = _saved(p, len(parts) - 1)
    return p


def _array(blob: bytes, shape_dtype: list) -> np.ndarray:
    shape, dtype = shape_dtype
    return np.frombuffer(blob, dtype=dtype).reshape(shape)


def _strings(blob: bytes, size: int) -> list[str]:
    return blob.decode().split(SEP) if size else []


def _saved(p: Profiles, parts: int) -> dict:
    sizes = {name: len(values) for name, values in p.values.items()}
    return {"records": len(p.ids), "profiles": p.n, "values": sizes, "parts": parts}


def write(db: sqlite_utils.Database, p: Profiles) -> bool:
    """Keep these profiles for the next match; False (and nothing kept) when they cannot be
    (a value that is not a string, or holds the separator). When the profiles were read
    from the store and only grew, only what they grew by is written, as one more part.
    Each array is a row of its own, so that writing never holds a copy of everything."""
    ensure_match_cache(db)
    whole = p.saved is None or p.saved["parts"] + 1 >= SEGMENTS
    start = p.saved if not whole else {"records": 0, "profiles": 0, "parts": 0}
    start.setdefault("values", dict.fromkeys(STRINGS, 0))
    part = "p000" if whole else f"p{start['parts'] + 1:03d}"
    if whole:
        db.execute("DELETE FROM match_cache WHERE name GLOB 'p[0-9][0-9][0-9]:*'")
    meta: dict = {"version": VERSION, "covered": p.covered, "sizes": {}, "arrays": {}}
    for name in STRINGS:
        values = p.values[name][start["values"][name] :]
        try:
            text = SEP.join(values)
        except TypeError:  # not a string: identifying columns are TEXT, so never expected
            return False
        if text.count(SEP) != max(len(values) - 1, 0):
            return False
        _put(db, part, f"s_{name}", text.encode())
        meta["sizes"][name] = len(values)
    for key, array in _tail(p, start):
        _put(db, part, key, array.tobytes())
        if key != "matchable":
            meta["arrays"][key] = [array.shape, array.dtype.str]
    meta["matchable"] = [p.matchable.shape, p.matchable.dtype.str]
    _put(db, part, "meta", json.dumps(meta).encode())
    db.execute("DELETE FROM match_flips")
    p.saved = _saved(p, int(part[1:]))
    return True


def _put(db: sqlite_utils.Database, part: str, key: str, value: bytes) -> None:
    db.execute(
        "INSERT OR REPLACE INTO match_cache (name, value) VALUES (?, ?)", [f"{part}:{key}", value]
    )


def _tail(p: Profiles, start: dict):
    """(name, array) of what was added after ``start``, one at a time; and every
    profile's matchable."""
    r, n = start["records"], start["profiles"]
    pcs, dobs = start["values"]["postcode"], start["values"]["dob"]
    for name, codes in p.codes.items():
        yield f"c_{name}", codes[n:].astype(np.int32)
    yield "ids", p.ids[r:]
    yield "record_profile", p.record_profile[r:].astype(np.int32)
    yield "hashes", p.hashes[n:]
    yield "sector_of", p.sector_of[pcs:].astype(np.int32)
    yield "district_of", p.district_of[pcs:].astype(np.int32)
    yield "dob_parts", p.dob_parts[dobs:]
    yield "matchable", p.matchable


def decisions_seen(db: sqlite_utils.Database) -> list[int]:
    """A fingerprint of the review decisions: any new, undone or deleted one changes it."""
    row = db.execute(
        "SELECT count(*), coalesce(max(id), 0), count(undone_at) FROM match_decisions"
    ).fetchone()
    return [int(x) for x in row]


def stamp(db: sqlite_utils.Database, merge_above: float, max_size: int, people: int) -> None:
    """Record what the stored people were clustered with (after the profiles are kept)."""
    value = {
        "merge_above": merge_above,
        "max_size": max_size,
        "decisions": decisions_seen(db),
        "people": people,
    }
    db.execute(
        "INSERT OR REPLACE INTO match_cache (name, value) VALUES ('stamp', ?)",
        [json.dumps(value).encode()],
    )


def read_stamp(db: sqlite_utils.Database, merge_above: float, max_size: int) -> dict | None:
    """The stamp, when the stored people were clustered exactly as they would be now.
    Anything else that changes how profiles are clustered belongs in the stamp too."""
    row = db.execute("SELECT value FROM match_cache WHERE name = 'stamp'").fetchone()
    if row is None:
        return None
    value = json.loads(row[0])
    same = (
        value["merge_above"] == merge_above
        and value["max_size"] == max_size
        and value["decisions"] == decisions_seen(db)
    )
    return value if same else None
