"""Why a hit ranked where it did: the parts of its score, and which query words mattered.

``Hit.explain()`` returns an :class:`Explanation` (defined in ``akindb.types``, beside ``Hit``,
so the floor never imports retrieval; re-exported here). Its parts:

* ``dense_score`` / ``dense_rank``: cosine (or the collection's metric score) of the query and
  this chunk, and its rank among the vector candidates (``None`` when it was not one);
* ``bm25_score`` / ``keyword_rank`` / ``matched_terms``: BM25 score, rank among the keyword
  candidates, and each matching query term's share of the BM25 score (they add up);
* ``fusion`` (a :class:`FusionExplanation`; ``None`` outside hybrid mode): the method and,
  per list, the arithmetic (``weight/(k+rank)`` for RRF, weight × the min-max normalised score
  for weighted fusion) that sums to the fused score, the weights used for this query and the
  BM25 match strength that gated the keyword weight;
* ``filter``: the ``where`` filter the hit passed, if any; ``reranker``: the re-ranking stage;
* ``token_importance``: with ``explain=True``, for each query word, how much the dense score
  drops when that word is removed from the query (occlusion; all variants embedded in one batch).
"""

from __future__ import annotations

from akindb.types import Explanation, FusionExplanation

__all__ = ["Explanation", "FusionExplanation", "fusion_formula"]


def fusion_formula(method: str, rrf_k: float, weights: dict[str, float]) -> str:
    """A short description of the fusion arithmetic.

    >>> fusion_formula("rrf", 60, {"vector": 1.0, "keyword": 1.0})
    'sum over lists of weight/(60+rank); weights vector 1, keyword 1'
    """
    w = ", ".join(f"{n} {v:g}" for n, v in weights.items())
    if method == "rrf":
        return f"sum over lists of weight/({rrf_k:g}+rank); weights {w}"
    if method == "convex":
        return (f"(w_v*clip(dense) + w_k*bm25/bm25_max) / (w_v + w_k); weights {w}")
    return f"sum over lists of weight*minmax(score); weights {w}"
