"""Exact search agrees with a brute-force reference for all three metrics."""

from __future__ import annotations

import numpy as np
import pytest

from akindb.core.topk import scores, to_distance, top_k
from akindb.core.vectors import normalize_rows
from akindb.index.flat import FlatIndex
from akindb.types import Metric


def _reference(mat: np.ndarray, q: np.ndarray, metric: Metric, k: int) -> list[list[int]]:
    out = []
    for qv in q:
        if metric is Metric.COSINE:
            s = [float(np.dot(qv, v) / (np.linalg.norm(qv) * np.linalg.norm(v))) for v in mat]
        elif metric is Metric.DOT:
            s = [float(np.dot(qv, v)) for v in mat]
        else:
            s = [-float(np.linalg.norm(qv - v)) for v in mat]
        out.append(sorted(range(len(mat)), key=lambda i: (-s[i], i))[:k])
    return out


@pytest.mark.parametrize("metric", list(Metric), ids=lambda m: m.value)
def test_flat_matches_bruteforce(metric: Metric) -> None:
    rng = np.random.default_rng(7)
    mat = rng.normal(size=(300, 24)).astype(np.float32)
    q = rng.normal(size=(20, 24)).astype(np.float32)
    idx = FlatIndex(24, metric)
    labels = np.arange(1000, 1300, dtype=np.int64)
    prep = normalize_rows if metric is Metric.COSINE else (lambda x: x)
    idx.add(labels, prep(mat))
    got, sc = idx.search(prep(q), 10)
    ref = _reference(mat, q, metric, 10)
    assert [[int(x) - 1000 for x in row] for row in got] == ref
    assert np.all(np.diff(sc, axis=1) <= 1e-6)


def test_l2_scores_are_negative_distances() -> None:
    m = np.array([[0, 0], [3, 4]], dtype=np.float32)
    s = scores(m, np.array([[0, 0]], dtype=np.float32), Metric.L2)
    assert s.tolist() == [[0.0, -5.0]]
    assert to_distance(s, Metric.L2).tolist() == [[0.0, 5.0]]


def test_top_k_ties_prefer_lower_index_and_k_larger_than_n() -> None:
    s = np.array([[0.5, 0.9, 0.5, 0.9, 0.1]], dtype=np.float32)
    idx, _ = top_k(s, 3)
    assert idx.tolist() == [[1, 3, 0]]
    idx, _ = top_k(s, 50)
    assert idx.tolist() == [[1, 3, 0, 2, 4]]


def test_flat_filter_and_remove() -> None:
    rng = np.random.default_rng(1)
    mat = normalize_rows(rng.normal(size=(100, 8)).astype(np.float32))
    idx = FlatIndex(8, Metric.COSINE)
    idx.add(np.arange(100, dtype=np.int64), mat)
    lab, _ = idx.search(mat[:1], 5, allowed=np.array([3, 50, 70], dtype=np.int64))
    assert set(lab[0][:3].tolist()) == {3, 50, 70} and lab[0][3:].tolist() == [-1, -1]
    idx.remove(np.array([0], dtype=np.int64))
    lab, _ = idx.search(mat[:1], 1)
    assert lab[0][0] != 0 and len(idx) == 99


def test_one_row_fast_path_is_the_batch_answer() -> None:
    """``top_k`` on one row (the exact single query's own steps) answers what the batch path
    answers for that row: same labels, same scores, same tie order, NaN included."""
    rng = np.random.default_rng(0)
    for trial in range(3000):
        n = int(rng.integers(2, 60))
        k = int(rng.integers(1, n + 3))
        if trial % 3 == 0:
            row = rng.normal(size=n).astype(np.float32)
        elif trial % 3 == 1:
            row = rng.integers(0, 4, size=n).astype(np.float32)  # runs of ties at the cut
        else:
            row = np.round(rng.normal(size=n), 1).astype(np.float32)
        row[rng.random(n) < 0.05] = np.nan if trial % 7 == 0 else row[0]
        one_i, one_s = top_k(row[None], k)
        two_i, two_s = top_k(np.vstack([row, row]), k)  # nq == 2: the general path
        assert one_i.dtype == np.int64 and one_s.dtype == np.float32
        assert np.array_equal(one_i, two_i[:1])
        assert np.array_equal(one_s, two_s[:1], equal_nan=True)
