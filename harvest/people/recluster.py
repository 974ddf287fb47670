"""Clustering the stored links and review decisions into people: everyone at once.

``recluster`` runs at the end of a full match, and on its own after review decisions
(no scoring): stored pairs become links (``_relink``), the links and "same" decisions
are clustered into people, each pair's status is set from the result, and every
record gets its person id. A re-sync re-clusters only the people it touched
(recluster_touched.py), with the helpers here.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import numpy as np
import sqlite_utils

from harvest.config import MatchingConfig
from harvest.people import match_cache
from harvest.people import write as people
from harvest.people.clusters import assign_ids, cluster
from harvest.people.decisions import calibrate, load_decisions
from harvest.people.match_load import Loaded, _load_any, _person
from harvest.people.match_state import MatchSummary, last_run, pending_questions
from harvest.people.model import Model


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
    assert links.status is not None  # set by _set_statuses
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
    present = _at(feats.matchable, a, False) & _at(feats.matchable, b, False)
    decided = _decided(a, b, decisions, feats.n)
    link = present & ~decided & (prob >= merge_above)
    li = np.flatnonzero(link)
    if not (inside[a[li]] & inside[b[li]]).all():
        raise RuntimeError("a link leaves the people being clustered")
    pairs = np.stack([a[li], b[li]], axis=1)
    return Links(a, b, present, decided, link, li, pairs, prob[li])


def _at(values: np.ndarray, index: np.ndarray, missing) -> np.ndarray:
    """``values[index]``, with ``missing`` where the index is −1 (a profile no current
    record has): never values[-1], which is another profile's, or no profile at all."""
    out = np.full(len(index), missing, dtype=values.dtype)
    ok = index >= 0
    out[ok] = values[index[ok]]
    return out


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
    la, lb = _at(labels, a, -1), _at(labels, b, -1)
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
    people.write(db, data.ids, person, result, run_id, feats.used_as)
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


def _households(db: sqlite_utils.Database, settings: MatchingConfig) -> bool:
    """Whether the household guard applies: as set, or as the last full match found."""
    if settings.households != "auto":
        return bool(settings.households)
    state = last_run(db)
    return Model.from_json(json.loads(state["model"])).households if state else True
