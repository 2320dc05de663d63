"""The default hybrid pipeline's hot path: ``convex`` fusion and dense feedback rounds on arrays.

``hybrid.convex`` and ``feedback.moved`` define the answers, one dict and one ``FusedItem`` per
candidate; that was ~1.1 ms of a 4.9 ms hybrid query plus ~0.5 ms per feedback round
(docs/benchmarks.md, "Issue 17's latency ratio on a quiet, fast machine"). Here one query's
candidates are numpy arrays and the same numbers come out, bit for bit:

* the score is the same float64 expression, ``wv·clip(dense)/total + wk·clip(bm25/max)/total``,
  element by element (IEEE arithmetic is the same in numpy as in Python);
* the order is the same key, (score descending, best rank in either list, id), by ``lexsort``;
  ranks in each list are (score descending, id), as ``hybrid._ranks`` gives them;
* the feedback rounds re-score the same matrix rows in the same order (``feedback.moved``'s
  ``ids``), so the BLAS product gives the same bits; a round whose feedback passages are the
  ones of the round before (same ids, same order) would move the query to the same vector, so
  the rounds stop there (same answer, less work);
* only the hits asked for become ``FusedItem`` objects.

Only ``convex`` over cosines (``Candidates.bounded``) runs here; other methods and metrics keep
the dict code. ``tests/retrieval/test_convex_arrays.py`` checks both against each other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from akindb.index.base import F32
from akindb.retrieval.feedback import RocchioParams, rocchio
from akindb.retrieval.fusion import FusedItem, FusionMethod, FusionParams, effective_weights
from akindb.retrieval.hybrid import Candidates

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


def supported(c: Candidates, params: FusionParams) -> bool:
    """Whether this module computes ``c``'s fusion (``convex`` over cosines)."""
    return params.method is FusionMethod.CONVEX and c.bounded


def _list_ranks(scores: F64, ids: I64, member: Bools, big: int) -> I64:
    """1-based rank of each member in its list by (score descending, id); ``big`` elsewhere."""
    out = np.full(len(ids), big, dtype=np.int64)
    where = np.flatnonzero(member)
    if len(where):
        order = where[np.lexsort((ids[where], -scores[where]))]
        out[order] = np.arange(1, len(order) + 1)
    return out


@dataclass
class Pool:
    """One query's candidates in a fixed order: the vector list's, then the keyword-only ones
    (``dict.fromkeys([*c.vector, *c.keyword])``, the order ``feedback.moved`` stacks rows in).

    ``dense``: each candidate's dense score (``c.dense``, else its vector score, else 0);
    ``has_dense``: whether ``convex`` reports it in ``raw``; ``kr``: keyword ranks (fixed);
    ``pk``: the keyword share of the score (fixed, the query's terms do not move).
    """

    ids: list[int]
    idx: I64
    in_vec: Bools
    in_key: Bools
    key: F64
    dense: F64
    has_dense: Bools
    kr: I64
    pk: F64
    wv: float
    total: float

    @classmethod
    def of(cls, c: Candidates, params: FusionParams) -> Pool:
        """``c`` as arrays, with ``convex``'s weights for ``params`` (see ``supported``)."""
        w = effective_weights(params, c.strength)
        wv, wk = w["vector"], w["keyword"]
        if not c.keyword and wv > 0:
            wk = 0.0  # no BM25 evidence at all: the score is the cosine (hybrid.convex)
        total = wv + wk
        vec, key_, dense_ = c.vector, c.keyword, c.dense
        ids = [*vec, *(i for i in key_ if i not in vec)]
        n = len(ids)
        idx = np.array(ids, dtype=np.int64)
        in_vec = np.zeros(n, dtype=bool)
        in_vec[: len(vec)] = True
        in_key = np.array([i in key_ for i in ids], dtype=bool)
        key = np.array([key_.get(i, 0.0) for i in ids], dtype=np.float64)
        dense = np.array([dense_.get(i, vec.get(i, 0.0)) for i in ids], dtype=np.float64)
        has_dense = np.array([i in vec or i in dense_ for i in ids], dtype=bool)
        kn = np.clip(key / c.bm25_max, 0.0, 1.0) if c.bm25_max > 0 else np.zeros(n)
        pk = wk * kn / total if total > 0 else np.zeros(n)
        kr = _list_ranks(key, idx, in_key, n + 1)
        return cls(ids, idx, in_vec, in_key, key, dense, has_dense, kr, pk, wv, total)

    def shares(self, dense: F64) -> tuple[F64, F64]:
        """The vector share of each candidate's score and the score, for these dense scores."""
        pv = self.wv * np.clip(dense, 0.0, 1.0) / self.total if self.total > 0 else (
            np.zeros(len(dense)))
        return pv, pv + self.pk

    def order(self, dense: F64) -> tuple[I64, F64, F64, I64]:
        """Positions best first (``hybrid.convex``'s order), with the shares and vector ranks."""
        n = len(self.ids)
        pv, score = self.shares(dense)
        vr = _list_ranks(dense, self.idx, self.in_vec, n + 1)
        best = np.minimum(vr, self.kr)
        return np.lexsort((self.idx, best, -score)), pv, score, vr

    def head(self, dense: F64, m: int) -> tuple[list[int], list[float]]:
        """The first ``m`` ids of the fused ranking and their scores (``hybrid.top_scored``)."""
        _, score = self.shares(dense)
        n = len(score)
        k = min(m, n)
        # the k + 1 best by score alone; when their scores are all distinct the order needs no
        # tie-break (ranks, ids), so the full lexsort is skipped
        near = np.argpartition(-score, k)[: k + 1] if k < n else np.arange(n)
        near = near[np.argsort(-score[near], kind="stable")]
        vals = score[near]
        if len(vals) < 2 or bool((vals[1:] < vals[:-1]).all()):
            top = near[:k]
        else:
            top = self.order(dense)[0][:k]
        return self.idx[top].tolist(), score[top].tolist()

    def fused(self, dense: F64, limit: int) -> tuple[list[FusedItem], list[float]]:
        """``hybrid.fuse_candidates``'s first ``limit`` items and shown scores for these dense
        scores (the vector list's scores are the dense ones, as ``feedback._with`` leaves them).
        """
        order, pv, score, vr = self.order(dense)
        out: list[FusedItem] = []
        for j in order[:limit].tolist():
            i = self.ids[j]
            ranks: dict[str, int] = {}
            raw: dict[str, float] = {}
            if self.in_vec[j]:
                ranks["vector"] = int(vr[j])
            if self.in_key[j]:
                ranks["keyword"] = int(self.kr[j])
            if self.has_dense[j]:
                raw["vector"] = float(dense[j])
            if self.in_key[j]:
                raw["keyword"] = float(self.key[j])
            p_v, p_k = float(pv[j]), float(self.pk[j])
            out.append(FusedItem(i, float(score[j]), ranks, raw, {"vector": p_v, "keyword": p_k}))
        return out, [f.score for f in out]


def feedback_rounds(
    pool: Pool,
    qvec: F32,
    rows: F32,
    at: I64,
    raw_of: Callable[[Sequence[int]], dict[int, F32]],
    fb: RocchioParams,
    score: Callable[[F32, F32], F32],
) -> F64:
    """The dense scores after ``fb.rounds`` rounds of Rocchio (``feedback.moved``).

    ``rows``: the matrix ``score`` takes, one row per candidate that has a vector, in pool
    order; ``at``: their positions in the pool; ``raw_of``: stored vectors by id (the centroid
    is the mean of the *stored* vectors, as ``feedback.rocchio`` takes them), asked first for
    the first ranking's best ``2 · docs`` so that later rounds' passages are usually read by
    then; a candidate without a vector keeps its score. Returns new dense scores (the pool's
    own are unchanged).
    """
    dense = pool.dense
    first_ids, first_scores = pool.head(dense, 2 * fb.docs if fb.rounds > 1 else fb.docs)
    if not first_ids:
        return dense
    raw_of(first_ids)  # one read for this round's passages and, likely, the later rounds'
    first_ids, first_scores = first_ids[: fb.docs], first_scores[: fb.docs]
    best = first_scores[0]
    top = [i for i, s in zip(first_ids, first_scores, strict=True)
           if best <= 0 or s >= fb.relative_cut * best]
    if len(at) == 0:
        return dense
    last: list[int] | None = None
    for r in range(fb.rounds):
        if r:
            top = pool.head(dense, fb.docs)[0]
        if top == last:
            break  # the same passages in the same order: the same moved query and scores
        stored = raw_of(top)
        q = rocchio(qvec, [stored[i] for i in top if i in stored], fb.beta)
        if q is qvec:
            break
        dense = dense.copy()
        dense[at] = score(q, rows).astype(np.float64)
        last = top
    return dense
