"""Why a hit ranked where it did: the parts of its score, and which query words mattered.

``Hit.explain()`` returns an :class:`Explanation`. Its parts:

* ``dense_score`` / ``dense_rank``: cosine (or the collection's metric score) of the query and
  this chunk, and its rank among the vector candidates (``None`` when it was not one);
* ``bm25_score`` / ``keyword_rank`` / ``matched_terms``: BM25 score, rank among the keyword
  candidates, and each matching query term's share of the BM25 score (they add up);
* ``fusion``: the method and, per list, the arithmetic (``weight/(k+rank)`` for RRF, weight ×
  the min-max normalised score for weighted fusion) that sums to the fused score, the weights
  used for this query and the BM25 match strength that gated the keyword weight;
* ``filter``: the ``where`` filter the hit passed, if any; ``reranker``: the re-ranking stage;
* ``token_importance``: with ``explain=True``, for each query word, how much the dense score
  drops when that word is removed from the query (occlusion; all variants embedded in one batch).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Explanation:
    """The parts of one hit's score (see the module doc); ``str()`` renders them for people."""

    mode: str
    score: float
    dense_score: float | None = None
    dense_rank: int | None = None
    bm25_score: float | None = None
    keyword_rank: int | None = None
    matched_terms: dict[str, float] = field(default_factory=dict)
    query_terms: list[str] = field(default_factory=list)
    fusion: dict[str, Any] = field(default_factory=dict)
    filter: Any = None
    reranker: dict[str, Any] | None = None
    token_importance: list[tuple[str, float]] | None = None
    terms_recorded: bool = True
    """Whether ``matched_terms`` was computed: each term's share of the BM25 score costs one
    FTS5 query per term, so it is recorded only by ``search(..., explain=True)``."""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if self.token_importance is not None:
            d["token_importance"] = [
                {"token": t, "importance": round(v, 6)} for t, v in self.token_importance
            ]
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)

    def lines(self) -> list[str]:
        """Human-readable lines (what ``akindb search --explain`` prints)."""
        out = [f"mode {self.mode}: score {self.score:.6g}"]
        if self.dense_score is not None:
            rank = f"rank {self.dense_rank}" if self.dense_rank else "not in vector candidates"
            out.append(f"dense: score {self.dense_score:.4f} ({rank})")
        if self.mode != "vector":
            if self.bm25_score is not None:
                terms = ", ".join(f"{t} {s:.2f}" for t, s in self.matched_terms.items())
                if not self.terms_recorded:
                    terms = "not recorded (search with explain=True to see each term's share)"
                out.append(
                    f"bm25: {self.bm25_score:.4f} (rank {self.keyword_rank}); matched: "
                    f"{terms or '-'}"
                )
            else:
                looked = " ".join(self.query_terms) or "(no keyword terms in the query)"
                out.append(f"bm25: no match for {looked}")
        if self.fusion:
            parts = self.fusion.get("parts", {})
            arith = " + ".join(f"{name} {val:.5f}" for name, val in parts.items())
            out.append(f"fusion {self.fusion.get('method')}: {arith} = {self.score:.5f}")
            raw = self.fusion.get("raw_score")
            if raw is not None and abs(raw - self.score) > 1e-12:
                out.append(f"   (raw fused score {raw:.6g}; shown divided by its maximum)")
            if self.fusion.get("formula"):
                out.append(f"   ({self.fusion['formula']})")
            strength = self.fusion.get("keyword_strength")
            if strength is not None:
                wk = self.fusion.get("weights", {}).get("keyword")
                out.append(f"   (BM25 match strength {strength:.3f}: keyword weight {wk:g})")
        if self.filter is not None:
            out.append(f"filter: passed {json.dumps(self.filter, ensure_ascii=False)}")
        if self.reranker:
            out.append(f"reranker: {json.dumps(self.reranker, ensure_ascii=False)}")
        if self.token_importance:
            top = sorted(self.token_importance, key=lambda x: -x[1])[:5]
            out.append("tokens that mattered: " + ", ".join(f"{t} {v:+.3f}" for t, v in top))
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


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
