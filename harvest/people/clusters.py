"""Join linked profiles into people, guarding against chains, and keep person ids stable.

Links are taken strongest first (each profile's best link comes before its weaker
ones). Two groups are joined only when:

* nobody decided that any of their profiles are different people;
* together they stay within the size cap (distinct profiles, not records);
* every date of birth in one agrees with every one in the other, and most of
  their given names do (nickname-aware), so A–B and B–C never drag an
  incompatible A and C together.

A link refused by these rules is *held* for a person to review. "Same" decisions
join first and always win, and the profiles a person called the same count as one
for the guard: their names and dates are all this person's (Margaret and Margret
said to be one person both agree with Maggie when Margaret does).

Ids: each new group takes the oldest person id its records already had; ids left
over were merged away and resolve to the group that took most of their records.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from rapidfuzz.distance import JaroWinkler

from harvest.people.compare import dob_levels, given_alike
from harvest.people.features import Features


class Groups:
    """Union-find over profiles with member lists and cannot-link sets."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))
        self.members: dict[int, list[int]] = {}
        self.cannot: dict[int, set[int]] = {}
        self.unit: list[int] = list(range(n))  # profile → its group of "same" decisions

    def find(self, x: int) -> int:
        parent = self.parent
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def group(self, root: int) -> list[int]:
        return self.members.get(root) or [root]

    def forbidden(self, ra: int, rb: int) -> bool:
        for x, y in ((ra, rb), (rb, ra)):
            if any(self.find(o) == y for o in self.cannot.get(x, ())):
                return True
        return False

    def union(self, ra: int, rb: int) -> int:
        if len(self.group(ra)) < len(self.group(rb)):
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.members[ra] = self.group(ra) + self.group(rb)
        self.members.pop(rb, None)
        if rb in self.cannot:
            self.cannot.setdefault(ra, set()).update(self.cannot.pop(rb))
        return ra


@dataclass
class Clustering:
    labels: np.ndarray  # profile → group root
    held: set[int] = field(default_factory=set)  # indexes of links refused by the guards


def compatible(feats: Features, x: int, y: int) -> bool:
    """The household guard for two profiles, one pair at a time."""
    return _dates_agree(feats, x, y) and _given_agree(feats, x, y)


def _dates_agree(feats: Features, x: int, y: int) -> bool:
    if feats.dob_code[x] >= 0 and feats.dob_code[y] >= 0 and feats.dob_code[x] != feats.dob_code[y]:
        return bool(dob_levels(feats.dob[[x]], feats.dob[[y]])[0] >= 2)
    return True


def _given_agree(feats: Features, x: int, y: int) -> bool:
    gx, gy = feats.given[x], feats.given[y]
    return gx < 0 or gy < 0 or given_alike(feats, gx, gy) or _swapped(feats, x, y)


def _swapped(feats: Features, x: int, y: int) -> bool:
    """Either profile's given name is (nearly) the other's family name."""
    for p, q in ((x, y), (y, x)):
        if feats.given[p] >= 0 and feats.family[q] >= 0:
            given, family = feats.given_values[feats.given[p]], feats.family_values[feats.family[q]]
            if JaroWinkler.normalized_similarity(given, family) >= 0.9:
                return True
    return False


def cluster(
    feats: Features,
    links: np.ndarray,
    strength: np.ndarray,
    same: list[tuple[int, int]] = (),  # type: ignore[assignment]
    different: list[tuple[int, int]] = (),  # type: ignore[assignment]
    max_size: int = 30,
    households: bool = True,
) -> Clustering:
    """Group profiles: decisions first, then links from strongest to weakest, guarded
    (without ``households`` only by size and by decisions)."""
    groups = Groups(feats.n)
    for a, b in different:
        groups.cannot.setdefault(a, set()).add(b)
        groups.cannot.setdefault(b, set()).add(a)
    for a, b in same:
        ra, rb = groups.find(a), groups.find(b)
        if ra != rb:
            groups.union(ra, rb)
    for root in {groups.find(x) for pair in same for x in pair}:
        for x in groups.group(root):
            groups.unit[x] = root
    held: set[int] = set()
    order = np.argsort(-strength, kind="stable")
    for i, a, b in zip(
        order.tolist(), links[order, 0].tolist(), links[order, 1].tolist(), strict=False
    ):
        ra, rb = groups.find(a), groups.find(b)
        if ra == rb:
            continue
        if groups.forbidden(ra, rb):
            continue
        ga, gb = groups.group(ra), groups.group(rb)
        if len(ga) + len(gb) > max_size or (households and not _agree(feats, groups, ga, gb)):
            held.add(i)
            continue
        groups.union(ra, rb)
    labels = np.fromiter((groups.find(x) for x in range(feats.n)), np.int64, feats.n)
    return Clustering(labels, held)


def _agree(feats: Features, groups: Groups, ga: list[int], gb: list[int]) -> bool:
    """Whether two groups may be one person: no two dates of birth in them disagree,
    and most pairs of given names across them agree (one odd spelling in a group of
    five does not keep it apart; a brother's name does). Profiles a person called the
    same are one unit: a unit agrees with another when any of their profiles do."""
    if len(ga) == 1 and len(gb) == 1:
        return True  # the link itself passed the guard
    ua, ub = _units(groups, ga), _units(groups, gb)
    pairs = [(u, v) for u in ua for v in ub]
    if not all(any(_dates_agree(feats, x, y) for x in u for y in v) for u, v in pairs):
        return False
    agree = sum(any(_given_agree(feats, x, y) for x in u for y in v) for u, v in pairs)
    return agree * 2 > len(pairs)


def _units(groups: Groups, members: list[int]) -> list[list[int]]:
    """The members of a group, gathered into units (profiles joined by "same")."""
    units: dict[int, list[int]] = {}
    for x in members:
        units.setdefault(groups.unit[x], []).append(x)
    return list(units.values())


# --- person ids --------------------------------------------------------------------------


@dataclass
class Assignment:
    person: np.ndarray  # record → person id
    merged: dict[int, int]  # old person id → the person it joined
    created: list[int]


def assign_ids(groups: np.ndarray, current: np.ndarray, next_id: int) -> Assignment:
    """Person ids for records in groups, keeping ids stable.

    ``groups`` is a group label per record, ``current`` its present person id (0 if
    none). Each person id goes to the group holding most of its records (ties: the
    group seen first), one id per group, oldest id first; a group with no id left
    gets a new one; an id no group took is merged into the group that has most of
    its records.
    """
    has = current > 0
    pairs, counts = np.unique(
        np.stack([current[has], groups[has]], axis=1), axis=0, return_counts=True
    )
    order = np.lexsort((pairs[:, 1], -counts, pairs[:, 0]))
    taken: dict[int, int] = {}  # group → id
    owner: dict[int, int] = {}  # id → group
    best: dict[int, int] = {}  # id → group with most of its records
    for pid, grp in pairs[order].tolist():
        best.setdefault(pid, grp)
        if pid not in owner and grp not in taken:
            owner[pid], taken[grp] = grp, pid
    created = []
    uniq_groups, first_rec = np.unique(groups, return_index=True)
    for grp in uniq_groups[np.argsort(first_rec)].tolist():
        if grp not in taken:
            taken[grp] = next_id
            created.append(next_id)
            next_id += 1
    merged = {pid: taken[grp] for pid, grp in best.items() if pid not in owner}
    table_groups = np.array(list(taken), dtype=np.int64)
    table_ids = np.array(list(taken.values()), dtype=np.int64)
    sort = np.argsort(table_groups)
    person = table_ids[sort][np.searchsorted(table_groups[sort], groups)]
    return Assignment(person, merged, created)
