"""Text search in three modes over one collection: ``vector``, ``keyword`` (BM25) and ``hybrid``.

``Collection.search`` delegates here. What ``Hit.score`` / ``Hit.distance`` mean per mode
(``min_score`` compares with ``score``, ``max_distance`` with ``distance``):

| mode    | ``score``                                          | ``distance``                   |
|---------|----------------------------------------------------|--------------------------------|
| vector  | the metric's similarity (cosine, dot, -l2)         | the metric's distance          |
| keyword | BM25 (``-bm25()`` of FTS5; >= 0, unbounded)        | ``-score``                     |
| hybrid  | relevance in [0, 1] (``akindb.retrieval.hybrid``)  | the chunk's *vector* distance  |

Hybrid's default (``convex``) score is the cosine moved towards the chunk's BM25 fraction by the
keyword weight, so ``min_score`` keeps in hybrid mode about what it keeps in vector mode; RRF
and weighted scores are divided by their maximum. The raw fused score is in
``Hit.explain().fusion.raw_score``. ``max_distance`` in keyword mode is an error (BM25 hits
have no distance; use ``min_score``). Thresholds are applied before re-ranking. With dense
feedback (the collection's ``rocchio`` setting, on by default; ``akindb.retrieval.feedback``)
the cosine inside the hybrid score is the moved query's (``explain().fusion.raw``), while
``distance`` and ``explain().dense_score`` stay the query's own.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from akindb.collection.parts import CollectionParts
from akindb.collection.results import new_hit, passes
from akindb.core import validate
from akindb.core.topk import to_distance
from akindb.errors import InvalidArgumentError
from akindb.index.base import F32
from akindb.models import query_cache
from akindb.retrieval import stages
from akindb.retrieval.explain import Explanation, fusion_formula
from akindb.retrieval.fusion import FusedItem, FusionParams, effective_weights
from akindb.retrieval.request import (  # noqa: F401  (re-exported: the search vocabulary)
    DEFAULT_MODE,
    MODES,
    SearchMode,
    SearchRequest,
    check_mode,
)
from akindb.storage.filters import parse_where
from akindb.storage.sqlite import read_snapshot
from akindb.types import FusionExplanation, Hit, Metric

if TYPE_CHECKING:
    from akindb.retrieval import keyword_side, rm3
    from akindb.retrieval.rerank import Reranker
    from akindb.retrieval.settings import RetrievalSettings

log = logging.getLogger(__name__)
RERANK_POOL = 50
"""How many candidates a reranker without a ``pool`` attribute sees (at least ``k``)."""
MAX_OCCLUDED_WORDS = 31
"""Token importance occludes at most this many query words, so that the query and all its
variants fit one model batch (32): one model call per query."""
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def dense_scores(metric: Metric, q: F32, vecs: F32) -> F32:
    """Metric score (higher = closer) of one query vector against rows of ``vecs``.

    >>> dense_scores(Metric.L2, np.array([0, 0], np.float32), np.array([[3, 4]], np.float32))
    array([-5.], dtype=float32)
    """
    if len(vecs) == 0:
        return np.zeros(0, dtype=np.float32)
    if metric is Metric.COSINE:
        # Normalised as the index normalises its rows and queries, so a score computed here
        # from SQLite's vectors has the bits of the index's own: hybrid's fast path takes the
        # candidates' vectors from the flat index, the other paths come here.
        from akindb.retrieval import hybrid_query

        out: F32 = (hybrid_query.unit_rows(vecs) @ hybrid_query.unit_query(q)).astype(np.float32)
    elif metric is Metric.DOT:
        out = (vecs @ q).astype(np.float32)
    else:
        out = (-np.linalg.norm(vecs - q, axis=1)).astype(np.float32)
    return out


def occlusion_variants(query: str) -> tuple[list[str], list[str]]:
    """Query words and the query with each word left out (for token importance).

    >>> occlusion_variants("configure the bot")
    (['configure', 'the', 'bot'], [' the bot', 'configure  bot', 'configure the '])
    """
    spans = [(m.start(), m.end()) for m in _WORD.finditer(query)][:MAX_OCCLUDED_WORDS]
    words = [query[a:b] for a, b in spans]
    variants = [query[:a] + query[b:] for a, b in spans]
    return words, variants


def search(parts: CollectionParts, request: SearchRequest) -> list[Hit]:
    """Answer one text search (see ``Collection.search``)."""
    req = request.checked()
    if req.group_by is not None:
        from akindb.retrieval.grouping import search_grouped

        return search_grouped(parts, req, search)
    validate.utf8(req.query, "the query")
    query, k, m, explain = req.query, req.k, req.mode, req.explain
    min_score, max_distance, exact = req.min_score, req.max_distance, req.exact
    rerank = req.rerank
    assert not isinstance(rerank, str)
    if m == "keyword" and max_distance is not None:
        raise InvalidArgumentError(
            "max_distance cuts vector distances and keyword (BM25) hits have none; in keyword "
            "mode use min_score (the BM25 score), or search in vector or hybrid mode"
        )
    if m != "vector" or explain:
        # The keyword and fusion machinery, imported here: a vector search (a cold
        # ``akindb search --mode vector``) does not pay for it (issue 14).
        from akindb.retrieval import hybrid_query, keyword_side, rm3
        from akindb.retrieval import keyword as kw
        from akindb.retrieval.settings import load_settings
    conn = parts.store.conn
    settings = None
    if m != "vector":  # vector mode reads neither the analyzer nor fusion: no settings query
        with parts.lock, parts.translated():
            settings = load_settings(conn, parts.config.id)
        stages.mark("settings")
    params = (req.fusion if isinstance(req.fusion, FusionParams)
              else settings.fusion if settings is not None else FusionParams())
    w = parse_where(req.where)
    pool = max(k, int(getattr(rerank, "pool", RERANK_POOL))) if rerank is not None else k
    needs_vec = m != "keyword" or explain or (rerank is not None and rerank.needs_vectors)
    terms = settings.analyzer.query_terms(query) if settings is not None else []
    n_cand = max(pool, params.candidates) if m == "hybrid" else pool
    early: keyword_side.Early | None = None
    # One model call per query: the query, plus its occluded variants when explaining.
    qvec: F32 | None = None
    variants: F32 | None = None
    words: list[str] = []
    if needs_vec:
        emb = parts.embedder
        # A word piece covers at least one character, so a query shorter than the limit cannot
        # be truncated: only a long query pays for a second tokenization to check.
        limit = emb.spec.max_tokens
        if len(query) + 2 > limit and emb.count_tokens([query])[0] + 2 > limit:
            log.warning(
                "the query is longer than the model's %d-token limit and was truncated (only its "
                "beginning was used)", limit,
            )
        texts = [query]
        var_texts: list[str] = []
        if explain:
            words, var_texts = occlusion_variants(query)
            texts += [t for t in var_texts if t.strip()]
        # A repeated query skips the model (a bounded LRU keyed by the model pin and text).
        if explain:
            mat = emb.embed(texts, role="query")
        elif m == "hybrid" and keyword_side.beside():  # the keyword side beside the model
            assert settings is not None
            st = settings
            mat, early = keyword_side.beside_embedding(
                lambda: query_cache.embed_query(emb, query),
                lambda: _early_keyword(parts, terms, n_cand, st, params, w))
        else:
            mat = query_cache.embed_query(emb, query)
        qvec = mat[0]
        stages.mark("embed")
        if explain:
            variants = _place_variants(mat[1:], [t.strip() != "" for t in var_texts], parts.dim)

    seq = -1  # the log position the vector search saw (-1: none ran; rows from SQLite)
    lists: dict[str, dict[int, float]] = {}
    # Vector candidates, keyword candidates and their rows from one version of the collection
    # (issue 13: an upsert between them made a document vanish). The database lock is held
    # across the index search here: for a text query it is small next to the embedding.
    with parts.lock, parts.translated(), read_snapshot(conn):
        if m != "keyword":
            assert qvec is not None
            allowed = parts.store.filter_chunk_ids(w) if w is not None else None
            if allowed is not None and len(allowed) == 0:
                labels, scores = parts.live.empty_result(1, 1)
            else:
                labels, scores, seq = parts.live.search_at(qvec[None, :], n_cand, allowed,
                                                           exact=exact)
            pairs = zip(labels[0].tolist(), scores[0].tolist(), strict=True)
            lists["vector"] = {lab: s for lab, s in pairs if lab >= 0}
            stages.mark("vector search")
        strength: float | None = None
        expanded: rm3.Expanded | None = None
        side: keyword_side.KeywordSide | None = None
        if m == "hybrid":
            assert settings is not None
            # the early keyword side when nothing was committed since it was read, else now
            side = early.side if early is not None and early.usable(conn) else keyword_side.run(
                conn, parts.config.id, terms, n_cand, settings, params, w)
            lists["keyword"], expanded = side.scores, side.expanded
        elif m == "keyword":
            assert settings is not None  # read for every mode but vector
            lists["keyword"], expanded = keyword_side.keyword_list(
                conn, parts.config.id, terms, n_cand, settings, w)
        stages.mark("bm25")
        if m == "hybrid":
            assert qvec is not None and side is not None
            # ranks and scores come from the moved query when dense feedback runs; a hit's
            # dense score and distance stay the query's own (its fusion.raw holds the moved one)
            cands, fused, shown = hybrid_query.rank(
                parts, conn, qvec, lists, terms, params,
                settings.rocchio if settings is not None else None, seq=seq, limit=pool,
                weights=expanded.weights if expanded else None,
                first=expanded.first if expanded else None, stats=side.stats,
                score=lambda q, v: dense_scores(parts.metric, q, v),
            )
            strength = cands.strength
        else:
            only = lists[m]
            fused = [
                FusedItem(c, s, {m: r}, {m: s}, {m: s})
                for r, (c, s) in enumerate(sorted(only.items(), key=lambda x: (-x[1], x[0])), 1)
            ]
            shown = [f.score for f in fused]
        shown_of = {f.item: s for f, s in zip(fused[:pool], shown, strict=False)}
        top = fused[:pool]
        ids = [f.item for f in top]
        rows = parts.rows.reader(parts.store, seq).rows(ids)  # see collection.row_cache
        dense_known = {**lists.get("vector", {}), **(cands.dense if m == "hybrid" else {})}
        # the hits' distances in one numpy call (the same float32 arithmetic as one by one)
        known = [i for i in ids if i in dense_known]
        dist_known = dict(zip(known, to_distance(
            np.fromiter((dense_known[i] for i in known), np.float32, len(known)), parts.metric
        ).tolist(), strict=True))
        need_vec = rerank is not None or explain
        vec_ids = [i for i in ids if need_vec or i not in dense_known]
        vec_of = parts.store.vectors_by_chunk(vec_ids) if qvec is not None else {}
        bm25_parts = kw.term_scores(conn, ids, terms) if (explain and terms) else {}
        if explain and expanded is not None:
            bm25_parts = rm3.weighted_parts(conn, ids, expanded.weights)
            terms = list(expanded.weights)
    metric = parts.metric
    per_query = _query_fusion(params, strength) if m == "hybrid" else None
    hits: list[Hit] = []
    hvecs: list[F32] = []
    for f in top:
        row = rows.get(f.item)
        if row is None:
            continue
        dense: float | None = dense_known.get(f.item)
        if dense is None and qvec is not None and f.item in vec_of:
            dense = float(dense_scores(metric, qvec, vec_of[f.item][None, :])[0])
        if m == "keyword":
            dist = -f.score
        elif f.item in dist_known:
            dist = dist_known[f.item]
        elif dense is not None:
            dist = float(to_distance(np.array([dense], np.float32), metric)[0])
        else:  # pragma: no cover - every vector candidate has a stored vector
            dist = float("nan")
        score = shown_of[f.item]
        if not passes(score, dist, min_score, max_distance):
            continue
        expl = Explanation(
            mode=m,
            score=score,
            dense_score=dense,
            dense_rank=f.ranks.get("vector"),
            bm25_score=f.raw.get("keyword"),
            keyword_rank=f.ranks.get("keyword"),
            matched_terms=bm25_parts.get(f.item, {}),
            terms_recorded=explain or not terms,
            query_terms=terms,
            fusion=_fusion(f, params, strength, per_query) if m == "hybrid" else None,
            filter=dict(w) if w is not None else None,
        )
        hits.append(new_hit(row.doc_id, score, dist, row.text, row.source, row.start, row.end,
                            row.idx, row.metadata, expl, f.item))
        if need_vec:  # the re-ranker and token importance read them
            if f.item in vec_of:
                hvecs.append(vec_of[f.item])
            else:
                hvecs.append(np.zeros(parts.dim, dtype=np.float32))
    if rerank is not None:
        hits = _apply_rerank(rerank, query, qvec, hits, np.array(hvecs, np.float32), k)
        hvecs = [vec_of.get(h.chunk_id or -1, np.zeros(parts.dim, np.float32)) for h in hits]
    hits = hits[:k]
    stages.mark("hits")
    if explain and qvec is not None and variants is not None and hits:
        hits = _token_importance(metric, qvec, variants, words, hits,
                                 np.array(hvecs[: len(hits)], np.float32))
    return hits


def _early_keyword(
    parts: CollectionParts, terms: list[str], n_cand: int, settings: RetrievalSettings,
    params: FusionParams, where: Mapping[str, Any] | None,
) -> keyword_side.Early:
    """The keyword side of a hybrid query in its own snapshot, with the commit stamp read
    before it (``keyword_side``); run while the query is embedded."""
    from akindb.retrieval import keyword_side

    conn = parts.store.conn
    with parts.lock, parts.translated():
        before = None if conn.in_transaction else keyword_side.stamp(conn)
        with read_snapshot(conn):
            side = keyword_side.run(conn, parts.config.id, terms, n_cand, settings, params,
                                    where)
    stages.mark("bm25 (beside embed)")
    return keyword_side.Early(side, before)


def _place_variants(mat: F32, present: list[bool], dim: int) -> F32:
    """Rows for every occluded variant; an empty variant (one-word query) stays NaN."""
    out = np.full((len(present), dim), np.nan, dtype=np.float32)
    j = 0
    for i, ok in enumerate(present):
        if ok:
            out[i] = mat[j]
            j += 1
    return out


def _fusion(
    f: FusedItem, params: FusionParams, strength: float | None,
    query: tuple[dict[str, float], str] | None = None,
) -> FusionExplanation:
    """One hit's fusion explanation; ``query``: the query's ``(weights, formula)`` when
    already worked out (``_query_fusion``: the same for every hit of a query)."""
    weights, formula = query if query is not None else _query_fusion(params, strength)
    return FusionExplanation(
        method=params.method.value,
        raw_score=f.score,
        rrf_k=params.rrf_k if params.method.value == "rrf" else None,
        ranks=dict(f.ranks),
        raw=dict(f.raw),
        parts={name: f.parts.get(name, 0.0) for name in ("vector", "keyword")},
        weights=dict(weights),
        keyword_strength=None if strength is None else round(strength, 4),
        formula=formula,
    )


def _query_fusion(params: FusionParams, strength: float | None) -> tuple[dict[str, float], str]:
    """The fusion weights of one query and the formula text every hit's explanation shows."""
    weights = effective_weights(params, strength)
    return weights, fusion_formula(params.method.value, params.rrf_k, weights)


def _apply_rerank(
    rerank: Reranker, query: str, qvec: F32 | None, hits: list[Hit], vecs: F32, k: int
) -> list[Hit]:
    order = rerank.rerank(query, qvec, hits, vecs, k)
    out: list[Hit] = []
    for new_rank, (i, s) in enumerate(order, 1):
        h = hits[i]
        info = {"name": rerank.name, "score": round(float(s), 6), "rank_before": i + 1,
                "rank_after": new_rank}
        expl = h.explanation
        if expl is not None:
            expl = dataclasses.replace(expl, reranker=info)
        out.append(dataclasses.replace(h, explanation=expl))
    return out


def _token_importance(
    metric: Metric, qvec: F32, variants: F32, words: list[str], hits: list[Hit], hvecs: F32
) -> list[Hit]:
    """Importance of word i for hit h = dense(q, h) - dense(q without word i, h)."""
    full = dense_scores(metric, qvec, hvecs)
    out: list[Hit] = []
    per_var = [
        dense_scores(metric, v, hvecs) if not np.isnan(v).any() else np.zeros(len(hits))
        for v in variants
    ]
    for j, h in enumerate(hits):
        imp = [(words[i], float(full[j] - per_var[i][j])) for i in range(len(words))]
        expl = h.explanation or Explanation("vector", h.score)
        out.append(dataclasses.replace(h, explanation=dataclasses.replace(
            expl, token_importance=imp)))
    return out

