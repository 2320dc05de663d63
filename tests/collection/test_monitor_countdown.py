"""The recall monitor samples each search with probability ``rate`` by counting searches down
to the next sample (a geometric gap; session 8: the lean single query decrements a counter
instead of calling ``offer``, which drew a ``random()`` per search). Same law as before: the
share of searches sampled is ``rate``, and rate 1 samples every one."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

import akindb
from akindb.collection import monitor


def test_the_gap_is_geometric() -> None:
    n = 40000
    for rate in (0.01, 0.2, 0.5, 0.9):
        gaps = [monitor._gap(rate) for _ in range(n)]
        mean = (1 - rate) / rate
        sd = math.sqrt(1 - rate) / rate / math.sqrt(n)
        assert abs(float(np.mean(gaps)) - mean) < 6 * sd, rate
        # P(gap = 0) = rate: the search right after a sample is sampled at rate too
        zero = sum(g == 0 for g in gaps) / n
        assert abs(zero - rate) < 6 * math.sqrt(rate * (1 - rate) / n), rate
    assert monitor._gap(1.0) == 0 and monitor._gap(0.0) > 10**15


def _count_takes(col: akindb.Collection, searches: int, vector_of: Any) -> int:
    mon = col.parts.live.monitor
    assert mon is not None
    taken = 0
    take = mon.take

    def counting(*args: Any) -> None:
        nonlocal taken
        taken += 1
        take(*args)

    mon.take = counting  # type: ignore[method-assign]
    for i in range(searches):
        col.search_vector(vector_of(i), k=5)
    monitor.drain()
    return taken


def test_lean_searches_are_sampled_at_the_rate(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    vecs = rng.standard_normal((300, 16)).astype(np.float32)
    with akindb.open(tmp_path / "db") as db:
        col = db.create_collection("c", model=None, dim=16, index="hnsw")
        col.add(vectors=vecs, ids=[f"v{i}" for i in range(300)])
        col.search_vector(vecs[0])  # loads the index: the lean path needs it ready
        monitor.configure(col, rate=1.0, k=5)
        assert _count_takes(col, 50, lambda i: vecs[i]) == 50  # every one
        monitor.configure(col, rate=0.2, k=5)
        n = 3000
        got = _count_takes(col, n, lambda i: vecs[i % 300])
        assert abs(got - 0.2 * n) < 6 * math.sqrt(n * 0.2 * 0.8), got
        monitor.configure(col, rate=0.0)
        assert col.parts.live.monitor is None
