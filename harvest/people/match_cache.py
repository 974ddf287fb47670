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
match then reads every record again (see ``ensure_match_cache`` in store_schema.py).

Beside the profiles the cache keeps a *stamp*: the thresholds and review decisions
the stored people were clustered with, and how many people there were. While the
stamp still holds, a re-sync re-clusters only the people its new records touch.

This module reads and writes the cache and its stamp. The profiles themselves, and
the features made from them, are in match_cache_build.py; bringing them up to date,
in match_cache_update.py. Their functions are named here too (``match_cache.update``).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import sqlite_utils

from harvest.people.match_cache_build import KEYED, RAW, STRINGS, Profiles
from harvest.people.match_cache_build import features as features  # re-exported
from harvest.people.match_cache_build import from_load as from_load  # re-exported
from harvest.people.match_cache_update import Changes as Changes  # re-exported
from harvest.people.match_cache_update import snapshot as snapshot  # re-exported
from harvest.people.match_cache_update import update as update  # re-exported
from harvest.store_schema import ensure_match_cache

VERSION = 1
SEGMENTS = 16  # parts appended before the whole cache is written again
SEP = "\x00"


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
    codes = {name: arrays.pop(f"c_{name}").astype(np.int64) for name in (*KEYED, *RAW)}
    # The rest are Profiles' array fields (ids, hashes, ...), by name: Any, as mypy cannot
    # tell which keyword each key fills.
    rest: dict[str, Any] = {
        k: v.astype(np.int64) if v.dtype == np.int32 else v for k, v in arrays.items()
    }
    p = Profiles(
        covered=metas[-1]["covered"],
        codes=codes,
        values=values,
        matchable=_array(last["matchable"], metas[-1]["matchable"]).copy(),
        **rest,
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
    # p.saved is None only when whole; the second test is for mypy.
    start: dict[str, Any] = (
        {"records": 0, "profiles": 0, "parts": 0} if whole or p.saved is None else p.saved
    )
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
