"""Pairwise precision, recall and F1 of a grouping against the truth (benchmarks only)."""

from __future__ import annotations

import numpy as np


def pairwise(truth: np.ndarray, labels: np.ndarray) -> tuple[float, float, float]:
    def pairs(x: np.ndarray) -> int:
        _, c = np.unique(x, return_counts=True)
        return int((c * (c - 1) // 2).sum())

    tp = pairs(truth * (int(labels.max(initial=0)) + 1) + labels)
    p, r = tp / max(pairs(labels), 1), tp / max(pairs(truth), 1)
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def labels_of(ids: np.ndarray, links) -> np.ndarray:
    """A group label per id from linked pairs (a pandas MultiIndex of ids): components."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    position = {v: i for i, v in enumerate(ids.tolist())}
    a = np.array([position[x] for x in links.get_level_values(0)], np.int64)
    b = np.array([position[x] for x in links.get_level_values(1)], np.int64)
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(len(ids), len(ids)))
    return connected_components(graph, directed=False)[1]
