"""``tune()`` without ``queries=`` keeps its promise on held-out queries (issue 14, part 4).

Stored vectors searched for themselves are easy queries (each sits in the graph beside its
neighbours). ``akindb.collection.tune_queries`` holds sampled vectors out of side graphs
instead; the setting it picks must reach the target on fresh queries from the same
distribution, and ``index_stats()`` must report the estimate with its confidence interval.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import akindb
from akindb.core.vectors import normalize_rows

DIM, N, NQ = 48, 6000, 400


def _clustered(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Many loose clusters in 48-d, unit-normalised (sentence-embedding-like: every query
    is new, its nearest stored vector is about as far as a stored vector's nearest other)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(300, DIM))
    pick = rng.integers(0, 300, N + NQ)
    pts = centers[pick] + 0.9 * rng.normal(size=(N + NQ, DIM))
    pts = normalize_rows(pts.astype(np.float32))
    return pts[:N], pts[N:]


def _held_out_recall(base: np.ndarray, q: np.ndarray, found: list[list[str]], k: int) -> float:
    truth = np.argsort(-(q @ base.T), axis=1)[:, :k]
    return float(np.mean([
        len({f"d{j}" for j in t} & set(f)) / k for t, f in zip(truth.tolist(), found, strict=True)
    ]))


@pytest.mark.parametrize("metric", ["cosine", "l2"])
def test_tune_without_queries_reaches_the_target_on_held_out_queries(
    metric: str, tmp_path: Path
) -> None:
    base, queries = _clustered(5)
    with akindb.open(tmp_path / "db") as db:
        col = db.create_collection("t", model=None, dim=DIM, metric=metric, index="hnsw",
                                   index_params={"M": 8, "ef_construction": 40})
        col.add(ids=[f"d{i}" for i in range(N)], vectors=base)
        report = col.tune(target_recall=0.95, n_queries=300)
        assert report["met"], report
        lo, hi = report["after"]["recall_ci"]
        assert lo >= 0.95 and lo <= report["after"]["recall"] <= hi
        found = col.search_vectors(queries, k=10, include=[])["ids"]
        if metric == "cosine":
            real = _held_out_recall(base, queries, found, 10)
        else:
            d = ((queries[:, None, :] - base[None, :, :]) ** 2).sum(-1)
            truth = np.argsort(d, axis=1)[:, :10]
            real = float(np.mean([len({f"d{j}" for j in t} & set(f)) / 10
                                  for t, f in zip(truth.tolist(), found, strict=True)]))
        assert real >= 0.95, (report["after"], real)
        tuned = col.index_stats()["tuned"]
        assert tuned["recall_ci"] == [lo, hi] and "held-out" in tuned["estimator"]
