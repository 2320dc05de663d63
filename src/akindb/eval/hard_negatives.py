"""Training triples with hard negatives, and a cheap dev nDCG for early stopping.

``mine`` runs judged queries through BM25 and the collection's model (``eval.tuning.
collect``: the same candidate lists hybrid search fuses) and pairs every (query, relevant
passage) with a passage both rank high but the judgements do not mark relevant, skipping the
first ``skip`` ranks (the very top unjudged hits are often relevant but unjudged: false
negatives). ``pool_evaluator`` scores a model by nDCG@10 over a fixed candidate pool per dev
query (the union of both lists' top ``depth``), re-ranked by the model: a re-ranking proxy of
full-corpus nDCG that costs one pass over the pool, not over the corpus.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from akindb.eval.metrics import ndcg_at_k
from akindb.eval.tuning import collect

if TYPE_CHECKING:
    from akindb.collection import Collection

Triple = tuple[str, str, str]


def _ranked(scores: Mapping[int, float]) -> list[int]:
    return sorted(scores, key=lambda i: (-scores[i], i))


def mine(
    col: Collection,
    queries: Mapping[str, str],
    qrels: dict[str, dict[str, int]],
    *,
    skip: int = 2,
    depth: int = 30,
    seed: int = 1,
) -> list[Triple]:
    """One (query, relevant passage, hard negative) per relevant judgement with a passage."""
    task = collect(col, queries, qrels, candidates=depth)
    every = sorted({c for x in task.cands.values() for c in (*x.vector, *x.keyword)})
    with col.parts.lock:
        rows = col.parts.store.hit_rows(every)
    text_of_doc = {r.doc_id: r.text for r in rows.values()}
    rng = random.Random(seed)
    out: list[Triple] = []
    for q, c in task.cands.items():
        judged = qrels.get(q, {})
        negs: list[str] = []
        for lst in (c.keyword, c.vector):
            for ch in _ranked(lst)[skip:depth]:
                d = task.doc_of[ch]
                if d not in judged and d not in negs:
                    negs.append(d)
        if not negs:
            continue
        for d, gain in sorted(judged.items()):
            if gain > 0 and d in text_of_doc:
                out.append((queries[q], text_of_doc[d], text_of_doc[rng.choice(negs)]))
    return out


def pool_evaluator(
    col: Collection,
    queries: Mapping[str, str],
    qrels: dict[str, dict[str, int]],
    *,
    depth: int = 30,
) -> Callable[[Callable[[list[str]], np.ndarray[Any, Any]]], float]:
    """``evaluate(embed) -> mean nDCG@10`` of ``embed`` re-ranking each query's fixed pool."""
    task = collect(col, queries, qrels, candidates=depth)
    pools: dict[str, list[str]] = {}
    for q, c in task.cands.items():
        docs: list[str] = []
        for ch in (*_ranked(c.vector), *_ranked(c.keyword)):
            d = task.doc_of[ch]
            if d not in docs:
                docs.append(d)
        pools[q] = docs
    every = sorted({c for x in task.cands.values() for c in (*x.vector, *x.keyword)})
    with col.parts.lock:
        rows = col.parts.store.hit_rows(every)
    text_of_doc = {r.doc_id: r.text for r in rows.values()}
    doc_ids = sorted({d for p in pools.values() for d in p})
    qids = list(pools)

    def evaluate(embed: Callable[[list[str]], np.ndarray[Any, Any]]) -> float:
        dv = embed([text_of_doc[d] for d in doc_ids])
        qv = embed([queries[q] for q in qids])
        row = {d: i for i, d in enumerate(doc_ids)}
        scores = []
        for j, q in enumerate(qids):
            idx = [row[d] for d in pools[q]]
            s = dv[idx] @ qv[j]
            ranked = [pools[q][i] for i in np.argsort(-s, kind="stable")]
            scores.append(ndcg_at_k(ranked, qrels[q], 10))
        return statistics.fmean(scores)

    return evaluate
