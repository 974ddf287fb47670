"""Find the same person across every list: block, compare, learn, cluster, keep ids.

``match_people`` runs after every source of a sync has landed, in its own
transaction. It reads the identifying fields of all current records into arrays,
works out which profiles are new since the last match, and then:

1. *blocks*: candidate pairs share a cheap exact key (blocking.py);
2. *compares* each pair field by field and scores it with a Fellegi-Sunter model
   whose weights are learnt from the data by EM, review decisions included
   (compare.py);
3. stores pairs above ``review_above`` in ``match_pairs``;
4. *clusters* links above ``merge_above`` (and "same" decisions) into people,
   guarded against households and chains (clusters.py); everything between the
   two thresholds, and links the guards held back, wait in the review queue;
5. gives each person the oldest id its records had, records merged-away ids in
   ``person_merges``, and refreshes touched people's best values and sources.

A re-sync only scores pairs that involve new profiles, with the model learnt in
the last full match; a full match happens the first time, when the settings
change, when the data grew by more than a quarter (and by 500 profiles or more),
or on request (`harvest match --full`). A re-sync also reads only what changed:
each match keeps its profiles in the store (match_cache.py) and the next one adds
the records that landed since, and only the people that new, returning or vanished
profiles touch are clustered again (``recluster_touched``). The results are the
same as reading and clustering everyone; after a `harvest forget` (which empties the
cache) or a change of thresholds or decisions, the next match does exactly that.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass

import numpy as np
import sqlite_utils
from rapidfuzz import process
from rapidfuzz.distance import OSA, JaroWinkler

from harvest.config import MatchingConfig
from harvest.normalise import match_cache, people
from harvest.normalise.blocking import candidate_pairs
from harvest.normalise.clusters import assign_ids, cluster
from harvest.normalise.compare import (
    COMPARISONS,
    FIELD_COMPARISONS,
    LEVELS,
    compare,
    explain,
    households_setting,
    similar_given,
)
from harvest.normalise.decisions import calibrate, load_decisions
from harvest.normalise.features import IDENTITY, Features, build_features
from harvest.normalise.match_state import (
    MatchSummary,
    last_run,
    nothing_new,
    pending_questions,
    settings_hash,
)
from harvest.normalise.model import Model, score, train
from harvest.store import now

log = logging.getLogger(__name__)
FULL_IF_GROWN = 0.25
FULL_IF_MORE_THAN = 500  # new profiles; fewer never trigger a full match
PAIR_STATUSES = ("link", "held", "review", "joined", "decided", "gone")


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
    cols = ", ".join(f"[{f}]" for f in IDENTITY)
    rows = db.execute(
        f"SELECT id, coalesce(person_id, 0), {cols} FROM records WHERE is_current = 1 ORDER BY id"
    ).fetchall()
    columns = (
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


def match_people(
    db: sqlite_utils.Database,
    settings: MatchingConfig,
    run_id: int | None = None,
    full: bool = False,
) -> MatchSummary:
    """Match new and changed records against everyone; the caller holds the transaction."""
    started = time.perf_counter()
    if not settings.enabled:
        return MatchSummary(mode="off")
    if not full and nothing_new(db, settings):
        return MatchSummary(mode="unchanged")
    state = last_run(db)
    kept = not full and state is not None and state["settings_hash"] == settings_hash(settings)
    data = _load_any(db, settings, keep=True) if kept else load(db, settings, keep=True)
    feats = data.feats
    watermark = int(state["watermark"]) if state else 0
    new_records = data.ids > watermark
    new = np.zeros(feats.n, bool)
    new[feats.record_profile[new_records]] = True
    is_full = (
        full
        or state is None
        or state["settings_hash"] != settings_hash(settings)
        or (
            new.sum() > FULL_IF_GROWN * int(state["profiles"] or 0)
            and new.sum() > FULL_IF_MORE_THAN
        )
    )
    summary = MatchSummary(
        mode="full" if is_full else "incremental",
        records=len(data.ids),
        profiles=feats.n,
        new_profiles=int(new.sum()),
    )
    use = [c for f in settings.fields for c in FIELD_COMPARISONS[f]]
    pairs = candidate_pairs(feats, settings.block_size_cap, None if is_full else new)
    summary.candidate_pairs = len(pairs)
    cmp = compare(feats, pairs, use)
    decisions = load_decisions(db, data.index)
    model = Model.from_json(json.loads(state["model"])) if state and not is_full else None
    if model is None:
        cmp.households = households_setting(settings.households, cmp)
        model = _learn(feats, cmp, decisions, settings)
        model.households = cmp.households
    cmp.households = model.households
    scored = score(feats, model, cmp)
    _apply_exact_keys(feats, scored, settings)
    merge_above, review_above, notes = calibrate(db, settings)
    summary.merge_above, summary.review_above, summary.notes = merge_above, review_above, notes
    _store_pairs(db, data, scored, review_above, run_id, replace=is_full)
    del pairs, cmp, scored  # the largest arrays: free before clustering and keeping the cache
    stamp = None
    if data.changes is not None and not is_full:
        stamp = match_cache.read_stamp(db, merge_above, settings.max_cluster_size)
    if stamp is not None:
        seeds = _seeds(data, new) | _judged_anew(db, data, decisions, merge_above, settings)
        recluster_touched(
            db, settings, run_id, data, decisions, summary, seeds, stamp["people"], model.households
        )
    else:
        recluster(db, settings, run_id, data, decisions, summary, model.households)
    summary.seconds = round(time.perf_counter() - started, 2)
    _record_run(db, run_id, summary, int(data.ids.max(initial=0)), settings, model)
    return summary


def match_frame(
    columns: dict[str, list],
    settings: MatchingConfig | None = None,
) -> tuple[np.ndarray, dict]:
    """Match records held in memory (one list per field of ``IDENTITY``), no store.

    Returns a group label per record and facts about the run (pairs, links, review
    queue, the model). For benchmarks and tests; the store uses ``match_people``.
    """
    settings = settings or MatchingConfig()
    feats = build_features(columns, settings.shared_value_limit)
    use = [c for f in settings.fields for c in FIELD_COMPARISONS[f]]
    pairs = candidate_pairs(feats, settings.block_size_cap)
    cmp = compare(feats, pairs, use)
    cmp.households = households_setting(settings.households, cmp)
    model = _learn(feats, cmp, {}, settings)
    model.households = cmp.households
    scored = score(feats, model, cmp)
    _apply_exact_keys(feats, scored, settings)
    link = np.flatnonzero(scored.probability >= settings.merge_above)
    result = cluster(
        feats,
        pairs[link],
        scored.probability[link],
        max_size=settings.max_cluster_size,
        households=cmp.households,
    )
    groups = result.labels[feats.record_profile]
    lone = ~feats.matchable[feats.record_profile]
    groups = np.where(lone, feats.n + np.arange(len(groups)), groups)
    pending = (scored.probability >= settings.review_above) & (
        scored.probability < settings.merge_above
    )
    together = result.labels[pairs[:, 0]] == result.labels[pairs[:, 1]]
    held = np.zeros(len(pairs), bool)
    held[link[sorted(result.held)]] = True
    facts = {
        "profiles": feats.n,
        "candidate_pairs": len(pairs),
        "links": len(link),
        "review": int(((pending | held) & ~together).sum()),
        "model": model,
        "scored": scored,
        "feats": feats,
    }
    return groups, facts


def _households(db: sqlite_utils.Database, settings: MatchingConfig) -> bool:
    """Whether the household guard applies: as set, or as the last full match found."""
    if settings.households != "auto":
        return bool(settings.households)
    state = last_run(db)
    return Model.from_json(json.loads(state["model"])).households if state else True


def _learn(feats: Features, cmp, decisions: dict, settings: MatchingConfig) -> Model:
    guard = cmp.guard
    model = Model()
    if settings.learn and guard.any():
        labels = np.full(int(guard.sum()), -1)
        if decisions:
            keys = cmp.a[guard] * feats.n + cmp.b[guard]
            pos = {k: i for i, k in enumerate(keys.tolist())}
            for (a, b), same in decisions.items():
                i = pos.get(min(a, b) * feats.n + max(a, b))
                if i is not None:
                    labels[i] = int(same)
        use = [c for f in settings.fields for c in FIELD_COMPARISONS[f]]
        full_labels = np.full(len(guard), -1)
        full_labels[np.flatnonzero(guard)] = labels
        model = train(feats, cmp, use, full_labels)
    return model


def _apply_exact_keys(feats: Features, scored, settings: MatchingConfig) -> None:
    """Pairs that agree exactly on a configured key, pass the guard and do not differ in
    family name are links whatever their score ("same email (exact key)")."""
    lv = scored.cmp.levels
    family_ok = lv[:, 1] != 0
    exact = np.zeros(len(lv), bool)
    if "email" in settings.exact_keys:
        exact |= lv[:, 4] == 1
    if "phone" in settings.exact_keys:
        exact |= lv[:, 5] == 1
    if "name_dob" in settings.exact_keys:
        exact |= (lv[:, 0] == 4) & (lv[:, 1] == 3) & (lv[:, 2] == 4)
    hit = exact & family_ok & scored.cmp.guard
    scored.probability[hit] = np.maximum(scored.probability[hit], 0.999999)
    scored.exact = hit  # type: ignore[attr-defined]


def _store_pairs(db, data: Loaded, scored, review_above: float, run_id, replace: bool) -> None:
    keep = np.flatnonzero(scored.probability >= review_above)
    a, b = scored.cmp.a[keep], scored.cmp.b[keep]
    ha, hb = data.hashes[a], data.hashes[b]
    swap = ha > hb
    pa, pb = np.where(swap, hb, ha), np.where(swap, ha, hb)
    ra = data.ids[data.feats.profile_record[np.where(swap, b, a)]]
    rb = data.ids[data.feats.profile_record[np.where(swap, a, b)]]
    exact = getattr(scored, "exact", np.zeros(len(scored.probability), bool))
    rows = []
    for j, i in enumerate(keep.tolist()):
        parts = explain(scored.cmp.levels[i], scored.parts[i], bool(scored.cmp.swapped[i]))
        if exact[i]:
            parts.append(["exact key", _exact_reason(scored.cmp.levels[i]), None])
        rows.append(
            (
                int(pa[j]),
                int(pb[j]),
                int(ra[j]),
                int(rb[j]),
                float(scored.probability[i]),
                float(scored.weight[i]),
                "review",
                json.dumps(parts),
                run_id,
            )
        )
    if replace:
        db.execute("DELETE FROM match_pairs")
    db.conn.executemany(
        "INSERT OR REPLACE INTO match_pairs (profile_a, profile_b, record_a, record_b,"
        " probability, weight, status, comparisons, sync_run_id) VALUES (?,?,?,?,?,?,?,?,?)",
        rows,
    )


def _exact_reason(levels: np.ndarray) -> str:
    if levels[4] == 1:
        return "same email (exact key)"
    if levels[5] == 1:
        return "same phone (exact key)"
    return "same name and date of birth (exact key)"


def recluster(
    db: sqlite_utils.Database,
    settings: MatchingConfig,
    run_id: int | None = None,
    data: Loaded | None = None,
    decisions: dict | None = None,
    summary: MatchSummary | None = None,
    households: bool | None = None,
) -> MatchSummary:
    """Cluster the stored links and decisions into people and write the ids (no scoring).
    ``households``: whether the household guard applies (by default as the last match
    decided)."""
    started = time.perf_counter()
    data = data or _load_any(db, settings, keep=False)
    feats = data.feats
    if summary is None:
        merge_above, review_above, notes = calibrate(db, settings)
        summary = MatchSummary(
            mode="decisions",
            records=len(data.ids),
            profiles=feats.n,
            merge_above=merge_above,
            review_above=review_above,
            notes=notes,
        )
    decisions = load_decisions(db, data.index) if decisions is None else decisions
    stored = db.execute(
        "SELECT profile_a, profile_b, probability, status FROM match_pairs"
    ).fetchall()
    links = _relink(data, decisions, stored, summary.merge_above, np.ones(feats.n, bool))
    result = cluster(
        feats,
        links.pairs,
        links.strength,
        [k for k, v in decisions.items() if v],
        [k for k, v in decisions.items() if not v],
        settings.max_cluster_size,
        _households(db, settings) if households is None else households,
    )
    _set_statuses(db, stored, links, result, result.labels)
    summary.links = int((links.status == "link").sum())
    _write_people(db, data, result.labels, run_id, summary)
    summary.review = pending_questions(db)
    if summary.mode == "decisions":
        summary.seconds = round(time.perf_counter() - started, 2)
    _keep(db, data, settings, summary)
    return summary


@dataclass
class Links:
    """Stored pairs as profile indices, and which of them are links to cluster."""

    a: np.ndarray
    b: np.ndarray
    present: np.ndarray
    decided: np.ndarray
    link: np.ndarray
    li: np.ndarray  # indexes of the links
    pairs: np.ndarray  # the links' profiles
    strength: np.ndarray
    status: np.ndarray | None = None


def _relink(data: Loaded, decisions: dict, stored: list, merge_above: float, inside) -> Links:
    """Stored pairs → links. ``inside`` marks the profiles being clustered (all, or the
    people a re-sync touched): no link may leave them."""
    feats = data.feats
    ha, hb, prob, _ = (
        [np.array(c) for c in zip(*stored, strict=True)] if stored else [np.zeros(0)] * 4
    )
    a = data.index.find(ha.astype(np.int64))
    b = data.index.find(hb.astype(np.int64))
    prob = prob.astype(float)
    present = (a >= 0) & (b >= 0) & feats.matchable[a] & feats.matchable[b]
    decided = _decided(a, b, decisions, feats.n)
    link = present & ~decided & (prob >= merge_above)
    li = np.flatnonzero(link)
    if not (inside[a[li]] & inside[b[li]]).all():
        raise RuntimeError("a link leaves the people being clustered")
    pairs = np.stack([a[li], b[li]], axis=1)
    return Links(a, b, present, decided, link, li, pairs, prob[li])


def _decided(a: np.ndarray, b: np.ndarray, decisions: dict, n: int) -> np.ndarray:
    """Whether each pair (a, b) has a decision, either way round."""
    if not decisions:
        return np.zeros(len(a), bool)
    keys = np.array([min(x, y) * n + max(x, y) for x, y in decisions], np.int64)
    return np.isin(np.minimum(a, b) * n + np.maximum(a, b), keys)


def _set_statuses(db, stored: list, links: Links, result, labels: np.ndarray) -> None:
    """Each stored pair's status from the clustering; write the ones that changed.
    ``labels`` is each profile's group (−1 for profiles not clustered this time)."""
    a, b, present = links.a, links.b, links.present
    held = np.zeros(len(a), bool)
    held[links.li[sorted(result.held)]] = True
    la, lb = labels[np.maximum(a, 0)], labels[np.maximum(b, 0)]
    together = present & (la == lb) & (la >= 0)
    links.status = np.select(
        [~present, links.decided, links.link & ~held, held & ~together, together, present],
        ["gone", "decided", "link", "held", "joined", "review"],
        "review",
    )
    changed = [
        (s, r[0], r[1]) for s, r in zip(links.status.tolist(), stored, strict=True) if s != r[3]
    ]
    db.conn.executemany(
        "UPDATE match_pairs SET status = ? WHERE profile_a = ? AND profile_b = ?", changed
    )


def _write_people(db, data: Loaded, labels: np.ndarray, run_id, summary: MatchSummary) -> None:
    feats = data.feats
    person = _person(db, data)
    groups = _groups(labels, feats.record_profile, feats.matchable)
    result = assign_ids(groups, person, _next_id(db, int(person.max(initial=0))))
    people.write(db, data.ids, person, result, run_id)
    summary.merged_people = len(result.merged)
    summary.people = len(np.unique(result.person)) if len(result.person) else 0


def _groups(labels: np.ndarray, record_profile: np.ndarray, matchable: np.ndarray) -> np.ndarray:
    """Each record's group: its profile's, or one of its own when nobody else can be it."""
    groups = labels[record_profile]
    lone = ~matchable[record_profile]
    return np.where(lone, len(labels) + np.arange(len(groups)), groups)


def _next_id(db, highest_on_records: int) -> int:
    return 1 + max(
        db.execute("SELECT coalesce(max(person_id), 0) FROM people").fetchone()[0],
        db.execute("SELECT coalesce(max(merged_id), 0) FROM person_merges").fetchone()[0],
        highest_on_records,
    )


def _keep(db, data: Loaded, settings: MatchingConfig, summary: MatchSummary) -> None:
    """Stamp the kept profiles with what the people were clustered with."""
    if data.kept:
        match_cache.stamp(db, summary.merge_above, settings.max_cluster_size, summary.people)


# --- re-clustering only what a re-sync touched --------------------------------------------


def _seeds(data: Loaded, new: np.ndarray) -> np.ndarray:
    """Profiles whose people must be worked out again: new ones, ones whose records came
    back, and ones that became matchable or stopped being (an email turned shared)."""
    seeds = new | data.changes.matchable_changed
    seeds[data.changes.back] = True
    return seeds


def _judged_anew(db, data: Loaded, decisions: dict, merge_above: float, settings) -> np.ndarray:
    """Profiles of linked groups that the household guard may now judge differently,
    although no new record joined them. The guard reads the data as a whole in one
    place: whether two different given names are one name mistyped depends on how
    common each is (compare.similar_given), which new records change. So every pair of
    different given names within a group is judged with the features of the last match
    and of this one; groups with a changed verdict are clustered again."""
    feats, old_index = data.feats, data.changes.old_index
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
    old = match_cache.features(data.before, settings.shared_value_limit)
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
    feats, changes = data.feats, data.changes
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
    people.write(db, ids, before, assigned, run_id)
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
    hashes = set(data.changes.vanished.tolist())
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


def _record_run(db, run_id, summary: MatchSummary, watermark: int, settings, model: Model) -> None:
    db["match_runs"].insert(
        {
            "sync_run_id": run_id,
            "started_at": now(),
            "mode": summary.mode,
            "records": summary.records,
            "profiles": summary.profiles,
            "new_profiles": summary.new_profiles,
            "candidate_pairs": summary.candidate_pairs,
            "links": summary.links,
            "review": summary.review,
            "people": summary.people,
            "merged_people": summary.merged_people,
            "seconds": summary.seconds,
            "merge_above": summary.merge_above,
            "review_above": summary.review_above,
            "watermark": watermark,
            "settings_hash": settings_hash(settings),
            "model": json.dumps(model.to_json()),
            "notes": "\n".join(summary.notes) or None,
        }
    )


def model_table(model: Model) -> list[dict]:
    """Each comparison level's m, u and weight in bits, for docs and `harvest match`."""
    rows = []
    for name in COMPARISONS:
        w = model.weights(name)
        for i, level in enumerate(LEVELS[name]):
            rows.append(
                {
                    "comparison": name,
                    "level": level,
                    "m": model.m[name][i],
                    "u": model.u[name][i],
                    "bits": float(w[i]),
                }
            )
    return rows
