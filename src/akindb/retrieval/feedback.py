"""Pseudo-relevance feedback for the dense list: Rocchio's query update, on by default in hybrid
search.

The query vector is moved towards the mean of its own top ``m`` passages::

    q' = normalise((1 - beta) · q + beta · mean(v_1 … v_m))

(Rocchio, 1971, with no negative term; "dense PRF" in Li et al., 2021, "Pseudo Relevance
Feedback with Deep Language Models and Dense Retrievers"). It helps when the top passages are
mostly right; it drifts when they are not. So hybrid search takes them from its *fused* ranking
(better than the vector list alone), and only when the keyword list counts (``applies``); and
instead of a second index search it re-scores the candidates both lists already found
(``rescored``): one keyed read of their vectors and one small matrix product, then the lists are
fused again. Measured (docs/benchmarks.md, "Dense feedback on by default"): with the vector list's
top passages and a second search it lowered the docs dev task and was off; from the fused
ranking, re-scoring, it lifts both dev tasks, for about +0.07 of vector search's p50.

Since session 7 new collections run it in three rounds (``moved``): round 1 feeds back only the
first ranking's confident head (its top passages scoring at least 0.8 of the best), each later
round the previous round's top 5, always moving the query's own vector. Chosen on the same two
dev tasks (docs/benchmarks.md, "Session 7: quality"); each extra round re-scores the same
candidates, no read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from akindb.errors import InvalidArgumentError, refuse_unknown
from akindb.index.base import F32
from akindb.retrieval.fusion import FusionMethod, FusionParams, effective_weights
from akindb.retrieval.hybrid import Candidates, top_items, top_scored


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


@dataclass(frozen=True)
class RocchioParams:
    """Dense feedback in hybrid search (round-trips to JSON; stored with the collection's
    settings, beside RM3).

    * ``enabled``: move the query towards its best fused passages and re-score the candidates.
    * ``beta``: how far the query moves (0 = not at all). More: more recall on vocabulary
      mismatch, more drift when the top passages are wrong.
    * ``docs``: how many of the first fused ranking's passages form the centroid.
    * ``rounds``: how many times the query moves (``moved``): round 1 from the first fused
      ranking, each later round from the ranking the previous round produced (always from the
      query's own vector, so rounds do not compound the drift). 1 is session 6's Rocchio.
    * ``relative_cut``: round 1 takes only those of its ``docs`` passages whose fused score is
      at least this share of the best one (the first ranking's tail is the least trustworthy
      feedback); 0 takes all ``docs``. Later rounds take all ``docs``.

    Added fields default to session 6's behaviour, so a stored row without them reads as it
    did (one round, no cut).
    """

    enabled: bool = False
    beta: float = 0.4
    docs: int = 5
    rounds: int = 1
    relative_cut: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.beta <= 1.0:
            raise InvalidArgumentError(
                f"Rocchio beta must be within [0, 1], got {self.beta}")
        if not 1 <= self.docs <= 100:
            raise InvalidArgumentError(
                f"Rocchio docs must be within 1-100, got {self.docs}")
        if not 1 <= self.rounds <= 5:
            raise InvalidArgumentError(
                f"Rocchio rounds must be within 1-5, got {self.rounds}")
        if not 0.0 <= self.relative_cut <= 1.0:
            raise InvalidArgumentError(
                f"Rocchio relative_cut must be within [0, 1], got {self.relative_cut}")

    def to_dict(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "beta": self.beta, "docs": self.docs,
                "rounds": self.rounds, "relative_cut": self.relative_cut}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RocchioParams:
        refuse_unknown(d, (f.name for f in fields(cls)), "Rocchio settings")
        return cls(**dict(d))


def applies(c: Candidates, params: FusionParams) -> bool:
    """Whether dense feedback runs for this query: only when the keyword list counts (some BM25
    match and the keyword gate not shut). With no keyword evidence the fused ranking is the
    vector ranking, whose top passages measured as worse feedback (``bench/feedback.py``: vector
    Rocchio lowered the docs task), and hybrid keeps its promise that its score *is* the cosine
    then (``akindb.retrieval.hybrid``).

    >>> p = FusionParams(method="convex", keyword_gate_low=0.2, keyword_gate_high=0.3)
    >>> applies(Candidates({1: 0.5}, {1: 2.0}, strength=0.5), p)
    True
    >>> applies(Candidates({1: 0.5}, {1: 2.0}, strength=0.1), p)  # the gate is shut
    False
    >>> applies(Candidates({1: 0.5}, {}), p)  # no BM25 match
    False
    """
    return bool(c.keyword) and effective_weights(params, c.strength)["keyword"] > 0


def rescored(
    c: Candidates,
    qvec: F32,
    top: Sequence[int],
    vectors: Mapping[int, F32],
    beta: float,
    score: Callable[[F32, F32], F32],
) -> Candidates:
    """``c`` with every candidate's dense score computed for the Rocchio query moved towards
    the vectors of ``top`` (the first fused ranking's best ids).

    No second index search: the candidates both lists already found are re-scored (``score``:
    the metric's score of one query against rows), so feedback costs one small matrix product
    and one keyed read of their vectors. A candidate whose vector is missing keeps its score.

    >>> c = Candidates({1: 0.9, 2: 0.1}, {}, {1: 0.9, 2: 0.1})
    >>> vs = {1: np.array([1, 0], np.float32), 2: np.array([0, 1], np.float32)}
    >>> dot = lambda q, m: (m @ q).astype(np.float32)
    >>> out = rescored(c, np.array([0.6, 0.8], np.float32), [2], vs, 0.5, dot)
    >>> [round(out.vector[i], 3) for i in (1, 2)]
    [0.316, 0.949]
    """
    fb = [vectors[i] for i in top if i in vectors]
    moved = rocchio(qvec, fb, beta)
    if moved is qvec:
        return c
    ids = [i for i in dict.fromkeys([*c.vector, *c.keyword, *c.dense]) if i in vectors]
    if not ids:
        return c
    new = dict(zip(ids, score(moved, np.stack([vectors[i] for i in ids])).tolist(),
                   strict=True))
    vec = {i: new.get(i, s) for i, s in c.vector.items()}
    dense = {**c.dense, **new}
    return replace(c, vector=vec, dense=dense)


def moved(
    c: Candidates,
    qvec: F32,
    vectors: Mapping[int, F32],
    params: FusionParams,
    fb: RocchioParams,
    score: Callable[[F32, F32], F32],
) -> Candidates:
    """``c`` re-scored by ``fb.rounds`` rounds of Rocchio (``rescored``), as hybrid search and
    ``tune-hybrid`` run it: round 1 moves the query towards the first fused ranking's best
    ``fb.docs`` passages scoring at least ``fb.relative_cut`` of the best one; each later round
    moves the query's own vector towards the best ``fb.docs`` of the ranking the round before
    produced. Every round re-scores the same candidates from the same ``vectors``: the matrix
    is stacked once, and a later round costs one small matrix product and the new head of the
    ranking (``_head``), no read.

    >>> c = Candidates({1: 0.9, 2: 0.5, 3: 0.1}, {}, {1: 0.9, 2: 0.5, 3: 0.1})
    >>> vs = {i: np.eye(3, dtype=np.float32)[i - 1] for i in (1, 2, 3)}
    >>> dot = lambda q, m: (m @ q).astype(np.float32)
    >>> p = FusionParams(method="convex", keyword_gate_low=0, keyword_gate_high=0)
    >>> q = np.array([0.9, 0.5, 0.1], np.float32)
    >>> all_two = moved(c, q, vs, p, RocchioParams(True, 0.5, 2), dot)
    >>> best_only = moved(c, q, vs, p, RocchioParams(True, 0.5, 2, relative_cut=0.8), dot)
    >>> all_two.vector[2] > best_only.vector[2]  # the cut kept passage 2 out of round 1
    True
    """
    first = top_scored(c, params, fb.docs)
    if not first:
        return c
    best = first[0][1]
    top = [i for i, s in first if best <= 0 or s >= fb.relative_cut * best]
    if fb.rounds == 1:
        return rescored(c, qvec, top, vectors, fb.beta, score)
    ids = [i for i in dict.fromkeys([*c.vector, *c.keyword, *c.dense]) if i in vectors]
    if not ids:
        return c
    mat = np.stack([vectors[i] for i in ids])
    head = _head(c, ids, params, fb.docs)
    scores: list[float] | None = None
    for r in range(fb.rounds):
        if r and scores is not None:
            top = head(scores)
        q = rocchio(qvec, [vectors[i] for i in top if i in vectors], fb.beta)
        if q is qvec:
            return c if scores is None else _with(c, ids, scores)
        scores = score(q, mat).tolist()
    assert scores is not None
    return _with(c, ids, scores)


def _with(c: Candidates, ids: Sequence[int], scores: Sequence[float]) -> Candidates:
    """``c`` with the dense scores of ``ids`` replaced (what ``rescored`` returns)."""
    new = dict(zip(ids, scores, strict=True))
    return replace(c, vector={i: new.get(i, s) for i, s in c.vector.items()},
                   dense={**c.dense, **new})


def _head(c: Candidates, ids: Sequence[int], params: FusionParams, m: int
          ) -> Callable[[list[float]], list[int]]:
    """The best ``m`` of the fused ranking for new dense scores of ``ids``: exactly
    ``top_items(_with(c, ids, scores), params, m)``. For ``convex`` over cosines with every
    candidate's vector at hand, the keyword share is fixed, so only the dense share is
    recomputed, in numpy; ties at the top fall back to ``top_items`` (the tie order uses
    ranks)."""
    items = set(c.vector) | set(c.keyword)

    def slow(s: list[float]) -> list[int]:
        return top_items(_with(c, ids, s), params, m)

    if params.method is not FusionMethod.CONVEX or not c.bounded or not items <= set(ids):
        return slow
    w = effective_weights(params, c.strength)
    wv, wk = w["vector"], w["keyword"]
    if not c.keyword and wv > 0:
        wk = 0.0
    total = wv + wk
    if total <= 0:
        return slow
    pos = [j for j, i in enumerate(ids) if i in items]
    at = np.array([ids[j] for j in pos])
    kn = np.array([min(1.0, max(0.0, c.keyword.get(ids[j], 0.0) / c.bm25_max))
                   if c.bm25_max > 0 else 0.0 for j in pos])
    pk = wk * kn / total
    take = np.array(pos)

    def fast(s: list[float]) -> list[int]:
        dn = np.clip(np.asarray(s, np.float64)[take], 0.0, 1.0)
        fused = wv * dn / total + pk  # the same float arithmetic as hybrid.convex
        k = min(m, len(fused))
        order = np.argsort(-fused, kind="stable")[: k + 1]
        head = fused[order]
        if len(np.unique(head)) < len(head):  # a tie in the head or at the cut
            return slow(s)
        return [int(x) for x in at[order[:k]]]

    return fast
