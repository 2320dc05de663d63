"""Fusing ranked lists: reciprocal rank fusion (RRF) and weighted normalised-score fusion.

Both take, per retriever, a mapping ``{item: score}`` (higher = better) and return one list of
``FusedItem`` best first, each carrying the arithmetic that produced it (for ``Hit.explain``).

* **RRF** (Cormack et al., 2009): ``score = Σ_r w_r / (k + rank_r)`` with 1-based ranks; an item
  a retriever did not return adds nothing. Uses ranks only, so it needs no calibration across
  retrievers. ``k`` trades head vs tail: small ``k`` lets each list's top items dominate, large
  ``k`` flattens the ranks and rewards items that both lists found.
* **Weighted** (convex combination): each list's scores are min-max normalised to [0, 1] over its
  own candidates, then ``score = Σ_r w_r · norm_r``; an item missing from a list gets 0 there.
  Uses score gaps (a clear BM25 winner counts more than a near-tie), so it is sensitive to the
  shape of each score distribution.

Fused scores are *not* cosines: RRF scores are at most ``Σ w_r / (k + 1)``, weighted scores lie
in ``[0, Σ w_r]``. Thresholds (``min_score``) mean something different per mode.

**Keyword gate.** Both methods trust each list the same on every query, but a BM25 list is only
as good as its match: when the query's distinctive words are not in the collection, BM25 ranks
chunks by the common words left ("name", "file") and, fused, pushes them above the chunk the
vector list found. So the keyword weight is multiplied, per query, by
``keyword_gate(strength)``: 0 below ``keyword_gate_low``, 1 above ``keyword_gate_high``, linear
between, where ``strength`` is the best BM25 score over the most any chunk could score for the
query's terms (``keyword.match_strength``). On the NFCorpus dev split the fifth of the queries
with the weakest BM25 match (strength < 0.31) had nDCG@10 vector 0.178, keyword 0.099, RRF 0.169:
below vector alone; the other four fifths gain from fusion.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from akindb.errors import InvalidArgumentError


class FusionMethod(enum.StrEnum):
    RRF = "rrf"
    WEIGHTED = "weighted"
    CONVEX = "convex"
    """Cosine and ``bm25 / max possible bm25`` mixed by weight (``akindb.retrieval.hybrid``)."""


@dataclass(frozen=True)
class FusionParams:
    """How hybrid search fuses the vector and keyword lists (round-trips to JSON).

    Defaults were chosen on the NFCorpus **dev** split only (docs/benchmarks.md, "Hybrid
    retrieval"): see ``bench/hybrid.py --tune``. nDCG@10 there: RRF k=60 with equal weights
    0.3301 (a plateau: 0.3288-0.3308 for k 20-100, keyword weight 1-2); adding the keyword gate
    0.2/0.3 gives 0.3320 (neighbours 0.3310-0.3319), all of it from the fifth of the queries with
    the weakest BM25 match (0.169 -> 0.179, above vector's 0.178 there).

    * ``method``: ``rrf``, ``weighted`` or ``convex`` (``akindb.retrieval.hybrid``).
    * ``rrf_k``: RRF's rank constant (see module doc). Can change per query.
    * ``vector_weight`` / ``keyword_weight``: each list's weight, in both methods.
    * ``candidates``: how many items each retriever contributes before fusion. More finds items
      ranked low by one list but high by the other; costs a longer BM25 top-N and more rows
      read (latency grows slowly, roughly linearly).
    * ``keyword_gate_low`` / ``keyword_gate_high``: the keyword gate (module doc). Raising them
      leans hybrid towards vector search on more queries (safer on collections whose wording
      differs from the users'; loses the keyword boost on names, codes and rare terms that are
      matched only weakly); ``0, 0`` turns the gate off (plain fusion). Costs one small FTS5
      count per query term. Only applies while ``vector_weight > 0``.
    """

    method: FusionMethod = FusionMethod.RRF
    rrf_k: float = 60.0
    vector_weight: float = 1.0
    keyword_weight: float = 1.0
    candidates: int = 100
    keyword_gate_low: float = 0.2
    keyword_gate_high: float = 0.3

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", FusionMethod(self.method))
        if self.rrf_k < 0:
            raise InvalidArgumentError(f"rrf_k must be >= 0, got {self.rrf_k}")
        if self.vector_weight < 0 or self.keyword_weight < 0:
            raise InvalidArgumentError("fusion weights must be >= 0")
        if self.vector_weight + self.keyword_weight <= 0:
            raise InvalidArgumentError("at least one fusion weight must be > 0")
        if self.candidates < 1:
            raise InvalidArgumentError(f"candidates must be >= 1, got {self.candidates}")
        if not 0 <= self.keyword_gate_low <= self.keyword_gate_high:
            raise InvalidArgumentError(
                "the keyword gate needs 0 <= keyword_gate_low <= keyword_gate_high, got "
                f"{self.keyword_gate_low}, {self.keyword_gate_high}"
            )

    @property
    def gated(self) -> bool:
        """Whether the keyword gate can change anything (on, and a vector list to lean on)."""
        return self.keyword_gate_high > 0 and self.vector_weight > 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method.value,
            "rrf_k": self.rrf_k,
            "vector_weight": self.vector_weight,
            "keyword_weight": self.keyword_weight,
            "candidates": self.candidates,
            "keyword_gate_low": self.keyword_gate_low,
            "keyword_gate_high": self.keyword_gate_high,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FusionParams:
        return cls(**dict(d))


@dataclass(frozen=True, slots=True)
class FusedItem:
    """One fused item: its fused score and, per retriever, rank (1-based), raw score and part."""

    item: int
    score: float
    ranks: dict[str, int] = field(default_factory=dict)
    raw: dict[str, float] = field(default_factory=dict)
    parts: dict[str, float] = field(default_factory=dict)


def _ranked(scores: Mapping[int, float]) -> list[int]:
    return sorted(scores, key=lambda i: (-scores[i], i))


def _combine(
    lists: Mapping[str, Mapping[int, float]],
    part: Callable[[str, int, int, float], float],
) -> list[FusedItem]:
    ranks: dict[int, dict[str, int]] = {}
    raw: dict[int, dict[str, float]] = {}
    parts: dict[int, dict[str, float]] = {}
    for name, scores in lists.items():
        for rank, item in enumerate(_ranked(scores), 1):
            s = float(scores[item])
            ranks.setdefault(item, {})[name] = rank
            raw.setdefault(item, {})[name] = s
            parts.setdefault(item, {})[name] = part(name, item, rank, s)
    done = [
        FusedItem(i, sum(parts[i].values()), ranks[i], raw[i], parts[i]) for i in ranks
    ]
    # Ties: better best rank first, then item id (stable, deterministic).
    done.sort(key=lambda f: (-f.score, min(f.ranks.values()), f.item))
    return done


def rrf(
    lists: Mapping[str, Mapping[int, float]],
    *,
    k: float = 60.0,
    weights: Mapping[str, float] | None = None,
) -> list[FusedItem]:
    """Reciprocal rank fusion of several ``{item: score}`` lists.

    >>> out = rrf({"vector": {1: 0.9, 2: 0.8}, "keyword": {2: 7.0, 3: 5.0}}, k=60)
    >>> [(f.item, round(f.score, 5)) for f in out]
    [(2, 0.03252), (1, 0.01639), (3, 0.01613)]
    >>> out[0].ranks, out[0].parts["vector"] == 1 / 62
    ({'vector': 2, 'keyword': 1}, True)
    """
    w = {n: 1.0 if weights is None else float(weights.get(n, 1.0)) for n in lists}
    return _combine(lists, lambda name, _item, rank, _s: w[name] / (k + rank))


def normalise(scores: Mapping[int, float]) -> dict[int, float]:
    """Min-max to [0, 1] (all equal → 1.0).

    >>> normalise({1: 2.0, 2: 4.0, 3: 3.0})
    {1: 0.0, 2: 1.0, 3: 0.5}
    """
    if not scores:
        return {}
    lo, hi = min(scores.values()), max(scores.values())
    if hi - lo <= 1e-12:
        return {i: 1.0 for i in scores}
    return {i: (s - lo) / (hi - lo) for i, s in scores.items()}


def weighted(
    lists: Mapping[str, Mapping[int, float]], *, weights: Mapping[str, float] | None = None
) -> list[FusedItem]:
    """Weighted sum of min-max normalised scores; a missing item scores 0 in that list.

    >>> out = weighted({"vector": {1: 0.9, 2: 0.5}, "keyword": {2: 7.0, 3: 5.0}},
    ...                weights={"vector": 0.5, "keyword": 0.5})
    >>> [(f.item, round(f.score, 3)) for f in out]
    [(1, 0.5), (2, 0.5), (3, 0.0)]
    """
    w = {n: 1.0 if weights is None else float(weights.get(n, 1.0)) for n in lists}
    norm = {n: normalise(s) for n, s in lists.items()}
    return _combine(lists, lambda name, item, _rank, _s: w[name] * norm[name][item])


def keyword_gate(strength: float, low: float, high: float) -> float:
    """The keyword list's weight multiplier for a BM25 match of this strength (module doc).

    >>> [keyword_gate(s, 0.2, 0.3) for s in (0.1, 0.2, 0.25, 0.3, 0.9)]
    [0.0, 0.0, 0.5, 1.0, 1.0]
    >>> keyword_gate(0.05, 0.0, 0.0)
    1.0
    """
    if strength >= high:
        return 1.0
    if strength <= low:
        return 0.0
    return (strength - low) / (high - low)


def effective_weights(
    params: FusionParams, keyword_strength: float | None = None
) -> dict[str, float]:
    """Per-list weights for one query: the keyword weight times the gate (when it applies).

    >>> effective_weights(FusionParams(), 0.25)
    {'vector': 1.0, 'keyword': 0.5}
    """
    wk = params.keyword_weight
    if keyword_strength is not None and params.gated:
        wk *= keyword_gate(keyword_strength, params.keyword_gate_low, params.keyword_gate_high)
    return {"vector": params.vector_weight, "keyword": wk}


def fuse(
    lists: Mapping[str, Mapping[int, float]],
    params: FusionParams,
    keyword_strength: float | None = None,
) -> list[FusedItem]:
    """Fuse the ``vector`` and ``keyword`` lists as ``params`` says; ``keyword_strength`` (see
    ``keyword.match_strength``) gates the keyword weight, ``None`` leaves it as it is."""
    weights = effective_weights(params, keyword_strength)
    if params.method is FusionMethod.RRF:
        return rrf(lists, k=params.rrf_k, weights=weights)
    return weighted(lists, weights=weights)
