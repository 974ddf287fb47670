"""Given names mistyped beyond one letter: a nickname with a typo in it (Bpb for Robert,
Jinmy for James) and two typos in one short name (Aimr for Amir).

Both are only read as the same name when the mistyped spelling is rare in the data (used
by ``typo_limit`` profiles or fewer; a mistyped nickname also when it is five times
rarer than the other name, as one typo is): a real name two letters from another (Mark,
Mike) is a name of its own.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from rapidfuzz.distance import OSA

from harvest.people.features import Features, name_group, nicknamer

MIN_LENGTH = 4  # two typos are read as one name only in names this long or longer


@lru_cache(maxsize=200_000)
def forms(name: str) -> frozenset[str]:
    """A name, the formal names it is short for, and their nicknames and its own: robert →
    {robert, bob, rob, bobby, …}, mags → {mags, margaret, maggie, peggy, …}; only forms
    of three letters or more, that a typo can be told from."""
    if len(name) < 2:
        return frozenset()
    group = name_group(name)
    every = {*group, *(n for g in group for n in nicknamer().nicknames_of(g))}
    return frozenset(n for n in every if len(n) >= 3 and "~" not in n)


def near_nickname(a: str, b: str) -> bool:
    """One name is a form of the other (or of a name it is a nickname of) with one typo."""
    return any(OSA.distance(n, b, score_cutoff=1) <= 1 for n in forms(a)) or any(
        OSA.distance(n, a, score_cutoff=1) <= 1 for n in forms(b)
    )


def two_typos(a: str, b: str) -> bool:
    return min(len(a), len(b)) >= MIN_LENGTH and OSA.distance(a, b, score_cutoff=2) <= 2


def mistyped_beyond_one(feats: Features, ga: np.ndarray, gb: np.ndarray, todo, limit: int):
    """For pairs of given names (codes) where ``todo``, whether one is the other with a
    nickname and a typo, or two typos, and the rarer is used by ``limit`` profiles or
    fewer."""
    out = np.zeros(len(ga), bool)
    counts = np.append(feats.counts.get("given", np.zeros(0, np.int64)), 0)
    idx = np.flatnonzero(todo & (ga >= 0) & (gb >= 0) & (ga != gb))
    rare = np.minimum(counts[ga[idx]], counts[gb[idx]])
    idx = idx[(rare <= limit) | (rare * 5 <= np.maximum(counts[ga[idx]], counts[gb[idx]]))]
    if not len(idx):
        return out
    k = len(feats.given_values) + 1
    keys, back = np.unique(
        np.minimum(ga[idx], gb[idx]) * k + np.maximum(ga[idx], gb[idx]), return_inverse=True
    )
    values = feats.given_values
    strict = np.minimum(counts[keys // k], counts[keys % k]) <= limit
    hit = np.array(
        [
            (rare and two_typos(a, b)) or near_nickname(a, b)
            for a, b, rare in zip(
                (values[int(c // k)] for c in keys.tolist()),
                (values[int(c % k)] for c in keys.tolist()),
                strict.tolist(),
                strict=True,
            )
        ],
        bool,
    )
    out[idx] = hit[back]
    return out
