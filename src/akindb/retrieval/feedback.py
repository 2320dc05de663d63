"""Pseudo-relevance feedback for the dense list: Rocchio's query update.

The query vector is moved towards the mean of its own top ``m`` passages and searched again::

    q' = normalise((1 - beta) · q + beta · mean(v_1 … v_m))

(Rocchio, 1971, with no negative term; "dense PRF" in Li et al., 2021, "Pseudo Relevance
Feedback with Deep Language Models and Dense Retrievers"). It helps when the top passages are
mostly right and the query is short; it drifts when they are not. It costs a second index
search per query. Off by default: ``bench/quality.py --prf`` measured it on the dev tasks
(docs/benchmarks.md, "Finding the right passage").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from akindb.index.base import F32


def rocchio(q: F32, top: Sequence[F32], beta: float) -> F32:
    """The moved query vector (unit length).

    >>> v = rocchio(np.array([1, 0], np.float32), [np.array([0, 1], np.float32)], 0.5)
    >>> [round(float(x), 4) for x in v]
    [0.7071, 0.7071]
    """
    if not top or beta <= 0:
        return q
    centroid = np.mean(np.stack(top), axis=0)
    centroid = centroid / max(float(np.linalg.norm(centroid)), 1e-12)
    qn = q / max(float(np.linalg.norm(q)), 1e-12)
    out = (1 - beta) * qn + beta * centroid
    moved: F32 = (out / max(float(np.linalg.norm(out)), 1e-12)).astype(np.float32)
    return moved


def top_ids(scores: Mapping[int, float], m: int) -> list[int]:
    """The ``m`` best ids of a ``{id: score}`` list (ties by id).

    >>> top_ids({3: 0.5, 1: 0.9, 2: 0.5}, 2)
    [1, 2]
    """
    return sorted(scores, key=lambda i: (-scores[i], i))[:m]
