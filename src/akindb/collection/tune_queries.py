"""Held-out queries for ``tune`` without real ones (issue 14 part 4): recall measured on
stored vectors that are *not in the graph they query*, as a new query is not.

A stored vector searched for itself is an easy query: it sits in the graph beside its
neighbours, so the walk lands on it at once. Even with itself left out of the answer and the
truth, it overstates recall: on 19,480 real MiniLM vectors it said 0.954 at ef_search=10, where
1,000 held-out real queries got 0.81 (they need ef_search=32 for 0.95; docs/benchmarks.md).
Moving each sampled vector off itself by a fixed fraction of its neighbour distance matched
those queries on MiniLM but was 6x pessimistic on clustered Gaussian data: a calibration
constant, not a measurement. So this measures instead:

1. ``n_queries`` stored vectors are set aside as queries; a random ``m`` of the others
   (``m`` at most ``GRAPH_MAX``) are built into a fresh index of the same kind and parameters,
   and half of those into a second one. The queries are truly held out of both.
2. For each knob value, recall@k of every query against the exact top-k of that graph's
   vectors, in both graphs.
3. Recall falls slowly as a collection grows (about 0.007 per doubling at ef_search=32 on the
   MiniLM data); the two graphs measure that fall, and each query's recall is extrapolated
   from ``m`` to the collection's ``n`` by ``log2(n / m)`` such steps (none when ``m`` is
   ``n`` minus the queries). ``tune`` then keeps the first setting whose lower 95 % bound
   reaches the target: the margin.

Cost: building the two side graphs (1.5x a build of ``m`` vectors; ~20 s for 20k HNSW
vectors on a loaded 2-core machine), once per ``tune`` call. Measured on the MiniLM data with
the half graph only: 0.942 / 0.962 at ef_search=24 / 32, where held-out real queries on the
whole collection got 0.928 / 0.955.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from akindb.index.approx import ApproxIndex
from akindb.index.base import F32, VectorIndex
from akindb.index.flat import FlatIndex
from akindb.types import Metric

GRAPH_MAX = 20_000
Z95 = 1.959964


class HeldOut:
    """Held-out queries and the two side graphs they are measured on (see the module doc)."""

    def __init__(
        self,
        index: ApproxIndex,
        make: Callable[[], VectorIndex],
        metric: Metric,
        n_queries: int,
        k: int,
        rng: np.random.Generator,
    ) -> None:
        labels = index.labels()
        n = len(labels)
        nq = max(1, min(n_queries, n // 4))
        perm = rng.permutation(n)
        q_lab = np.sort(labels[perm[:nq]])
        g_lab = np.sort(labels[perm[nq : nq + min(GRAPH_MAX, n - nq)]])
        self.queries: F32 = index.vectors_of(q_lab)
        self.k = k
        self.m = len(g_lab)
        self.n = n
        halves = [g_lab] + ([g_lab[: len(g_lab) // 2]] if len(g_lab) // 2 > 2 * k else [])
        self._graphs: list[tuple[ApproxIndex, list[set[int]]]] = []
        for part in halves:
            vecs = index.vectors_of(part)
            graph = make()
            assert isinstance(graph, ApproxIndex)
            graph.add(part, vecs)
            graph.ready()
            flat = FlatIndex(index.dim, metric)
            flat.add(part, vecs)
            truth, _ = flat.search(self.queries, k)
            self._graphs.append((graph, [set(r) for r in truth.tolist()]))
        self.steps = math.log2(n / self.m) if len(self._graphs) == 2 and self.m < n else 0.0

    def recalls(self, value: int) -> list[float]:
        """Per-query recall@k at knob ``value``, extrapolated to the whole collection."""
        per_graph: list[list[float]] = []
        for graph, truth in self._graphs:
            graph.set_knob(value)
            graph.ready()
            found, _ = graph.search(self.queries, self.k)
            per_graph.append([
                len(t.intersection(f)) / len(t) if t else 1.0
                for f, t in zip(found.tolist(), truth, strict=True)
            ])
        big = per_graph[0]
        if self.steps == 0.0:
            return big
        small = per_graph[1]
        return [min(1.0, max(0.0, b - (s - b) * self.steps)) for b, s in zip(big, small,
                                                                               strict=True)]


def mean_ci(values: list[float]) -> tuple[float, float, float]:
    """Mean and its 95 % confidence interval (normal approximation over the queries).

    >>> mean_ci([1.0, 0.5, 1.0, 0.5])
    (0.75, 0.467104, 1.0)
    """
    n = len(values)
    if n == 0:
        return 1.0, 1.0, 1.0
    mean = sum(values) / n
    var = sum((x - mean) ** 2 for x in values) / max(n - 1, 1)
    half = Z95 * math.sqrt(var / n)
    return round(mean, 6), round(max(0.0, mean - half), 6), round(min(1.0, mean + half), 6)
