"""Re-clustering only the people a re-sync touched, with what clustering everyone gives.

While the kept profiles' stamp holds (match_cache.read_stamp), a re-sync does not
cluster everyone again: the profiles that are new, came back or changed (``_seeds``),
and those of groups the household guard may now judge differently (``_judged_anew``),
are grown through links, "same" decisions and shared person ids until closed
(``_closure``), and ``recluster_touched`` clusters and writes just those people.
"""

from __future__ import annotations

import numpy as np
import sqlite_utils
from rapidfuzz import process
from rapidfuzz.distance import OSA, JaroWinkler

from harvest.config import MatchingConfig
from harvest.people import match_cache
from harvest.people import write as people
from harvest.people.clusters import assign_ids, cluster
from harvest.people.compare import similar_given
from harvest.people.match_load import Loaded
from harvest.people.match_state import MatchSummary, pending_questions
from harvest.people.recluster import _groups, _keep, _next_id, _relink, _set_statuses


def _changes(data: Loaded) -> match_cache.Changes:
    """What changed since the profiles were kept: set whenever they came from the cache,
    the only time a re-sync reclusters just the people it touched."""
    assert data.changes is not None
    return data.changes


def _before(data: Loaded) -> match_cache.Profiles:
    """The kept profiles as they were read: set together with ``data.changes``."""
    assert data.before is not None
    return data.before


def _seeds(data: Loaded, new: np.ndarray) -> np.ndarray:
    """Profiles whose people must be worked out again: new ones, ones whose records came
    back, and ones that became matchable or stopped being (an email turned shared)."""
    changes = _changes(data)
    seeds = new | changes.matchable_changed
    seeds[changes.back] = True
    return seeds


def _judged_anew(db, data: Loaded, decisions: dict, merge_above: float, settings) -> np.ndarray:
    """Profiles of linked groups that the household guard may now judge differently,
    although no new record joined them. The guard reads the data as a whole in one
    place: whether two different given names are one name mistyped depends on how
    common each is (compare.similar_given), which new records change. So every pair of
    different given names within a group is judged with the features of the last match
    and of this one; groups with a changed verdict are clustered again."""
    feats, old_index = data.feats, _changes(data).old_index
    out = np.zeros(feats.n, bool)
    rows = db.execute(
        "SELECT profile_a, profile_b FROM match_pairs WHERE probability >= ?", [merge_above]
    ).fetchall()
    linked = np.array(rows, np.int64).reshape(-1, 2)
    same = np.array([k for k, v in decisions.items() if v], np.int64).reshape(-1, 2)
    a = np.r_[data.index.find(linked[:, 0]), same[:, 0]]
    b = np.r_[data.index.find(linked[:, 1]), same[:, 1]]
    keep = (a >= 0) & (b >= 0)
    pairs, crowded = _pairs_within(_components(feats.n, a[keep], b[keep]), feats.given)
    out[crowded] = True
    pairs = pairs[(old_index[pairs[:, 0]] >= 0) & (old_index[pairs[:, 1]] >= 0)]
    if not len(pairs):
        return out
    old = match_cache.features(_before(data), settings.shared_value_limit)
    now = np.stack([feats.given[pairs[:, 0]], feats.given[pairs[:, 1]]], axis=1)
    then = np.stack([old.given[old_index[pairs[:, 0]]], old.given[old_index[pairs[:, 1]]]], 1)
    names, back = np.unique(np.c_[now, then], axis=0, return_inverse=True)
    values = np.array(feats.given_values, dtype=object)
    sa, sb = values[names[:, 0]], values[names[:, 1]]
    jw = process.cpdist(sa, sb, scorer=JaroWinkler.normalized_similarity, workers=-1)
    edits = process.cpdist(sa, sb, scorer=OSA.distance, workers=-1)
    changed = similar_given(feats, names[:, 0], names[:, 1], jw, edits) != similar_given(
        old, names[:, 2], names[:, 3], jw, edits
    )
    hit = pairs[changed[back.ravel()]]
    out[hit.ravel()] = True
    return out


def _components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The connected group of each of n nodes, given edges (a, b): its smallest member."""
    label = np.arange(n)
    while True:
        low = np.minimum(label[a], label[b])
        new = label.copy()
        np.minimum.at(new, a, low)
        np.minimum.at(new, b, low)
        new = new[new]
        if np.array_equal(new, label):
            return label
        label = new


def _pairs_within(group: np.ndarray, given: np.ndarray, most: int = 300):
    """Pairs of profiles in one group whose given names differ; and the profiles of groups
    too large to pair up (over ``most``), to take as changed."""
    sizes = np.bincount(group, minlength=len(group))
    crowded = np.flatnonzero(sizes[group] > most)
    members = np.flatnonzero((sizes[group] >= 2) & (sizes[group] <= most) & (given >= 0))
    members = members[np.argsort(group[members], kind="stable")]
    g = group[members]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]]) if len(g) else np.zeros(0, np.int64)
    counts = np.diff(np.r_[starts, len(g)])
    out = [np.zeros((0, 2), np.int64)]
    for size in np.unique(counts[counts >= 2]).tolist():
        st = starts[counts == size]
        iu, ju = np.triu_indices(size, 1)
        out.append(
            np.stack([members[st[:, None] + iu].ravel(), members[st[:, None] + ju].ravel()], 1)
        )
    pairs = np.concatenate(out)
    return pairs[given[pairs[:, 0]] != given[pairs[:, 1]]], crowded


def recluster_touched(
    db: sqlite_utils.Database,
    settings: MatchingConfig,
    run_id: int | None,
    data: Loaded,
    decisions: dict,
    summary: MatchSummary,
    seeds: np.ndarray,
    people_before: int,
    households: bool = True,
) -> None:
    """``recluster``, for the people that seed profiles (and profiles gone) touch only.

    Clustering is decided within each group of profiles joined by links and "same"
    decisions, and person ids within each group of records sharing an id; everyone
    else keeps what the last match gave them, which is what clustering everyone again
    would give. So the touched groups are grown until they are closed under both, and
    only they are clustered, their pairs' statuses and their records' ids written.
    """
    feats, changes = data.feats, _changes(data)
    gone_people = _people_of(db, changes.gone)
    inside, people_ids = _closure(db, data, decisions, seeds, gone_people, summary.merge_above)
    stored = _pairs_touching(db, data.hashes[inside], changes.vanished)
    links = _relink(data, decisions, stored, summary.merge_above, inside)
    chosen = [(k, v) for k, v in decisions.items() if inside[k[0]] and inside[k[1]]]
    result = cluster(  # every profile, so that the features mean what they do in a full run
        feats,
        links.pairs,
        links.strength,
        [k for k, v in chosen if v],
        [k for k, v in chosen if not v],
        settings.max_cluster_size,
        households,
    )
    _set_statuses(db, stored, links, result, np.where(inside, result.labels, -1))
    counts = dict(db.execute("SELECT status, count(*) FROM match_pairs GROUP BY status").fetchall())
    summary.links = int(counts.get("link", 0))
    records = np.flatnonzero(inside[feats.record_profile])
    ids = data.ids[records]
    before = _person_ids(db, ids)
    groups = _groups(result.labels, feats.record_profile[records], feats.matchable)
    assigned = assign_ids(groups, before, _next_id(db, _highest_person(db)))
    people.write(db, ids, before, assigned, run_id, feats.used_as)
    had = set(before[~np.isin(ids, changes.added)].tolist()) | set(gone_people)
    had.discard(0)
    summary.merged_people = len(assigned.merged)
    summary.people = people_before - len(had) + len(np.unique(assigned.person))
    summary.review = pending_questions(db)
    _keep(db, data, settings, summary)


def _temp_ids(db, name: str, values) -> str:
    """A temporary table of integers (for IN); returns its name."""
    db.execute(f"CREATE TEMP TABLE IF NOT EXISTS {name} (v INTEGER PRIMARY KEY)")
    db.execute(f"DELETE FROM temp.{name}")
    db.conn.executemany(
        f"INSERT OR IGNORE INTO temp.{name} VALUES (?)", [(int(v),) for v in values]
    )
    return f"temp.{name}"


def _people_of(db, record_ids) -> list[int]:
    table = _temp_ids(db, "match_records", record_ids)
    return [
        r[0]
        for r in db.execute(
            f"SELECT DISTINCT person_id FROM records WHERE id IN (SELECT v FROM {table})"
            " AND person_id IS NOT NULL"
        ).fetchall()
    ]


def _person_ids(db, ids: np.ndarray) -> np.ndarray:
    """The person id (0 for none) of each of these records (ids ascending)."""
    table = _temp_ids(db, "match_records", ids)
    rows = db.execute(
        f"SELECT id, coalesce(person_id, 0) FROM records WHERE id IN (SELECT v FROM {table})"
        " ORDER BY id"
    ).fetchall()
    return np.array([r[1] for r in rows], np.int64)


def _highest_person(db) -> int:
    row = db.execute("SELECT max(person_id) FROM records WHERE is_current = 1").fetchone()
    return int(row[0] or 0)


def _closure(db, data: Loaded, decisions: dict, seeds, gone_people, merge_above: float):
    """The profiles to cluster again: the seeds, grown through stored pairs that may be
    links, "same" decisions and shared person ids until nothing more joins."""
    feats = data.feats
    inside = np.zeros(feats.n, bool)
    same: dict[int, list[int]] = {}
    for (a, b), v in decisions.items():
        if v:
            same.setdefault(a, []).append(b)
            same.setdefault(b, []).append(a)
    frontier = np.flatnonzero(seeds)
    hashes = set(_changes(data).vanished.tolist())
    seen_people: set[int] = set()
    people_frontier = set(gone_people)
    while len(frontier) or hashes or people_frontier:
        frontier = frontier[~inside[frontier]]
        inside[frontier] = True
        found = [
            data.index.find(
                np.array(
                    _linked(db, hashes | set(data.hashes[frontier].tolist()), merge_above), np.int64
                )
            )
        ]
        found.append(np.array([o for x in frontier.tolist() for o in same.get(x, ())], np.int64))
        records = data.ids[np.isin(feats.record_profile, frontier)]
        people_frontier |= set(_people_of(db, records)) - seen_people
        seen_people |= people_frontier
        found.append(_profiles_of_people(db, data, people_frontier))
        people_frontier, hashes = set(), set()
        frontier = np.unique(np.concatenate(found))
        frontier = frontier[frontier >= 0]
        frontier = frontier[~inside[frontier]]
    return inside, seen_people


def _linked(db, hashes: set[int], merge_above: float) -> list[int]:
    """Profiles (hashes) with a stored pair that may be a link to any of these."""
    if not hashes:
        return []
    table = _temp_ids(db, "match_frontier", hashes)
    rows = db.execute(
        f"""SELECT profile_b FROM match_pairs WHERE probability >= ?
              AND profile_a IN (SELECT v FROM {table})
            UNION SELECT profile_a FROM match_pairs WHERE probability >= ?
              AND profile_b IN (SELECT v FROM {table})""",
        [merge_above, merge_above],
    ).fetchall()
    return [r[0] for r in rows]


def _profiles_of_people(db, data: Loaded, person_ids: set[int]) -> np.ndarray:
    if not person_ids:
        return np.zeros(0, np.int64)
    table = _temp_ids(db, "match_people", person_ids)
    ids = np.array(
        [
            r[0]
            for r in db.execute(
                f"SELECT id FROM records WHERE person_id IN (SELECT v FROM {table})"
                " AND is_current = 1"
            ).fetchall()
        ],
        np.int64,
    )
    pos = np.searchsorted(data.ids, ids).clip(max=max(len(data.ids) - 1, 0))
    found = pos[data.ids[pos] == ids] if len(data.ids) else pos[:0]
    return data.feats.record_profile[found]


def _pairs_touching(db, hashes: np.ndarray, vanished: np.ndarray) -> list[tuple]:
    """Every stored pair with a profile among these, in the order a full read gives."""
    table = _temp_ids(db, "match_frontier", np.r_[hashes, vanished].tolist())
    return db.execute(
        f"""SELECT profile_a, profile_b, probability, status FROM match_pairs
              WHERE profile_a IN (SELECT v FROM {table})
            UNION SELECT profile_a, profile_b, probability, status FROM match_pairs
              WHERE profile_b IN (SELECT v FROM {table})
            ORDER BY 1, 2"""
    ).fetchall()
