"""Compare candidate pairs field by field, and learn what each agreement is worth.

Each comparison puts a pair at a *level* (given name: same, nickname, similar,
initial, different; date of birth: same, day and month swapped, one part
different, year only, different; …) or at −1 when either side is blank, which is
no evidence either way. A Fellegi-Sunter model turns levels into weights:
``log2(m / u)``, where ``m`` is how often true matches are at that level and ``u``
how often non-matches are. Both are estimated from the charity's own candidate
pairs by expectation maximisation, starting from (and gently pulled towards)
sensible defaults, so a tiny data set still behaves. Agreement on a rare value
counts for more than on a common one (term frequency): a shared unusual surname
is stronger evidence than a shared "Smith".

Location (postcode and address) is one comparison, counted once: its top level is the
same address with the same postcode (or none to compare), which says more than a
postcode that a street of people share. A postcode that is not a UK one (mistyped,
overseas) that two records typed alike counts as much as a shared sector. The
household guard refuses any pair whose given names or dates of birth disagree:
brothers, sisters, partners and parents share surname, address and phone, and
adding those up would join them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA, JaroWinkler

from harvest.people.compare_place import contact_levels, location_levels
from harvest.people.features import Features, name_group, spelled_group
from harvest.people.given_typos import mistyped_beyond_one, near_nickname, two_typos
from harvest.people.name_variants import ENDINGS

LEVELS: dict[str, list[str]] = {
    "given": ["different", "initial only", "similar", "nickname", "same"],
    "family": ["different", "a little alike", "similar", "same"],
    "dob": ["different", "same year only", "one part different", "day and month swapped", "same"],
    "location": [
        "different",
        "same district",
        "same sector",
        "same postcode or address",
        "same address and postcode",
    ],
    "email": ["different", "same"],
    "phone": ["different", "same"],
}
COMPARISONS = list(LEVELS)
FIELD_COMPARISONS = {  # harvest.yaml `matching.fields` → comparisons
    "name": ["given", "family"],
    "date_of_birth": ["dob"],
    "postcode": ["location"],
    "address": ["location"],
    "email": ["email"],
    "phone": ["phone"],
}
# Defaults, used until there is enough data to learn from (and as EM's prior): m, how
# often the same person is at each level; u, how often two strangers are.
DEFAULT_M = {
    "given": [0.01, 0.04, 0.07, 0.04, 0.84],
    "family": [0.04, 0.01, 0.06, 0.89],
    "dob": [0.01, 0.01, 0.04, 0.02, 0.92],
    "location": [0.1, 0.01, 0.01, 0.48, 0.4],
    "email": [0.2, 0.8],
    "phone": [0.35, 0.65],
}
DEFAULT_U = {
    "given": [0.98, 0.002, 0.002, 0.001, 0.015],
    "family": [0.98, 0.005, 0.002, 0.013],
    "dob": [0.986, 0.012, 0.002, 0.0001, 0.0001],
    "location": [0.995, 0.002, 0.002, 0.0009, 0.0001],
    "email": [0.9999, 0.0001],
    "phone": [0.9995, 0.0005],
}
PRIOR_STRENGTH = 30.0  # pseudo-pairs: how firmly the defaults hold against the data
TF_MIN_PROFILES = 500
TF_CLIP = 4.0  # bits: the most a value's rarity (or commonness) can add (or take away)
EXACT = {"given": 4, "family": 3, "dob": 4, "location": 3, "email": 1, "phone": 1}
TF_FIELDS = {
    "given": "given",
    "family": "family",
    "dob": "dob_code",
    "location": "postcode",
    "email": "email",
    "phone": "phone",
}


SIMILAR_GIVEN = 0.85  # Jaro-Winkler at or above which two given names may be one, mistyped


def typo_limit(feats: Features) -> int:
    """A given name used by this many profiles or fewer may be a mistyping; one used by
    more is a name in its own right (Donald and Ronald are brothers, not a typo)."""
    return max(2, feats.n // 20000)


def similar_given(
    feats: Features, ga: np.ndarray, gb: np.ndarray, jw: np.ndarray, edits: np.ndarray
) -> np.ndarray:
    """Given names (codes) that differ but are probably one name mistyped: alike (Jaro-
    Winkler, or one letter changed, added, dropped or two swapped) and at least one of
    them rare, or much rarer than the other."""
    counts = np.append(feats.counts.get("given", np.zeros(0, np.int64)), 0)
    short = np.minimum(feats.given_lengths[ga], feats.given_lengths[gb])
    alike = (jw >= SIMILAR_GIVEN) | ((edits <= 1) & (short >= 3))
    rare, common = np.minimum(counts[ga], counts[gb]), np.maximum(counts[ga], counts[gb])
    return alike & _mistyping(feats, rare, common)


def _mistyping(feats: Features, rare, common):
    """Whether the rarer of two alike spellings (counts, or arrays of them) is rare enough,
    or rare enough beside the other, to be a mistyping of it."""
    return (rare <= typo_limit(feats)) | (rare * 5 <= common)


def given_alike(feats: Features, x: int, y: int) -> bool:
    """One profile pair's given names (codes, both set) could be one person's: the same,
    nicknames of one name, an initial or short form of it, or one name mistyped (as
    ``similar_given``, for one pair)."""
    return x == y or given_level(feats, feats.given_values[x], feats.given_values[y]) > 0


def given_level(feats: Features, a: str, b: str) -> int:
    """The given-name level of two names as written (``LEVELS["given"]``), for names that
    may not be in the given-name column at all (one typed in the other's box)."""
    if a == b:
        return 4
    group_a, group_b = name_group(a), name_group(b)
    if spelled_group(a) & spelled_group(b) or _begins(a, b) or _begins(b, a):
        return 3
    alike = JaroWinkler.normalized_similarity(a, b) >= SIMILAR_GIVEN or (
        min(len(a), len(b)) >= 3 and OSA.distance(a, b) <= 1
    )
    ca, cb = feats.used_as_given(a), feats.used_as_given(b)
    if alike and _mistyping(feats, min(ca, cb), max(ca, cb)):
        return 2
    if (min(ca, cb) <= typo_limit(feats) and two_typos(a, b)) or (
        _mistyping(feats, min(ca, cb), max(ca, cb)) and near_nickname(a, b)
    ):
        return 2  # two typos, a nickname with a typo: given_typos.py
    if (len(a) == 1 and a in {n[:1] for n in group_b}) or (
        len(b) == 1 and b in {n[:1] for n in group_a}
    ):
        return 1
    return 0


def short_form(feats: Features, short: np.ndarray, long: np.ndarray) -> np.ndarray:
    """Given names (codes) where the shorter, two letters or more, begins the longer one:
    Mo for Mohammed, Abdi for Abdirahman (short forms the nicknames list lacks)."""
    out = np.zeros(len(short), bool)
    ok = (short >= 0) & (long >= 0) & (short != long)
    if not ok.any():
        return out
    k = len(feats.given_values) + 1
    keys, back = np.unique(short[ok] * k + long[ok], return_inverse=True)
    values = feats.given_values
    hit = np.array(
        [_begins(values[int(key // k)], values[int(key % k)]) for key in keys.tolist()], bool
    )
    out[ok] = hit[back]
    return out


def _begins(short: str, long: str) -> bool:
    """Mo begins Mohammed; but Paula is not a long form of Paul (a sister's name: the
    rest is a feminine ending)."""
    return (
        2 <= len(short) < len(long)
        and long.startswith(short)
        and long[len(short) :] not in (*ENDINGS, "e")
    )


def _jw(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if not len(a):
        return np.zeros(0, np.float32)
    return process.cpdist(a, b, scorer=JaroWinkler.normalized_similarity, workers=-1)


@dataclass
class Compared:
    """Levels of every comparison for pairs (a, b), and the codes that agreed exactly."""

    a: np.ndarray
    b: np.ndarray
    levels: np.ndarray  # (n, len(COMPARISONS)) int8, −1 blank
    tf_code: np.ndarray  # (n, len(COMPARISONS)) code of the agreeing value, −1 otherwise
    swapped: np.ndarray
    households: bool = True  # whether the household guard applies (see households_in)

    @property
    def guard(self) -> np.ndarray:
        """The household guard: given names and dates of birth agree (or are blank). And an
        anchor: at least one field agrees exactly (a nickname counts), so that a string of
        near misses (a typo in every field) never makes a link on its own. Data without
        households keeps only the anchor, and the weights decide."""
        g, f, d, loc, e, p = (self.levels[:, i] for i in range(6))
        anchor = (g >= 3) | (f == 3) | (d == 4) | (loc >= 3) | (e == 1) | (p == 1)
        anchor &= (d >= 2) | (loc >= 2) | (e == 1) | (p == 1)  # more than a name in common
        if not self.households:
            return anchor
        return (g != 0) & ((d == -1) | (d >= 2)) & anchor


HOUSEHOLD_RATIO = 0.25
HOUSEHOLD_MIN_PAIRS = 30


def households_setting(setting: bool | str, cmp: Compared) -> bool:
    """``matching.households``: true or false as set, or judged from the pairs (auto)."""
    return households_in(cmp) if setting == "auto" else bool(setting)


def households_in(cmp: Compared) -> bool:
    """Whether the data holds households, judged from the candidate pairs.

    Among pairs with the same family name at the same place, count those that differ
    in both given name and date of birth (brothers, sisters, parents and children)
    against those that agree on both (one person, listed twice). Where people live
    together the first are common: a quarter of the second or more (generated UK
    households: 3.6 times). In a list of unrelated people (FEBRL) they are rare
    (0.02-0.1), and a different given name is a mistake to weigh, not a sibling to
    refuse. Too few pairs to tell: assume households.
    """
    g, f, d, loc = (cmp.levels[:, i] for i in range(4))
    place = (f == 3) & (loc >= 3)
    same = int((place & (g >= 3) & (d == 4)).sum())
    related = int((place & (g == 0) & (d == 0)).sum())
    return same < HOUSEHOLD_MIN_PAIRS or related >= HOUSEHOLD_RATIO * same


CHUNK = 1_000_000  # pairs compared at a time: bounds the memory of the string arrays


def compare(feats: Features, pairs: np.ndarray, use: list[str] | None = None) -> Compared:
    """Levels of every comparison for candidate pairs, a chunk of pairs at a time."""
    if len(pairs) <= CHUNK:
        return _compare(feats, pairs, use)
    done = [_compare(feats, pairs[i : i + CHUNK], use) for i in range(0, len(pairs), CHUNK)]
    return Compared(
        pairs[:, 0],
        pairs[:, 1],
        np.concatenate([c.levels for c in done]),
        np.concatenate([c.tf_code for c in done]),
        np.concatenate([c.swapped for c in done]),
    )


def _compare(feats: Features, pairs: np.ndarray, use: list[str] | None) -> Compared:
    a, b = pairs[:, 0], pairs[:, 1]
    n = len(a)
    levels = np.full((n, len(COMPARISONS)), -1, np.int8)
    tf = np.full((n, len(COMPARISONS)), -1, np.int32)
    swapped = _names(feats, a, b, levels, tf)
    _dob(feats, a, b, levels, tf)
    location_levels(feats, a, b, levels, tf)
    if use is not None and "dob" not in use:
        levels[:, 2] = -1  # dates not compared: they cannot void a shared contact either
    contact_levels(feats, a, b, levels, tf)
    for i, name in enumerate(COMPARISONS):
        if use is not None and name not in use:
            levels[:, i] = -1
    return Compared(a, b, levels, tf, swapped)


def _names(feats: Features, a, b, levels, tf) -> np.ndarray:
    ga, gb, fa, fb = feats.given[a], feats.given[b], feats.family[a], feats.family[b]
    sga, sgb = feats.strings("given", a), feats.strings("given", b)
    sfa, sfb = feats.strings("family", a), feats.strings("family", b)
    g_sim, f_sim = _jw(sga, sgb), _jw(sfa, sfb)
    x1, x2 = _jw(sga, sfb), _jw(sfa, sgb)
    all4 = (ga >= 0) & (gb >= 0) & (fa >= 0) & (fb >= 0)
    both = (x1 + x2 > g_sim + f_sim + 0.1) & (np.minimum(x1, x2) >= 0.85)
    one = (np.maximum(x1, x2) >= 0.95) & (np.maximum(g_sim, f_sim) < 0.8)  # one name misplaced
    ff_a, ff_b = _family_first(feats, a), _family_first(feats, b)
    # one typed family name first by how the data uses its names, and alike crossed
    lone = ((ff_a > FAMILY_FIRST) ^ (ff_b > FAMILY_FIRST)) & (x1 + x2 > g_sim + f_sim)
    swapped = all4 & (both | one | lone)
    # crossed: A's given against B's family (B typed family first), or the other way
    a_first = swapped & (ff_a > ff_b)
    # both typed family name first, and one has a new family name: neither swap test
    # sees it (their given-name boxes differ, their family-name boxes agree)
    flipped = all4 & ~swapped & (ff_a > FAMILY_FIRST) & (ff_b > FAMILY_FIRST)
    g_sim, f_sim = (
        np.where(swapped, np.where(a_first, x2, x1), np.where(flipped, f_sim, g_sim)),
        np.where(swapped, np.where(a_first, x1, x2), np.where(flipped, g_sim, f_sim)),
    )
    both_g = (ga >= 0) & (gb >= 0)
    g_len = feats.given_lengths
    initials = _initial_masks(feats)
    short = np.where(g_len[ga] <= g_len[gb], ga, gb)
    other = np.where(g_len[ga] <= g_len[gb], gb, ga)
    first = np.array(
        [1 << (ord(v[0]) - 97) if v and "a" <= v[0] <= "z" else 0 for v in feats.given_values]
        + [0],
        dtype=np.int64,
    )
    initial = (g_len[short] == 1) & ((first[short] & initials[other]) > 0)
    edits = process.cpdist(sga, sgb, scorer=OSA.distance, workers=-1) if len(a) else np.zeros(0)
    similar = similar_given(feats, ga, gb, g_sim, edits)
    nickname = feats.nickname(ga, gb) | short_form(feats, short, other)
    todo = (g_sim < 1.0) & ~nickname & ~similar
    similar |= mistyped_beyond_one(feats, ga, gb, todo, typo_limit(feats))
    g = np.select([g_sim >= 1.0, nickname, similar, initial], [4, 3, 2, 1], 0)
    for i in np.flatnonzero(swapped).tolist():  # the given names as the swap pairs them
        crossed = (sfa[i], sgb[i]) if a_first[i] else (sga[i], sfb[i])
        g[i] = given_level(feats, *crossed)
    for i in np.flatnonzero(flipped).tolist():
        g[i] = given_level(feats, sfa[i], sfb[i])
    swapped |= flipped
    levels[:, 0] = np.where(both_g, g, -1)
    both_f = (fa >= 0) & (fb >= 0)
    f = np.select([f_sim >= 1.0, f_sim >= 0.88, f_sim >= 0.8], [3, 2, 1], 0)
    levels[:, 1] = np.where(both_f, f, -1)
    tf[:, 0] = np.where(both_g & (levels[:, 0] == 4) & ~swapped, ga, -1)
    tf[:, 1] = np.where(both_f & (levels[:, 1] == 3) & ~swapped, fa, -1)
    return swapped


FAMILY_FIRST = 3.0  # log odds above which a profile is taken as typed family name first


def _family_first(feats: Features, p: np.ndarray) -> np.ndarray:
    """How much profiles ``p`` look typed family name first: their given name is used as a
    family name elsewhere in the data, and their family name as a given name ("SMITH
    Robert"). Log odds; only the comparison of two profiles' values matters."""
    g, f, use = feats.given[p], feats.family[p], feats.name_use
    as_family = np.log1p(use["given", "family"][g]) + np.log1p(use["family", "given"][f])
    as_given = np.log1p(use["given", "given"][g]) + np.log1p(use["family", "family"][f])
    return as_family - as_given


def _initial_masks(feats: Features) -> np.ndarray:
    """For each given name, a bit per initial of it and of its formal names."""
    masks = [
        sum({1 << (ord(n[0]) - 97) for n in g if n and "a" <= n[0] <= "z"})
        for g in feats.given_groups
    ]
    return np.array(masks + [0], dtype=np.int64)


def dob_levels(da: np.ndarray, db: np.ndarray) -> np.ndarray:
    """Levels for arrays of (year, month, day); −1 when either is blank."""
    ya, ma, xa = (da[:, i].astype(np.int32) for i in range(3))
    yb, mb, xb = (db[:, i].astype(np.int32) for i in range(3))
    same_y, same_m, same_d = ya == yb, ma == mb, xa == xb
    dy = np.abs(ya - yb)
    year_close = (
        (dy < 10)
        | ((dy % 10 == 0) & (dy < 100))
        | ((ya % 10 == (yb // 10) % 10) & ((ya // 10) % 10 == yb % 10) & (ya // 100 == yb // 100))
    )
    swap = (ma == xb) & (xa == mb)
    slip = same_y & (np.abs(ma - mb) <= 1) & (np.abs(xa - xb) <= 1)  # both a key apart
    level = np.select(
        [
            same_y & same_m & same_d,
            same_y & swap,
            (same_y & (same_m | same_d))
            | (same_m & same_d & year_close)
            | slip
            | (swap & year_close),
            same_y,
        ],
        [4, 3, 2, 1],
        0,
    )
    return np.where((ya > 0) & (yb > 0), level, -1)


def _dob(feats: Features, a, b, levels, tf) -> None:
    levels[:, 2] = dob_levels(feats.dob[a], feats.dob[b])
    tf[:, 2] = np.where(levels[:, 2] == 4, feats.dob_code[a], -1)


# --- the model -------------------------------------------------------------------------


def explain(levels: np.ndarray, parts: np.ndarray, swapped: bool = False) -> list[list]:
    """[[comparison, level name, bits], …] for one pair, blanks left out."""
    out = []
    for i, name in enumerate(COMPARISONS):
        lv = int(levels[i])
        if lv >= 0:
            label = LEVELS[name][lv] + (" (names swapped)" if swapped and i < 2 else "")
            out.append([name, label, round(float(parts[i]), 2)])
    return out
