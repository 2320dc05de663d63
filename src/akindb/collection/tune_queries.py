"""Held-out queries for ``tune`` without real ones (issue 14 part 4): recall measured on
stored vectors that are *not in the graph they query*, as a new query is not.

A stored vector searched for itself is an easy query: it sits in the graph beside its
neighbours, so the walk lands on it at once. Even with itself left out of the answer and the
truth, it overstates recall: on 100,000 real MiniLM vectors it said 0.988 at ef_search=48,
where 1,000 held-out real queries got 0.959 (docs/benchmarks.md, session 8). Moving each
sampled vector off itself by a fixed fraction of its neighbour distance matched those queries
on MiniLM but was 6x pessimistic on clustered Gaussian data: a calibration constant, not a
measurement. So this measures instead:

1. ``n_queries`` stored vectors are set aside as queries; the others, up to ``GRAPH_MAX`` of
   them, are built into a fresh index of the same kind and parameters (in batches, reporting
   progress; an interrupt lands between batches). The queries are truly held out of it.
2. For each knob value, recall@k of every query against the exact top-k of that graph's
   vectors. Up to ``GRAPH_MAX`` the graph holds every other vector, so this *is* the
   collection's size (less the queries): no model, no extrapolation. Held-out stored vectors
   then match real queries: at 100k, 0.951-0.958 at ef_search=40 over three samples where the
   real queries got 0.951 on the same side graphs.
3. Above ``GRAPH_MAX`` a second graph of a random half of the first measures how recall falls
   per doubling of size, and the mean is extrapolated linearly in ``log2(size)`` over
   ``log2(n / GRAPH_MAX)`` doublings. Each query's value is extrapolated *unclipped*, so their
   mean is the extrapolation of the means: clipping each at 1.0 (session 7) dropped the
   queries the small graph happened to miss while keeping the ones it happened to find, and
   put the estimate at 100k 0.02 below the measurement at ef_search=48.

``tune`` keeps the first setting whose ``bound`` reaches the target: the margin. The promise
is checked on *other* queries (the user's) against *another* graph (the collection's), which
carry noise of their own, as large per query as ours: the bound is a 97.5 % one-sided
prediction bound for the mean of a fresh sample as large as ours, ``mean - 1.96 * sqrt(2) *
SE``, not the confidence bound of our own mean (``mean - 1.96 * SE``). With the latter, at 100k
two of six samples chose ef_search=40 (estimates 0.958-0.959) where the real queries got
0.9475 on the collection's graph (docs/benchmarks.md, session 8). The margin shrinks with the
number of queries (about 0.009 at recall 0.96 with 1,000 queries, 0.021 with 200).

Cost: building the side graph, about a build of the collection's index (57 s for 99,000
MiniLM vectors, HNSW M=16, on a 2-core machine at load 13), once per ``tune`` call; above
``GRAPH_MAX`` 1.5 builds of ``GRAPH_MAX`` vectors whatever the size. Memory: a copy of the
side graph's vectors and the graph itself while it lives (+450 MB peak RSS at 100,000 x 384).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from akindb.core.topk import scores, top_k
from akindb.index.approx import ApproxIndex
from akindb.index.base import F32, I64, VectorIndex
from akindb.types import Metric

GRAPH_MAX = 150_000
BATCH = 8192
TRUTH_CELLS = 8 * 1024 * 1024
Z95 = 1.959964

Progress = Callable[[int, int], None]
"""(vectors built into side graphs so far, in all)."""


def extrapolate(big: list[float], small: list[float], steps: float) -> list[float]:
    """Per-query recall ``steps`` doublings beyond the big graph, linear in log2(size) and
    unclipped, so the mean of the result is the extrapolation of the means.

    >>> extrapolate([1.0, 0.9], [0.9, 1.0], 2.0)
    [1.2, 0.7]
    """
    return [round(b + (b - s) * steps, 12) for b, s in zip(big, small, strict=True)]


def _build(graph: ApproxIndex, labels: I64, vecs: F32, done: int, total: int,
           progress: Progress | None) -> None:
    for lo in range(0, len(labels), BATCH):
        graph.add(labels[lo : lo + BATCH], vecs[lo : lo + BATCH])
        if progress is not None:
            progress(done + min(lo + BATCH, len(labels)), total)
    graph.ready()


def exact_truth(vecs: F32, labels: I64, queries: F32, k: int, metric: Metric) -> list[set[int]]:
    """Each query's exact top-``k`` labels among ``vecs``, scored ``TRUTH_CELLS`` at a time: a
    flat index's batch search scores 256 MB blocks and partitions them into int64 (~1 GB at
    once for 1,000 queries over 99,000 vectors), and copies the vectors first.

    >>> v = np.array([[1, 0], [0, 1], [0.6, 0.8]], dtype=np.float32)
    >>> exact_truth(v, np.array([5, 6, 7]), np.array([[1, 0]], dtype=np.float32), 2, Metric.DOT)
    [{5, 7}]
    """
    sq = np.einsum("ij,ij->i", vecs, vecs) if metric is Metric.L2 else None
    step = max(1, TRUTH_CELLS // max(len(labels), 1))
    out: list[set[int]] = []
    for lo in range(0, len(queries), step):
        idx, _ = top_k(scores(vecs, queries[lo : lo + step], metric, sq), k)
        out.extend(set(labels[row].tolist()) for row in idx)
    return out


class HeldOut:
    """Held-out queries and the side graph(s) they are measured on (see the module doc)."""

    def __init__(
        self,
        index: ApproxIndex,
        make: Callable[[], VectorIndex],
        metric: Metric,
        n_queries: int,
        k: int,
        rng: np.random.Generator,
        progress: Progress | None = None,
    ) -> None:
        labels = index.labels()
        n = len(labels)
        nq = max(1, min(n_queries, n // 4))
        perm = rng.permutation(n)
        q_lab = np.sort(labels[perm[:nq]])
        others = labels[perm[nq:]]  # random order: any prefix is a random subset
        self.m = min(GRAPH_MAX, len(others))
        self.n = n
        self.queries: F32 = index.vectors_of(q_lab)
        self.k = k
        parts = [np.sort(others[: self.m])]
        if self.m < len(others) and self.m // 2 > 2 * k:
            parts.append(np.sort(others[: self.m // 2]))
        total, done = sum(len(p) for p in parts), 0
        self._graphs: list[tuple[ApproxIndex, list[set[int]]]] = []
        for part in parts:
            vecs = index.vectors_of(part)
            truth = exact_truth(vecs, part, self.queries, k, metric)
            graph = make()
            assert isinstance(graph, ApproxIndex)
            _build(graph, part, vecs, done, total, progress)
            done += len(part)
            del vecs
            self._graphs.append((graph, truth))
        self.steps = math.log2(n / self.m) if len(self._graphs) == 2 else 0.0

    def recalls(self, value: int) -> list[float]:
        """Per-query recall@k at knob ``value``, at (or extrapolated to) the collection's size;
        extrapolated values may leave [0, 1] (their mean is what estimates recall)."""
        per_graph: list[list[float]] = []
        for graph, truth in self._graphs:
            graph.set_knob(value)
            graph.ready()
            found, _ = graph.search(self.queries, self.k)
            per_graph.append([
                len(t.intersection(f)) / len(t) if t else 1.0
                for f, t in zip(found.tolist(), truth, strict=True)
            ])
        if self.steps == 0.0:
            return per_graph[0]
        return extrapolate(per_graph[0], per_graph[1], self.steps)


def bound(values: list[float]) -> float:
    """One-sided 97.5 % prediction bound for the mean of a fresh sample as large as
    ``values`` (see the module doc), clipped to [0, 1].

    >>> bound([1.0, 0.5, 1.0, 0.5])
    0.349924
    """
    n = len(values)
    if n == 0:
        return 1.0
    mean = sum(values) / n
    var = sum((x - mean) ** 2 for x in values) / max(n - 1, 1)
    return round(min(1.0, max(0.0, mean - Z95 * math.sqrt(2 * var / n))), 6)


def mean_ci(values: list[float]) -> tuple[float, float, float]:
    """Mean and its 95 % confidence interval (normal approximation over the queries), each
    clipped to [0, 1] (extrapolated per-query values may leave it).

    >>> mean_ci([1.0, 0.5, 1.0, 0.5])
    (0.75, 0.467104, 1.0)
    >>> mean_ci([1.2, 1.0])
    (1.0, 0.904004, 1.0)
    """
    n = len(values)
    if n == 0:
        return 1.0, 1.0, 1.0
    mean = sum(values) / n
    var = sum((x - mean) ** 2 for x in values) / max(n - 1, 1)
    half = Z95 * math.sqrt(var / n)

    def clip(x: float) -> float:
        return round(min(1.0, max(0.0, x)), 6)

    return clip(mean), clip(mean - half), clip(mean + half)
