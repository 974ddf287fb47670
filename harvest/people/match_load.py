"""What a match reads: every current record's identifying values, as profiles.

``load`` reads every current record and builds the features (features.py); a re-sync's
``load_cached`` starts from the profiles the last match kept (match_cache.py) and reads
only the records changed since. Either gives a ``Loaded``: the record ids, their person
ids, the features, and each profile's ``profile_hash``, the stable key that
``match_pairs`` and review decisions name profiles by.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlite_utils

from harvest.config import MatchingConfig
from harvest.people import match_cache
from harvest.people.features import IDENTITY, IDENTITY_SQL, Features, build_features


class HashIndex:
    """Profile hash → profile index (of the last profile with that hash, as a dict keeps)."""

    def __init__(self, hashes: np.ndarray) -> None:
        self.order = np.argsort(hashes, kind="stable")
        self.sorted = hashes[self.order]

    def find(self, hashes: np.ndarray) -> np.ndarray:
        """The index of each hash, −1 for the ones no current profile has."""
        if not len(self.sorted):
            return np.full(len(hashes), -1, np.int64)
        pos = np.maximum(np.searchsorted(self.sorted, hashes, "right") - 1, 0)
        return np.where(self.sorted[pos] == hashes, self.order[pos], -1)

    def get(self, h: int, default: int | None = None) -> int | None:
        i = int(self.find(np.array([h], np.int64))[0])
        return default if i < 0 else i


@dataclass
class Loaded:
    """Current records' ids, person ids and identifying features."""

    ids: np.ndarray
    person: np.ndarray | None  # None until needed, when the profiles came from the cache
    feats: Features
    hashes: np.ndarray  # per profile: a stable 63-bit hash of its identifying values
    index: HashIndex  # profile hash → profile index
    kept: bool = False  # the profiles are kept for the next match (match_cache.write)
    changes: match_cache.Changes | None = None  # since the cache was kept
    before: match_cache.Profiles | None = None  # the cache as it was kept


def profile_hash(values: tuple) -> int:
    text = "\x1f".join("" if v is None else str(v) for v in values)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big") >> 1


def load(db: sqlite_utils.Database, settings: MatchingConfig, keep: bool = False) -> Loaded:
    """Every current record, read and built into features; with ``keep``, also the cache."""
    rows = db.execute(
        f"SELECT id, coalesce(person_id, 0), {IDENTITY_SQL} FROM records WHERE is_current = 1 ORDER BY id"
    ).fetchall()
    columns: dict[str, Sequence[Any]] = (
        dict(zip(("id", "person_id", *IDENTITY), zip(*rows, strict=False), strict=False))
        if rows
        else {}
    )
    del rows
    ids = np.array(columns.pop("id", ()), dtype=np.int64)
    person = np.array(columns.pop("person_id", ()), dtype=np.int64)
    if not len(ids):
        columns = {f: [] for f in IDENTITY}
    feats = build_features(columns, settings.shared_value_limit)
    del columns
    hashes = np.fromiter((profile_hash(p) for p in feats.profiles), np.int64, feats.n)
    kept = keep and _keep_profiles(db, match_cache.from_load(feats, ids, hashes))
    feats.profiles = []
    return Loaded(ids, person, feats, hashes, HashIndex(hashes), kept)


def load_cached(
    db: sqlite_utils.Database, settings: MatchingConfig, cache: match_cache.Profiles
) -> Loaded:
    """The same as ``load``, from the kept profiles and the records changed since (which
    are kept again at once: the profiles are final before anything is matched)."""
    before = match_cache.snapshot(cache)
    cache, changes = match_cache.update(db, cache, profile_hash)
    feats = match_cache.features(cache, settings.shared_value_limit)
    old = changes.old_index >= 0
    changes.matchable_changed = np.zeros(feats.n, bool)
    changes.matchable_changed[old] = cache.matchable[old] != feats.matchable[old]
    cache.matchable = feats.matchable.copy()
    kept = _keep_profiles(db, cache)
    index = HashIndex(cache.hashes)
    return Loaded(cache.ids, None, feats, cache.hashes, index, kept, changes, before)


def _keep_profiles(db: sqlite_utils.Database, cache: match_cache.Profiles) -> bool:
    """Keep the profiles for the next match; when they cannot be, keep nothing."""
    if match_cache.write(db, cache):
        return True
    db.execute("DELETE FROM match_cache")
    return False


def _load_any(db: sqlite_utils.Database, settings: MatchingConfig, keep: bool) -> Loaded:
    cache = match_cache.read(db)
    return load_cached(db, settings, cache) if cache else load(db, settings, keep)


def _person(db: sqlite_utils.Database, data: Loaded) -> np.ndarray:
    """Every current record's person id (0 for none), in the order of ``data.ids``."""
    if data.person is None:
        rows = db.execute(
            "SELECT id, coalesce(person_id, 0) FROM records WHERE is_current = 1 ORDER BY id"
        ).fetchall()
        table = np.array(rows, np.int64).reshape(-1, 2)
        if not np.array_equal(table[:, 0], data.ids):
            raise RuntimeError("the current records changed while matching")
        data.person = table[:, 1]
    return data.person
