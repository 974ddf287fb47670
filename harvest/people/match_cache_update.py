"""Bringing the kept profiles up to date with the records changed since they were kept.

``update`` drops the records no longer current (listed in ``match_flips``), adds the
ones that landed or came back, codes new profiles as build_features would, and when
profiles went, numbers everything again by first sight; ``Changes`` says what changed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import sqlite_utils

from harvest.people.features import IDENTITY, IDENTITY_SQL, dob_parts
from harvest.people.match_cache_build import KEYED, Profiles, _district, _sector


@dataclass
class Changes:
    """What changed among the records since the cache was kept."""

    gone: np.ndarray  # ids of records no longer current
    added: np.ndarray  # ids of records new or current again
    back: np.ndarray  # profiles of records current again (not new)
    vanished: np.ndarray  # hashes of profiles no current record has any more
    old_index: np.ndarray  # profile → its index in the cache, −1 when new
    matchable_changed: np.ndarray | None = None  # profile → (un)matchable since


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
    cols = IDENTITY_SQL
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
    cols = IDENTITY_SQL
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
    p.sector_of = _extend(p.sector_of, _code_all(p.values["sector"], added, _sector))
    p.district_of = _extend(p.district_of, _code_all(p.values["district"], added, _district))
    for name, codes in new.items():
        p.codes[name] = _extend(p.codes[name], codes)
    p.hashes = _extend(p.hashes, [f[0] for f in fresh])
    p.matchable = _extend(p.matchable, [False] * len(fresh))


def _extend(array: np.ndarray, more: Sequence[object]) -> np.ndarray:
    """``array`` with ``more`` after it, in ``array``'s dtype: joining an integer array
    with an empty list must not turn it into floats, which cannot index."""
    return np.concatenate([array, np.asarray(more, dtype=array.dtype)])


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
