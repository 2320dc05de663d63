"""Hybrid fusion on one scale: a convex combination of the cosine and a bounded BM25.

``fusion.py`` fuses ranks (RRF) or per-query min-max scores; neither gives a score a reader can
threshold. This module adds the method the default pipeline uses, ``convex``::

    score = (w_v · dense + w_k · g · bm25 / bm25_max) / (w_v + w_k · g)

* ``dense`` is the collection metric's score, clipped to [0, 1] (for cosine: the cosine);
  every candidate gets its exact value, also those only BM25 found (read from SQLite);
* ``bm25_max = (k1 + 1) · Σ_t idf(t)`` over the query's terms is the most any chunk could score
  (``keyword.match_strength``'s denominator), so ``bm25 / bm25_max`` lies in [0, 1) and means
  the same for every query: 0.5 is half of a perfect match of every term (the "theoretical
  min-max" normalisation of Bruch et al., 2023, "An Analysis of Fusion Functions for Hybrid
  Retrieval", who found it beats RRF once the weight is tuned);
* ``g`` is the keyword gate (``fusion.keyword_gate``; 1 when off), and 0 when BM25 matched
  nothing at all (a query of stop words or of words no chunk has).

The score is a weighted mean of two numbers in [0, 1], so it is in [0, 1]; when the gate closes
(``g = 0``) it *is* the cosine, and otherwise it moves the cosine towards the BM25 fraction by
the keyword weight. So ``min_score=0.3`` keeps in hybrid mode what it keeps in vector mode,
give or take the keyword evidence (issue 12, item 5). For metrics other than cosine (dot, l2),
whose scores are unbounded, ``dense`` is min-max normalised over the candidates instead.

RRF scores are reported divided by their maximum ``Σ w / (k + 1)`` (in [0, 1]; 1 = first in
every list); the raw RRF sum stays in ``Hit.explain().fusion.raw_score``.
"""

from __future__ import annotations

import heapq
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from akindb.retrieval import keyword as kw
from akindb.retrieval.fusion import (
    FusedItem,
    FusionMethod,
    FusionParams,
    effective_weights,
    fuse,
    normalise,
)
from akindb.retrieval.rm3 import weighted_bound


@dataclass
class Candidates:
    """One query's candidate lists and what fusing them needs.

    ``vector``/``keyword``: ``{chunk: score}`` as the retrievers returned them (higher better);
    ``dense``: the metric score of *every* candidate (a keyword-only candidate included), when
    known; ``bm25_max``: ``(k1+1)·Σ idf`` of the query's terms (0 when none);
    ``strength``: the best BM25 score over ``bm25_max``, or ``None`` when not measured.
    """

    vector: dict[int, float]
    keyword: dict[int, float]
    dense: dict[int, float] = field(default_factory=dict)
    bm25_max: float = 0.0
    strength: float | None = None
    bounded: bool = True
    """Whether dense scores are cosines (clip to [0, 1]); else min-max over the candidates."""


def _ranks(scores: Mapping[int, float]) -> dict[int, int]:
    return {c: r for r, c in enumerate(sorted(scores, key=lambda i: (-scores[i], i)), 1)}


def convex(c: Candidates, params: FusionParams) -> list[FusedItem]:
    """Fuse by the module's formula; ``FusedItem.parts`` holds each list's share of the score.

    >>> c = Candidates({1: 0.6, 2: 0.5}, {2: 4.4, 3: 2.2}, {1: 0.6, 2: 0.5, 3: 0.2}, 8.8, 0.5)
    >>> p = FusionParams(method="convex", vector_weight=0.75, keyword_weight=0.25,
    ...                  keyword_gate_low=0, keyword_gate_high=0)
    >>> [(f.item, round(f.score, 4)) for f in convex(c, p)]
    [(2, 0.5), (1, 0.45), (3, 0.2125)]
    """
    w = effective_weights(params, c.strength)
    wv, wk = w["vector"], w["keyword"]
    if not c.keyword and wv > 0:
        wk = 0.0  # no BM25 evidence at all (no terms, no match): the score is the cosine
    total = wv + wk
    items = set(c.vector) | set(c.keyword)
    dense = {i: c.dense.get(i, c.vector.get(i, 0.0)) for i in items}
    dn = {i: min(1.0, max(0.0, s)) for i, s in dense.items()} if c.bounded else normalise(dense)
    vr, kr = _ranks(c.vector), _ranks(c.keyword)
    out: list[FusedItem] = []
    for i in items:
        kn = c.keyword.get(i, 0.0) / c.bm25_max if c.bm25_max > 0 else 0.0
        kn = min(1.0, max(0.0, kn))
        pv = wv * dn[i] / total if total > 0 else 0.0
        pk = wk * kn / total if total > 0 else 0.0
        ranks = {n: r[i] for n, r in (("vector", vr), ("keyword", kr)) if i in r}
        raw = {"vector": dense[i]} if i in c.vector or i in c.dense else {}
        if i in c.keyword:
            raw["keyword"] = c.keyword[i]
        out.append(FusedItem(i, pv + pk, ranks, raw, {"vector": pv, "keyword": pk}))
    out.sort(key=lambda f: (-f.score, min(f.ranks.values(), default=0), f.item))
    return out


def top_items(c: Candidates, params: FusionParams, m: int) -> list[int]:
    """The first ``m`` items of ``fuse_candidates(c, params)`` (``top_scored`` without scores).

    >>> c = Candidates({1: 0.6, 2: 0.5}, {2: 4.4, 3: 2.2}, {1: 0.6, 2: 0.5, 3: 0.2}, 8.8, 0.5)
    >>> p = FusionParams(method="convex", vector_weight=0.75, keyword_weight=0.25,
    ...                  keyword_gate_low=0, keyword_gate_high=0)
    >>> top_items(c, p, 2) == [f.item for f in convex(c, p)[:2]]
    True
    """
    return [i for i, _ in top_scored(c, params, m)]


def top_scored(c: Candidates, params: FusionParams, m: int) -> list[tuple[int, float]]:
    """The first ``m`` items of ``fuse_candidates(c, params)`` with the scores it reports,
    cheaper for ``convex``: the same score arithmetic and tie order, without building every
    ``FusedItem`` (dense feedback needs only the first ranking's top few before fusing again).

    >>> c = Candidates({1: 0.6, 2: 0.5}, {2: 4.4, 3: 2.2}, {1: 0.6, 2: 0.5, 3: 0.2}, 8.8, 0.5)
    >>> p = FusionParams(method="convex", vector_weight=0.75, keyword_weight=0.25,
    ...                  keyword_gate_low=0, keyword_gate_high=0)
    >>> [(i, round(s, 4)) for i, s in top_scored(c, p, 2)]
    [(2, 0.5), (1, 0.45)]
    """
    if params.method is not FusionMethod.CONVEX:
        fused, shown = fuse_candidates(c, params)
        return [(f.item, s) for f, s in zip(fused[:m], shown, strict=False)]
    w = effective_weights(params, c.strength)
    wv, wk = w["vector"], w["keyword"]
    if not c.keyword and wv > 0:
        wk = 0.0
    total = wv + wk
    items = set(c.vector) | set(c.keyword)
    dense = {i: c.dense.get(i, c.vector.get(i, 0.0)) for i in items}
    dn = {i: min(1.0, max(0.0, s)) for i, s in dense.items()} if c.bounded else normalise(dense)
    score: dict[int, float] = {}
    for i in items:
        kn = c.keyword.get(i, 0.0) / c.bm25_max if c.bm25_max > 0 else 0.0
        kn = min(1.0, max(0.0, kn))
        pv = wv * dn[i] / total if total > 0 else 0.0
        pk = wk * kn / total if total > 0 else 0.0
        score[i] = pv + pk
    best = heapq.nsmallest(m, items, key=lambda i: -score[i])
    cut = score[best[-1]] if best else 0.0
    tied = [i for i in items if score[i] >= cut]  # the exact tie order on the few at the cut
    if len(tied) == len(best):
        vr, kr = _ranks(c.vector), _ranks(c.keyword)
        big = len(items) + 1
        order = sorted(best, key=lambda i: (-score[i], min(vr.get(i, big), kr.get(i, big)), i))
        return [(i, score[i]) for i in order]
    return [(f.item, f.score) for f in convex(c, params)[:m]]


def rrf_max(params: FusionParams, weights: Mapping[str, float]) -> float:
    """The largest RRF score possible with these weights: first in every list.

    >>> round(rrf_max(FusionParams(), {"vector": 1.0, "keyword": 1.0}), 5)
    0.03279
    """
    return sum(weights.values()) / (params.rrf_k + 1)


def fuse_candidates(c: Candidates, params: FusionParams) -> tuple[list[FusedItem], list[float]]:
    """Fuse as ``params.method`` says: the fused items best first, and beside each the score a
    user reads (convex: the score itself; RRF: divided by ``rrf_max``; weighted: divided by
    the sum of the weights), so every method reports a score in [0, 1]."""
    if params.method is FusionMethod.CONVEX:
        fused = convex(c, params)
        return fused, [f.score for f in fused]
    lists = {"vector": c.vector, "keyword": c.keyword}
    fused = fuse(lists, params, c.strength)
    w = effective_weights(params, c.strength)
    top = rrf_max(params, w) if params.method is FusionMethod.RRF else sum(w.values())
    return fused, [f.score / top if top > 0 else 0.0 for f in fused]


def keyword_stats(
    conn: sqlite3.Connection,
    key: Mapping[int, float],
    terms: Sequence[str],
    params: FusionParams,
    *,
    weights: Mapping[str, float] | None = None,
    first: Mapping[int, float] | None = None,
    copy: kw.Copy = "ask",
) -> tuple[float, float | None]:
    """``(bm25_max, strength)`` of one query's keyword list, as ``gather`` needs them: one FTS5
    count per term, only when the gate or ``convex`` uses them (else ``(0.0, None)``). With RM3
    ``weights`` are the expanded list's term weights (the bound becomes ``(k1+1)·Σ w·idf``) and
    ``first`` the unexpanded list, whose best match against the query's own terms still sets
    the gate. ``copy``: see ``keyword.bm25_pairs``."""
    convex_ = params.method is FusionMethod.CONVEX
    strength: float | None = None
    top = 0.0
    if key and (params.gated or convex_):
        dfs = kw.doc_freqs(conn, terms, copy=copy)
        n_rows = kw.fts_row_count(conn)
        top = (kw.K1 + 1) * sum(kw.idf(n_rows, df) for df in dfs)
        if params.gated:
            best = max((first or key).values(), default=0.0)
            strength = kw.match_strength(best, dfs, n_rows)
        if weights is not None and convex_:
            top = weighted_bound(conn, weights)
    return top, strength


def gather(
    conn: sqlite3.Connection,
    lists: Mapping[str, Mapping[int, float]],
    terms: Sequence[str],
    params: FusionParams,
    *,
    bounded: bool,
    dense_of: Callable[[list[int]], dict[int, float]],
    weights: Mapping[str, float] | None = None,
    first: Mapping[int, float] | None = None,
    stats: tuple[float, float | None] | None = None,
) -> Candidates:
    """One query's ``Candidates`` for hybrid search: the BM25 statistics the method needs
    (``keyword_stats``, or ``stats`` when the caller read them already in the same state)
    and, for ``convex``, the exact dense score of each keyword-only candidate (``dense_of``:
    ids -> metric score)."""
    vec, key = dict(lists.get("vector", {})), dict(lists.get("keyword", {}))
    top, strength = stats if stats is not None else keyword_stats(
        conn, key, terms, params, weights=weights, first=first)
    dense = dict(vec)
    if params.method is FusionMethod.CONVEX:
        missing = [i for i in key if i not in vec]
        if missing:
            dense.update(dense_of(missing))
    return Candidates(vec, key, dense, top, strength, bounded)
