"""The cell key method: the same small, fixed noise for the same set of people.

This is the method of the Australian Bureau of Statistics' TableBuilder (Thompson,
Broadfoot and Elazar, 2013) and of the ONS's Census 2021 tables; see docs/privacy.md.

* Every person gets a **record key**, a number from 0 to 255 made from their
  ``person_id`` with the secret pseudonym key (an HMAC), so nobody without the key can
  work it out, and it stays the same from one publish to the next.
* A cell's **cell key** is the sum of its people's record keys, modulo 256. The same
  set of people always has the same cell key, wherever the cell appears.
* The noise added to a count ``n`` is read from a fixed **perturbation table**, row
  ``min(n, CAP)``, column the cell key. Each row is a distribution on -D..+D with mean
  zero (to within 1/256) that never makes a count negative; 0 stays 0.
* Then the disclosure rule: a cell whose true count or noisy count is below the
  threshold (zero included) is shown as ``<T``; the others are rounded to ``round_to``.

Asking the same question twice, or in another table, gives the same answer, so the
noise cannot be averaged away; two cells that differ by one person have unrelated
cell keys, so their difference is the person plus two independent noises.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import cache
from typing import Any

import numpy as np

KEYS = 256  # record and cell keys are 0..255
NOISE = 2  # D: the noise is at most ±2
CAP = 2 * NOISE + 1  # counts from CAP up share the last row of the table
ATTENDANCE_SALT, ATTENDANCE_STEP = 97, 151  # see attendance_key


def record_key(key: bytes, person_id: int) -> int:
    """A person's record key, 0..255: fixed for a person and a secret key."""
    digest = hmac.new(key, f"cell-key:{person_id}".encode(), hashlib.sha256).digest()
    return digest[0]


def attendance_key(cell_key: Any, attendances: Any) -> np.ndarray:
    """The key for a count of attendances: the people's cell key moved by the count itself,
    so two cells of the same people with different attendances get unrelated noise (the
    difference of their published figures does not cancel the noise), while the same
    cell always gets the same."""
    people = np.asarray(cell_key, dtype=np.int64)
    return (people + ATTENDANCE_SALT + ATTENDANCE_STEP * np.asarray(attendances, np.int64)) % KEYS


def _distribution(n: int, bound: int) -> dict[int, float]:
    """Noise values for a true count n: -bound..bound, never below -n, with mean zero."""
    if n == 0:
        return {0: 1.0}
    weights = {j: float(bound + 1 - abs(j)) for j in range(max(-bound, -n), bound + 1)}
    excess = sum(j * w for j, w in weights.items())  # > 0 when the left side is cut off
    weights[max(-bound, -n)] += excess / min(bound, n)
    total = sum(weights.values())
    return {j: w / total for j, w in weights.items()}


@cache
def ptable(bound: int = NOISE) -> np.ndarray:
    """The perturbation table: ``ptable()[min(n, CAP), cell_key]`` is the noise to add."""
    cap = 2 * bound + 1
    table = np.zeros((cap + 1, KEYS), dtype=np.int64)
    for n in range(cap + 1):
        dist = _distribution(n, bound)
        edges, cumulative = [], 0.0
        for j in sorted(dist):
            cumulative += dist[j]
            edges.append((round(cumulative * KEYS), j))
        col = 0
        for edge, j in edges:
            table[n, col:edge] = j
            col = max(col, edge)
        table[n, col:] = max(dist)
    return table


def noise(n: Any, cell_key: Any, bound: int = NOISE) -> np.ndarray:
    """The noise for counts ``n`` with cell keys ``cell_key`` (arrays of the same length)."""
    table = ptable(bound)
    rows = np.minimum(np.asarray(n, dtype=np.int64), table.shape[0] - 1)
    return table[rows, np.asarray(cell_key, dtype=np.int64) % KEYS]


def protect(
    n: Any, cell_key: Any, below: int, round_to: int, bound: int = NOISE
) -> list[int | str]:
    """Counts as published: ``<below`` for true or noisy counts under it, else rounded."""
    true = np.asarray(n, dtype=np.int64)
    noisy = true + noise(true, cell_key, bound)
    rounded = (noisy + round_to // 2) // round_to * round_to
    marker = f"<{below}"
    small = (true < below) | (noisy < below)
    return [marker if s else int(r) for s, r in zip(small.tolist(), rounded.tolist(), strict=True)]


def percent(part: list[int | str], whole: list[int | str]) -> list[float | str]:
    """``part`` as a percentage of ``whole``, from the published counts."""
    out: list[float | str] = []
    for p, w in zip(part, whole, strict=True):
        if isinstance(p, str) or isinstance(w, str) or not w:
            out.append("suppressed")
        else:
            out.append(round(100.0 * p / w, 1))
    return out


def perturbed_average(
    total: Any, top: Any, n: Any, cell_key: Any, salt: int, shown_from: int
) -> list[float | str]:
    """Averages of ``n`` values summing to ``total``, each sum moved by up to half the
    largest value in the cell (``top``), by an amount fixed by the cell key: one person
    more or less cannot be read off the difference of two averages. Shown only for
    ``n >= shown_from``."""
    n_arr = np.asarray(n, dtype=np.float64)
    keys = (np.asarray(cell_key, dtype=np.int64) * 7 + salt) % KEYS
    shift = ((keys + 0.5) / KEYS - 0.5) * np.asarray(top, dtype=np.float64)
    values = (np.asarray(total, dtype=np.float64) + shift) / np.maximum(n_arr, 1)
    return [
        round(float(v), 1) if k >= shown_from else "suppressed"
        for v, k in zip(values.tolist(), np.asarray(n).tolist(), strict=True)
    ]


def perturbed_total(total: Any, top: Any, cell_key: Any, salt: int, round_to: int) -> list[int]:
    """Sums (such as hours volunteered) as published: each moved by up to half the largest
    single value in the cell (``top``), by an amount fixed by the cell key as in
    ``perturbed_average``, then rounded to ``round_to``. The same cell always gets the
    same figure; one person more or less cannot be read off the difference of two."""
    keys = (np.asarray(cell_key, dtype=np.int64) * 7 + salt) % KEYS
    shift = ((keys + 0.5) / KEYS - 0.5) * np.asarray(top, dtype=np.float64)
    moved = np.maximum(np.asarray(total, dtype=np.float64) + shift, 0.0)
    rounded = np.floor(moved / round_to + 0.5) * round_to
    return [int(v) for v in rounded.tolist()]
