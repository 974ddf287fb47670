"""Candidate pairs: profiles that share at least one cheap exact key.

Never all pairs. Each key puts profiles into blocks; every pair inside a block is a
candidate, and the candidates are the union over keys. A block larger than the
cap (a very common name in one postcode, a dummy date) is skipped for that key:
its pairs usually share another, tighter key. The keys:

* the sound-alike codes of the given and family names, in either order (swapped
  names), the given name also as its formal names (Bob → Robert);
* the same split by birth year, and by postcode district (a common name's block is
  over the cap, these are not);
* the date of birth with day and month sorted (swapped), and the postcode, each
  plus the initial of either name (so swapped names still meet);
* the date of birth plus the postcode district, and the address alone, whatever the
  names say (both mistyped, or a new family name);
* the email; the phone.

With ``new`` only blocks that hold a new profile are expanded, and only pairs that
include one are kept: a re-sync costs in proportion to what it added.
"""

from __future__ import annotations

from functools import lru_cache

import jellyfish
import numpy as np

from harvest.people.features import Features


@lru_cache(maxsize=200_000)
def _sound(name: str) -> str:
    return jellyfish.soundex(name) if name else ""


def _initial(name: str) -> int:
    """1-26 for a name starting a-z, 27 for anything else."""
    return ord(name[0]) - 96 if "a" <= name[0] <= "z" else 27


def _explode(owner_codes: np.ndarray, lists: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """For each owner i with code c, one entry per value in lists[c]: (owner, value)."""
    counts = np.array([len(v) for v in lists] + [0], dtype=np.int64)
    flat = np.array([x for v in lists for x in v], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts[:-1])])
    per = counts[owner_codes]
    owners = np.repeat(np.arange(len(owner_codes)), per)
    starts = np.repeat(offsets[owner_codes], per)
    within = np.arange(len(owners)) - np.repeat(np.cumsum(per) - per, per)
    return owners, flat[starts + within]


def block_pairs(
    keys: np.ndarray, owners: np.ndarray, cap: int, new: np.ndarray | None = None
) -> np.ndarray:
    """Pairs (a < b) of owners sharing a key, as an (m, 2) array; blocks over ``cap`` skipped."""
    keep = keys >= 0
    if new is not None:  # only the blocks that hold a new profile: drop the rest before sorting
        hot = np.unique(keys[keep & new[owners]])
        if not len(hot):
            return np.zeros((0, 2), np.int64)
        at = np.minimum(np.searchsorted(hot, keys), len(hot) - 1)
        keep &= hot[at] == keys
    keys, owners = keys[keep], owners[keep]
    if len(keys) < 2:
        return np.zeros((0, 2), np.int64)
    order = np.lexsort((owners, keys))
    k, o = keys[order], owners[order]
    first = np.r_[True, (k[1:] != k[:-1]) | (o[1:] != o[:-1])]  # one entry per (key, owner)
    k, o = k[first], o[first]
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    sizes = np.diff(np.r_[starts, len(k)])
    ok = (sizes >= 2) & (sizes <= cap)
    if new is not None:
        ok &= np.maximum.reduceat(new[o].astype(np.int8), starts).astype(bool)
    out = []
    for size in np.unique(sizes[ok]):
        st = starts[ok & (sizes == size)]
        iu, ju = np.triu_indices(int(size), 1)
        a, b = o[st[:, None] + iu].ravel(), o[st[:, None] + ju].ravel()
        out.append(np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1))
    pairs = np.concatenate(out) if out else np.zeros((0, 2), np.int64)
    if new is not None and len(pairs):
        pairs = pairs[new[pairs[:, 0]] | new[pairs[:, 1]]]
    return pairs


def candidate_pairs(feats: Features, cap: int = 50, new: np.ndarray | None = None) -> np.ndarray:
    """The union of every key's pairs, unique, as an (m, 2) array of profile indices."""
    parts = [block_pairs(keys, owners, cap, new) for keys, owners in blocking_keys(feats)]
    pairs = np.concatenate(parts) if parts else np.zeros((0, 2), np.int64)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    if not len(pairs):
        return pairs
    code = np.unique(pairs[:, 0] * feats.n + pairs[:, 1])
    return np.stack([code // feats.n, code % feats.n], axis=1)


def blocking_keys(feats: Features) -> list[tuple[np.ndarray, np.ndarray]]:
    """(key, owner) arrays for each kind of key, over matchable profiles only."""
    m = feats.matchable
    idx = np.flatnonzero(m)
    sounds: dict[str, int] = {}
    given_sounds = [
        [sounds.setdefault(_sound(n), len(sounds)) for n in sorted(group)]
        for group in feats.given_groups
    ]
    given_initials = [sorted({_initial(n) for n in group if n}) for group in feats.given_groups]
    family_sound = np.array(
        [sounds.setdefault(_sound(f), len(sounds)) for f in feats.family_values] + [-1],
        dtype=np.int64,
    )
    family_initial = np.array([_initial(f) for f in feats.family_values] + [-1], dtype=np.int64)
    s = len(sounds) + 1
    out = []

    # 1. sound of given (as any of its formal names) and family, order-free; and the same
    #    split by birth year and by postcode district, so that a block of a common name
    #    over the cap still pairs the people in it born the same year or living nearby
    has = idx[(feats.given[idx] >= 0) & (feats.family[idx] >= 0)]
    own, gs = _explode(feats.given[has], given_sounds)
    fs = family_sound[feats.family[has]][own]
    names = np.minimum(gs, fs) * s + np.maximum(gs, fs)
    who = has[own]
    out.append((names, who))
    year = feats.dob[who, 0].astype(np.int64)
    out.append((np.where(year > 0, names * 256 + year % 256, -1), who))
    district = feats.district[who]
    out.append(
        (np.where(district >= 0, names * (feats.district.max(initial=-1) + 1) + district, -1), who)
    )

    # 2-3. date of birth (day and month sorted), and postcode: each with the initial of
    #    either name, in one key space, so that swapped names still meet
    own, init = _explode(feats.given[idx], given_initials)
    whose = np.concatenate([idx[own], idx])
    initial = np.concatenate([init, family_initial[feats.family[idx]]])
    y, mo, d = (feats.dob[:, i].astype(np.int64) for i in range(3))
    dob_key = np.where(
        feats.dob_code >= 0, (y * 13 + np.minimum(mo, d)) * 32 + np.maximum(mo, d), -1
    )
    for codes in (dob_key, feats.postcode):
        key = codes[whose]
        out.append((np.where((key >= 0) & (initial >= 0), key * 32 + initial, -1), whose))

    # 3b. the date of birth in the postcode district, and the address alone: whatever
    #    the names say (both mistyped, or a new family name)
    has = idx[(feats.dob_code[idx] >= 0) & (feats.district[idx] >= 0)]
    out.append(
        (feats.dob_code[has] * (feats.district.max(initial=-1) + 1) + feats.district[has], has)
    )
    has = idx[feats.address[idx] >= 0]
    out.append((feats.address[has], has))

    # 4. email, phone
    for codes in (feats.email, feats.phone):
        has = idx[codes[idx] >= 0]
        out.append((codes[has], has))
    return out
