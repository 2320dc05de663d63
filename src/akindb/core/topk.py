"""Exact similarity and top-k: the oracle every approximate index is tested against."""

from __future__ import annotations

import numpy as np

from akindb.types import F32, I64, Metric


def scores(matrix: F32, queries: F32, metric: Metric, sq_norms: F32 | None = None) -> F32:
    """Similarity scores, higher = more similar, shape (n_queries, n_rows).

    For cosine, ``matrix`` and ``queries`` must already be unit-normalised (so cosine = dot).
    For l2 the score is the negative Euclidean distance; ``sq_norms`` (squared row norms of
    ``matrix``) may be passed to avoid recomputing them.

    >>> m = np.array([[1, 0], [0, 1]], dtype=np.float32)
    >>> [round(float(v), 3) for v in scores(m, np.array([[1, 0]], dtype=np.float32), Metric.L2)[0]]
    [-0.0, -1.414]
    """
    dots = queries @ matrix.T
    if metric is not Metric.L2:
        return dots
    if sq_norms is None:
        sq_norms = np.einsum("ij,ij->i", matrix, matrix)
    q_sq = np.einsum("ij,ij->i", queries, queries)[:, None]
    d2 = q_sq - 2.0 * dots + sq_norms[None, :]
    np.maximum(d2, 0.0, out=d2)
    out: F32 = -np.sqrt(d2, out=d2)
    return out


def to_distance(score: F32, metric: Metric) -> F32:
    """Native distance from a score: ``1 - cos`` for cosine, ``-dot`` for dot, ``-score`` for l2.

    >>> to_distance(np.array([0.25], dtype=np.float32), Metric.COSINE).tolist()
    [0.75]
    """
    if metric is Metric.COSINE:
        return (1.0 - score).astype(np.float32, copy=False)
    return (-score).astype(np.float32, copy=False)


def top_k(score_rows: F32, k: int) -> tuple[I64, F32]:
    """Indices and scores of the k best columns of each row, best first.

    Ties are broken by the lower column index, so results are deterministic.

    >>> idx, sc = top_k(np.array([[0.1, 0.9, 0.9, 0.5]], dtype=np.float32), 3)
    >>> idx.tolist(), sc.tolist()
    ([[1, 2, 3]], [[0.8999999761581421, 0.8999999761581421, 0.5]])
    """
    nq, n = score_rows.shape
    k = min(k, n)
    if k <= 0:
        return np.zeros((nq, 0), dtype=np.int64), np.zeros((nq, 0), dtype=np.float32)
    if nq == 1 and k < n:
        # One query (every exact single search): the same steps on the row itself, without
        # take_along_axis (a Python-level numpy function, three of them cost ~20 µs a query);
        # same answer, same ties. A run of ties at the cut takes the general path below.
        row = score_rows[0]
        part1 = np.argpartition(-row, k)[: k + 1]
        sc1 = row[part1]
        order1 = np.lexsort((part1, -sc1))
        best_sc = sc1[order1]
        if best_sc[k] != best_sc[k - 1]:
            return part1[order1[:k]].astype(np.int64)[None], best_sc[None, :k].copy()
    if k < n:
        # Partition at k (not k-1): the first k+1 columns are the k+1 best, so a tie across the
        # cut shows as the (k+1)-th score equalling the k-th, with no extra pass over the row.
        part = np.argpartition(-score_rows, k, axis=1)[:, : k + 1]
        part_sc = np.take_along_axis(score_rows, part, axis=1)
        order = np.lexsort((part, -part_sc), axis=1)
        srt_idx = np.take_along_axis(part, order, axis=1).astype(np.int64)
        srt_sc = np.take_along_axis(part_sc, order, axis=1)
        out_idx, out_sc = srt_idx[:, :k].copy(), srt_sc[:, :k].copy()
        # Rows with a run of ties at the k-th score: redo them so the lower column index wins.
        for r in np.flatnonzero(srt_sc[:, k] == srt_sc[:, k - 1]):
            row = score_rows[r]
            cand = np.flatnonzero(row >= srt_sc[r, k - 1])
            best = cand[np.lexsort((cand, -row[cand]))[:k]]
            out_idx[r] = best
            out_sc[r] = row[best]
        return out_idx, out_sc
    order = np.lexsort((np.broadcast_to(np.arange(n), (nq, n)), -score_rows), axis=1)
    return order.astype(np.int64), np.take_along_axis(score_rows, order, axis=1)
