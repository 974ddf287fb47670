"""The Fellegi-Sunter model: what each level of agreement is worth, learnt from the data.

``log2(m / u)`` bits per level, where ``m`` is how often the same person is at that
level and ``u`` how often two strangers are. ``u`` comes from random pairs of the
charity's own profiles, less those a first model takes for one person; ``m`` is estimated by expectation maximisation in two
sessions, as Splink does, starting from (and gently pulled towards) defaults so that
a tiny data set still behaves. Review decisions fix their pairs' membership in EM.
Agreement on a rare value counts for more than on a common one (term frequency).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from harvest.people.compare import (
    COMPARISONS,
    DEFAULT_M,
    DEFAULT_U,
    EXACT,
    LEVELS,
    PRIOR_STRENGTH,
    TF_CLIP,
    TF_FIELDS,
    TF_MIN_PROFILES,
    Compared,
    compare,
)
from harvest.people.features import Features


@dataclass
class Model:
    """m and u per comparison level, and lambda: the chance two random profiles match."""

    m: dict[str, list[float]] = field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_M.items()}
    )
    u: dict[str, list[float]] = field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_U.items()}
    )
    lam: float = 0.3
    pairs: int = 0
    labelled: int = 0
    iterations: int = 0
    households: bool = True  # the household guard applies (compare.households_in)

    def to_json(self) -> dict:
        return {
            "m": self.m,
            "u": self.u,
            "lambda": self.lam,
            "pairs": self.pairs,
            "labelled": self.labelled,
            "iterations": self.iterations,
            "households": self.households,
        }

    @classmethod
    def from_json(cls, data: dict) -> Model:
        return cls(
            _padded(data["m"]),
            _padded(data["u"]),
            data["lambda"],
            data.get("pairs", 0),
            data.get("labelled", 0),
            data.get("iterations", 0),
            data.get("households", True),
        )

    def weights(self, name: str) -> np.ndarray:
        """log2(m/u) per level, and 0 for blank (indexed by level, −1 → last)."""
        w = np.log2(np.asarray(self.m[name]) / np.asarray(self.u[name]))
        return np.append(w, 0.0)


def _padded(probs: dict[str, list[float]]) -> dict[str, list[float]]:
    """A model saved before a comparison gained a top level (location: "same address and
    postcode") weighs that level as the one below it until the next full match."""
    return {name: list(p) + [p[-1]] * (len(LEVELS[name]) - len(p)) for name, p in probs.items()}


def _llr(model: Model, levels: np.ndarray) -> np.ndarray:
    total = np.zeros(len(levels))
    for i, name in enumerate(COMPARISONS):
        total += model.weights(name)[levels[:, i]]
    return total


def random_pairs(
    feats: Features, use: list[str] | None = None, pairs: int = 300_000, seed: int = 0
) -> Compared | None:
    """Random pairs of matchable profiles, compared: the sample ``u`` is learnt from."""
    idx = np.flatnonzero(feats.matchable)
    if len(idx) < 50:
        return None
    rng = np.random.default_rng(seed)
    n = min(pairs, len(idx) * (len(idx) - 1) // 2)
    a, b = rng.choice(idx, n), rng.choice(idx, n)
    keep = a != b
    return compare(feats, np.stack([a[keep], b[keep]], axis=1), use)


def estimate_u(sample: Compared | None, same: np.ndarray | None = None) -> dict[str, list[float]]:
    """u from random pairs: how often strangers agree at each level.

    ``same`` is each sampled pair's chance of being one person. Where people recur
    often (a short list, many sign-ups each) a random pair is now and then one person
    twice, and counting it as strangers makes agreeing look common: a date of birth
    shared by chance seems many times likelier than it is (on FEBRL3, twenty).
    Weighting each pair by ``1 - same`` counts strangers only.
    """
    out = {k: list(v) for k, v in DEFAULT_U.items()}
    if sample is None:
        return out
    weight = np.ones(len(sample.levels)) if same is None else 1 - same
    for i, name in enumerate(COMPARISONS):
        col = sample.levels[:, i]
        ok = col >= 0
        if ok.sum() >= 100:
            k = len(LEVELS[name])
            counts = np.bincount(col[ok], weights=weight[ok], minlength=k) + 1.0  # never zero
            out[name] = [float(x) for x in counts / counts.sum()]
    return out


def fit(
    levels: np.ndarray,
    start: Model | None = None,
    labels: np.ndarray | None = None,
    iterations: int = 30,
    tol: float = 1e-4,
    fixed_u: dict[str, list[float]] | None = None,
) -> Model:
    """Expectation maximisation of m, u and lambda over candidate pairs that pass the guard.

    ``labels`` (1 same, 0 different, −1 unknown) are people's review decisions: those
    pairs' membership is fixed, so the charity's own decisions calibrate the weights.
    """
    model = Model(
        m={k: list(v) for k, v in (start or Model()).m.items()},
        u={k: list(v) for k, v in (fixed_u or (start or Model()).u).items()},
        lam=(start or Model()).lam,
    )
    lam = model.lam
    known = labels if labels is not None else np.full(len(levels), -1)
    for it in range(iterations):
        logit = _llr(model, levels) * np.log(2) + np.log(lam / (1 - lam))
        p = 1 / (1 + np.exp(-np.clip(logit, -50, 50)))
        p = np.where(known >= 0, known, p)
        new_lam = (p.sum() + PRIOR_STRENGTH * 0.3) / (len(p) + PRIOR_STRENGTH)
        new = Model(
            m={k: list(v) for k, v in model.m.items()},
            u={k: list(v) for k, v in model.u.items()},
            lam=float(np.clip(new_lam, 0.001, 0.999)),
        )
        for i, name in enumerate(COMPARISONS):
            col = levels[:, i]
            ok = col >= 0
            if not ok.any():
                continue
            k = len(LEVELS[name])
            todo = [(new.m, p, DEFAULT_M)] + ([] if fixed_u else [(new.u, 1 - p, DEFAULT_U)])
            for target, weights, default in todo:
                counts = np.bincount(col[ok], weights=weights[ok], minlength=k)
                prior = PRIOR_STRENGTH * np.asarray(default[name])
                probs = (counts + prior) / (counts.sum() + PRIOR_STRENGTH)
                target[name] = [float(x) for x in np.clip(probs, 1e-6, 1)]
        delta = abs(new.lam - lam) + max(
            float(np.max(np.abs(np.subtract(new.m[c], model.m[c])))) for c in COMPARISONS
        )
        model, lam = new, new.lam
        model.iterations = it + 1
        if delta < tol:
            break
    model.pairs = len(levels)
    model.labelled = int((known >= 0).sum())
    return model


def train(
    feats: Features, cmp: Compared, use: list[str] | None = None, labels: np.ndarray | None = None
) -> Model:
    """Learn m by EM in two sessions, as Splink does, with u from random pairs; then once
    more, with u from the random pairs the first model takes for strangers.

    Among candidates whose names agree exactly, EM learns how often matches agree
    on everything else; among those whose dates of birth agree, on the names. A
    session never learns about the fields it was chosen by (they agree by
    construction). Then lambda, the chance that two random profiles are one person,
    is found as the fixed point of (expected matches among candidates) / (all pairs).
    """
    sample = random_pairs(feats, use)
    if sample is not None:
        sample.households = cmp.households
    u = estimate_u(sample)
    model = _train_once(feats, cmp, u, labels)
    if sample is not None:
        # once: the first model tells which random pairs were one person (estimate_u)
        model = _train_once(feats, cmp, estimate_u(sample, posterior(feats, model, sample)), labels)
    return model


def _train_once(
    feats: Features, cmp: Compared, u: dict[str, list[float]], labels: np.ndarray | None
) -> Model:
    model = Model(u=u)
    lv, guard = cmp.levels, cmp.guard
    known = labels if labels is not None else np.full(len(lv), -1)
    learnt: dict[str, list[list[float]]] = {c: [] for c in COMPARISONS}
    sessions = [((lv[:, 0] == 4) & (lv[:, 1] == 3), (0, 1)), (lv[:, 2] == 4, (2,))]
    for chosen, blanked in sessions:
        mask = guard & chosen
        if mask.sum() < 100:
            continue
        sub = lv[mask].copy()
        sub[:, list(blanked)] = -1
        fitted = fit(sub, start=model, labels=known[mask], fixed_u=u)
        model.iterations += fitted.iterations
        for i, c in enumerate(COMPARISONS):
            if i not in blanked and (sub[:, i] >= 0).any():
                learnt[c].append(fitted.m[c])
    for c, ms in learnt.items():
        if ms:
            model.m[c] = [float(x) for x in np.mean(ms, axis=0)]
    model.pairs = int(guard.sum())
    model.labelled = int((known >= 0).sum())
    m = int(feats.matchable.sum())
    total = max(m * (m - 1) / 2, 1.0)
    model.lam = min(0.5, 1 / max(m, 2))
    base = cmp.levels[guard]
    adj = tf_adjust(feats, model, cmp)[guard]
    for _ in range(20):
        w = _llr(model, base) + adj.sum(axis=1) + np.log2(model.lam / (1 - model.lam))
        expected = float((1 / (1 + np.exp2(-np.clip(w, -60, 60)))).sum())
        lam = float(np.clip(expected / total, 1e-12, 0.5))
        if abs(np.log(lam / model.lam)) < 1e-3:
            break
        model.lam = lam
    return model


def tf_adjust(feats: Features, model: Model, cmp: Compared) -> np.ndarray:
    """Bits added per comparison for agreeing on a rare value (taken away for a common one)."""
    adj = np.zeros(cmp.tf_code.shape, np.float32)
    if feats.n < TF_MIN_PROFILES:
        return adj  # too few records to tell a rare value from a common one
    for i, name in enumerate(COMPARISONS):
        codes = cmp.tf_code[:, i]
        hit = codes >= 0
        if hit.any():
            freq = feats.counts[TF_FIELDS[name]][codes[hit]] / max(feats.n, 1)
            base = model.u[name][EXACT[name]]
            adj[hit, i] = np.clip(np.log2(base / freq), -TF_CLIP, TF_CLIP)
    return adj


@dataclass
class Scored:
    cmp: Compared
    weight: np.ndarray  # total match weight in bits, prior included
    probability: np.ndarray  # 0 for pairs the guard refuses
    parts: np.ndarray  # (n, comparisons) bits per comparison


def posterior(feats: Features, model: Model, cmp: Compared) -> np.ndarray:
    """Each pair's chance of being one person (0 where the guard refuses it)."""
    return score(feats, model, cmp).probability


def score(feats: Features, model: Model, cmp: Compared) -> Scored:
    parts = tf_adjust(feats, model, cmp)  # float32: (pairs × comparisons) can be large
    for i, c in enumerate(COMPARISONS):
        parts[:, i] += model.weights(c)[cmp.levels[:, i]]
    weight = parts.sum(axis=1, dtype=np.float64) + np.log2(model.lam / (1 - model.lam))
    prob = 1 / (1 + np.exp2(-np.clip(weight, -60, 60)))
    prob = np.where(cmp.guard, prob, 0.0)
    return Scored(cmp, weight, prob, parts)
