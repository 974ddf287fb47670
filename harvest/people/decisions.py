"""Review decisions as matching sees them, and thresholds recalibrated from them.

A decision belongs to a pair of profiles (two sets of identifying details); the
latest one not undone is in force. The charity's decisions are its labelled sample:
with enough of them the thresholds move to where the decisions put them.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from harvest.config import MatchingConfig
from harvest.people.features import IDENTITY, IDENTITY_SQL
from harvest.people.match_load import profile_hash
from harvest.people.match_state import EXACT_KEY


class ProfileIndex(Protocol):
    """Profile hash → profile index, or None: a dict, or match_load.HashIndex."""

    def get(self, key: int, /) -> int | None: ...


IN_FORCE_SQL = """SELECT profile_a, profile_b, decision FROM match_decisions d
           WHERE undone_at IS NULL AND decision IN ('same', 'different') AND id = (
             SELECT max(id) FROM match_decisions e WHERE e.profile_a = d.profile_a
               AND e.profile_b = d.profile_b AND e.undone_at IS NULL)"""


def load_decisions(db, index: ProfileIndex) -> dict[tuple[int, int], bool]:
    """Active decisions (the latest not undone per pair) as profile indices → same?

    A profile is named by the hash of its identifying values. A non-UK postcode was not
    one of them before ``postcode_text`` was kept, so a decision made then names the
    profile without it: it still applies once a re-sync keeps the postcode."""
    rows = db.execute(IN_FORCE_SQL).fetchall()
    missing = {h for row in rows for h in row[:2] if index.get(h) is None}
    renamed = _without_postcode_text(db) if missing else {}
    out = {}
    for ha, hb, decision in rows:
        for a in _profiles(index, ha, renamed):
            for b in _profiles(index, hb, renamed):
                out[(a, b)] = decision == "same"
    return out


def _profiles(index: ProfileIndex, h: int, renamed: dict[int, set[int]]) -> list[int]:
    """The current profiles a decision's profile hash names: its own, and those that were
    named by it before their non-UK postcode was kept."""
    found = [index.get(x) for x in (h, *sorted(renamed.get(h, ())))]
    return [i for i in found if i is not None]


def _without_postcode_text(db) -> dict[int, set[int]]:
    """Profile hash as it was before non-UK postcodes were kept (``postcode_text``, which a
    store made earlier does not have) → the hashes of the current profiles it became."""
    legacy = ", ".join(f"[{f}]" for f in IDENTITY)
    rows = db.execute(
        f"SELECT DISTINCT {IDENTITY_SQL}, {legacy} FROM records"
        " WHERE is_current = 1 AND postcode IS NULL AND postcode_text IS NOT NULL"
    ).fetchall()
    out: dict[int, set[int]] = {}
    for row in rows:
        now, before = row[: len(IDENTITY)], row[len(IDENTITY) :]
        out.setdefault(profile_hash(before), set()).add(profile_hash(now))
    return out


def calibrate(db, settings: MatchingConfig) -> tuple[float, float, list[str]]:
    """Thresholds, moved by the charity's own decisions when there are enough of them.

    With 20 or more decisions: the merge threshold comes down to the lowest
    probability above which at least 97% of decided pairs were "same" (never below
    the review threshold), and the review threshold goes up to the highest
    probability below which at least 98% were "different". Decisions on automatic
    joins (``harvest review --joins``) can also raise the merge threshold: when 10 or
    more of them lie at or above it and fewer than 97% were "same", it goes up to the
    lowest probability above which they were (or past the highest "different").
    Joins on an exact key are the charity's own rule and take no part.
    """
    merge, review = settings.merge_above, settings.review_above
    rows = db.execute(
        """SELECT probability, decision = 'same' FROM match_decisions d
           WHERE undone_at IS NULL AND probability IS NOT NULL AND id = (
             SELECT max(id) FROM match_decisions e WHERE e.profile_a = d.profile_a
               AND e.profile_b = d.profile_b AND e.undone_at IS NULL)"""
    ).fetchall()
    if not rows:
        return merge, review, []
    p = np.array([r[0] for r in rows])
    same = np.array([bool(r[1]) for r in rows])
    agree = float(np.mean((p >= 0.5) == same))
    notes = [f"{len(rows)} review decision(s); the model agreed with {agree:.0%} of them"]
    if not settings.recalibrate or len(rows) < 20:
        return merge, review, notes
    order = np.argsort(-p)
    p, same = p[order], same[order]
    raised = _raised_merge(p, same, merge)
    precision = np.cumsum(same) / np.arange(1, len(p) + 1)
    ok = np.flatnonzero((precision >= 0.97) & (np.arange(1, len(p) + 1) >= 10))
    if raised is not None:
        merge = raised
        notes.append(f"decisions on automatic joins raised the merge threshold to {merge:.4f}")
    elif len(ok) and p[ok[-1]] < merge:
        merge = max(float(p[ok[-1]]), review + 1e-6)
        notes.append(f"decisions lowered the merge threshold to {merge:.4f}")
    tail_diff = np.cumsum(~same[::-1]) / np.arange(1, len(p) + 1)
    ok = np.flatnonzero((tail_diff >= 0.98) & (np.arange(1, len(p) + 1) >= 10))
    if len(ok):
        cut = float(p[::-1][ok[-1]])
        if review < cut < merge:
            review = cut
            notes.append(f"decisions raised the review threshold to {review:.4f}")
    return merge, review, notes


def _raised_merge(p: np.ndarray, same: np.ndarray, merge: float) -> float | None:
    """A higher merge threshold when the decided joins at or above ``merge`` were too
    often wrong (``p`` sorted high to low), else None."""
    joins = (p >= merge) & (p < EXACT_KEY)
    if joins.sum() < 10 or same[joins].mean() >= 0.97:
        return None
    jp, js = p[joins], same[joins]
    precision = np.cumsum(js) / np.arange(1, len(jp) + 1)
    ok = np.flatnonzero(precision >= 0.97)
    # the lowest cut above which joins were right often enough; none: past every "different"
    cut = float(jp[ok[-1]]) if len(ok) else float(jp[~js].max()) + 1e-6
    return min(max(cut, merge), 0.999) if cut > merge else None


class Settled:
    """What the decisions in force already say of two profiles (by hash), through other
    answers too: "same" when "same" answers join them (A is B, B is C: A is C), and
    "different" when a "different" lies between the profiles so joined. ``leave_out``: a
    pair whose own decision does not count (a new answer on it replaces the old)."""

    def __init__(self, db, leave_out: tuple[int, int] | None = None) -> None:
        self.parent: dict[int, int] = {}
        rows = [r for r in db.execute(IN_FORCE_SQL).fetchall() if r[:2] != leave_out]
        for a, b, decision in rows:
            if decision == "same":
                self.parent[self.find(a)] = self.find(b)
        self.apart = {
            frozenset((self.find(a), self.find(b))) for a, b, d in rows if d == "different"
        }

    def find(self, x: int) -> int:
        while self.parent.get(x, x) != x:
            x = self.parent[x]
        return x

    def says(self, a: int, b: int) -> str | None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return "same"
        return "different" if frozenset((ra, rb)) in self.apart else None
