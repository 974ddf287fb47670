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

This module holds the run itself. Reading the records into profiles is in match_load.py,
clustering everyone in recluster.py, and clustering only the touched people in
recluster_touched.py.
"""

from __future__ import annotations

import json
import logging
import time

import numpy as np
import sqlite_utils

from harvest.config import MatchingConfig
from harvest.people import match_cache
from harvest.people.blocking import candidate_pairs
from harvest.people.clusters import cluster
from harvest.people.compare import (
    COMPARISONS,
    FIELD_COMPARISONS,
    LEVELS,
    compare,
    explain,
    households_setting,
)
from harvest.people.decisions import calibrate, load_decisions
from harvest.people.features import Features, build_features
from harvest.people.match_load import Loaded, _load_any, load
from harvest.people.match_load import load_cached as load_cached  # re-exported
from harvest.people.match_load import profile_hash as profile_hash  # re-exported
from harvest.people.match_state import (
    EXACT_KEY,
    MatchSummary,
    last_run,
    no_records,
    nothing_new,
    settings_hash,
)
from harvest.people.model import Model, score, train
from harvest.people.recluster import recluster
from harvest.people.recluster_touched import _judged_anew, _seeds, recluster_touched
from harvest.store import now

log = logging.getLogger(__name__)
FULL_IF_GROWN = 0.25
FULL_IF_MORE_THAN = 500  # new profiles; fewer never trigger a full match
PAIR_STATUSES = ("link", "held", "review", "joined", "decided", "gone")


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
    if no_records(db):  # a model learnt from nothing must not become the last full match's
        return MatchSummary(mode="empty")
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
    """Pairs that agree exactly on a configured key, pass the guard, do not differ in
    family name and are not strangers sharing a contact are links whatever their score
    ("same email (exact key)")."""
    lv = scored.cmp.levels
    family_ok = lv[:, 1] != 0
    exact = np.zeros(len(lv), bool)
    if "email" in settings.exact_keys:
        exact |= lv[:, 4] == 1
    if "phone" in settings.exact_keys:
        exact |= lv[:, 5] == 1
    if "name_dob" in settings.exact_keys:
        exact |= (lv[:, 0] == 4) & (lv[:, 1] == 3) & (lv[:, 2] == 4)
    hit = exact & family_ok & scored.cmp.guard & _one_person(lv)
    scored.probability[hit] = np.maximum(scored.probability[hit], EXACT_KEY)
    scored.exact = hit  # type: ignore[attr-defined]


def _one_person(levels: np.ndarray) -> np.ndarray:
    """Whether a shared email or phone may join a pair by itself: a family inbox, a carer's
    or an office's is shared by people whose dates of birth disagree (anything but the
    same date, day and month swapped, or a blank) or whose given names clearly differ
    (a mere likeness, or an initial, counts only with the same date of birth). Such pairs
    are left to their score."""
    g, d = levels[:, 0], levels[:, 2]
    dates_ok = (d == -1) | (d >= 3)
    names_ok = (g == -1) | (g >= 3) | ((g >= 1) & (d >= 3))
    return dates_ok & names_ok


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
