"""Small frozen value types shared by every layer.

Scores: higher is always more similar.

| metric  | ``Hit.score``              | ``Hit.distance``          |
|---------|----------------------------|---------------------------|
| cosine  | cosine similarity in [-1,1]| ``1 - cosine``            |
| dot     | dot product                | ``-dot``                  |
| l2      | ``-euclidean distance``    | euclidean distance (>= 0) |

``min_score`` keeps hits with ``score >= min_score``; ``max_distance`` keeps hits with
``distance <= max_distance``.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
"""A float32 array: vectors and scores, in memory as on disk."""
I64 = npt.NDArray[np.int64]
"""An int64 array: chunk labels (row ids) and positions."""


class Metric(enum.StrEnum):
    """Similarity metric of a collection, fixed at creation."""

    COSINE = "cosine"
    L2 = "l2"
    DOT = "dot"

    @classmethod
    def parse(cls, value: str | Metric) -> Metric:
        """Accept the enum or its name; ``euclidean``/``ip`` are accepted aliases.

        >>> Metric.parse("euclidean")
        <Metric.L2: 'l2'>
        """
        if isinstance(value, Metric):
            return value
        aliases = {"euclidean": "l2", "ip": "dot", "inner_product": "dot", "cos": "cosine"}
        name = aliases.get(str(value).lower(), str(value).lower())
        try:
            return cls(name)
        except ValueError:
            from akindb.errors import InvalidArgumentError

            valid = ", ".join(m.value for m in cls)
            raise InvalidArgumentError(f"unknown metric {value!r}; use one of: {valid}") from None


@dataclass(frozen=True, slots=True)
class Chunk:
    """A passage cut from a source text, with character offsets into that text."""

    text: str
    start: int
    end: int
    index: int = 0


@dataclass(frozen=True, slots=True)
class FusionExplanation:
    """How a hybrid hit's fused score was made (``Explanation.fusion``; ``None`` in the other
    modes).

    ``method`` (``rrf``, ``convex``, ``weighted``) combined the lists with ``weights`` (after
    the keyword gate, which scaled the keyword weight by ``keyword_strength``, the BM25 match
    strength); ``ranks`` and ``raw`` are the hit's rank and score in each list, ``parts`` each
    list's share of the fused score (they add up to it), ``raw_score`` the fused score before
    it was divided by its maximum, ``rrf_k`` RRF's rank constant, ``formula`` the arithmetic.
    It also reads like the dict it replaced (``fusion["parts"]``).

    >>> f = FusionExplanation("rrf", 0.03, rrf_k=60, parts={"vector": 0.02, "keyword": 0.01})
    >>> f["parts"]["vector"], f.to_dict()["method"]
    (0.02, 'rrf')
    """

    method: str
    raw_score: float
    rrf_k: float | None = None
    ranks: dict[str, int] = field(default_factory=dict)
    raw: dict[str, float] = field(default_factory=dict)
    parts: dict[str, float] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    keyword_strength: float | None = None
    formula: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FusionExplanation:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.to_dict().get(key, default)


@dataclass(frozen=True, slots=True)
class Explanation:
    """The parts of one hit's score (what each field means: ``akindb.retrieval.explain``);
    ``str()`` renders them for people. Lives here, beside ``Hit``, so the floor imports nothing."""

    mode: str
    score: float
    dense_score: float | None = None
    dense_rank: int | None = None
    bm25_score: float | None = None
    keyword_rank: int | None = None
    matched_terms: dict[str, float] = field(default_factory=dict)
    query_terms: list[str] = field(default_factory=list)
    fusion: FusionExplanation | None = None
    filter: Any = None
    reranker: dict[str, Any] | None = None
    token_importance: list[tuple[str, float]] | None = None
    terms_recorded: bool = True
    """Whether ``matched_terms`` was computed: each term's share of the BM25 score costs one
    FTS5 query per term, so it is recorded only by ``search(..., explain=True)``."""

    def to_dict(self) -> dict[str, Any]:
        if not (self.matched_terms or self.query_terms or self.reranker
                or self.token_importance) and self.fusion is None and self.filter is None:
            # Nothing nested (a vector-mode hit): the dict ``asdict`` builds, without its
            # generic deep-copying recursion (25 -> 3 µs; ten per text search over HTTP).
            return {
                "mode": self.mode, "score": self.score, "dense_score": self.dense_score,
                "dense_rank": self.dense_rank, "bm25_score": self.bm25_score,
                "keyword_rank": self.keyword_rank,
                "matched_terms": type(self.matched_terms)(),
                "query_terms": type(self.query_terms)(), "fusion": {},
                "filter": None,
                "reranker": None if self.reranker is None else type(self.reranker)(),
                "token_importance": None if self.token_importance is None else [],
                "terms_recorded": self.terms_recorded,
            }
        d = asdict(self)
        d["fusion"] = {} if self.fusion is None else self.fusion.to_dict()
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
        fu = self.fusion
        if fu is not None:
            arith = " + ".join(f"{name} {val:.5f}" for name, val in fu.parts.items())
            out.append(f"fusion {fu.method}: {arith} = {self.score:.5f}")
            if abs(fu.raw_score - self.score) > 1e-12:
                out.append(f"   (raw fused score {fu.raw_score:.6g}; shown divided by its "
                           "maximum)")
            if fu.formula:
                out.append(f"   ({fu.formula})")
            strength = fu.keyword_strength
            if strength is not None:
                wk = fu.weights.get("keyword")
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


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result: a chunk of a stored document, with its score."""

    id: str
    score: float
    distance: float
    text: str
    source: str | None = None
    start: int = 0
    end: int = 0
    chunk: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)
    # Set by Collection.search (akindb.retrieval): why the hit ranked here, and the chunk's
    # row id (for re-ranking, context building and explain). Not part of to_dict().
    explanation: Explanation | None = field(default=None, compare=False, repr=False)
    chunk_id: int | None = field(default=None, compare=False, repr=False)
    # search(group_by="document"): the document's other matching chunks, best first (this
    # hit is its best chunk). In to_dict() only when there are some.
    others: tuple[Hit, ...] = field(default=(), compare=False, repr=False)

    def explain(self) -> Explanation:
        """The parts of this hit's score: dense score and rank, BM25 score and matched terms,
        fusion arithmetic, filter outcome and (``search(..., explain=True)``) which query words
        mattered most. See ``akindb.retrieval.explain``."""
        if self.explanation is not None:
            return self.explanation
        return Explanation("vector", self.score, dense_score=self.score)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (used by ``--json`` and the server)."""
        return {
            "id": self.id,
            "score": self.score,
            "distance": self.distance,
            "text": self.text,
            "source": self.source,
            "start": self.start,
            "end": self.end,
            "chunk": self.chunk,
            "metadata": self.metadata,
            **({"others": [o.to_dict() for o in self.others]} if self.others else {}),
        }


@dataclass(frozen=True, slots=True)
class Record:
    """A stored document as ``Collection.get`` returns it: its text, source and chunks."""

    id: str
    text: str
    source: str | None
    metadata: dict[str, Any]
    content_hash: str
    chunks: tuple[Chunk, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "source": self.source,
            "metadata": self.metadata,
            "content_hash": self.content_hash,
            "chunks": [
                {"index": c.index, "start": c.start, "end": c.end, "text": c.text}
                for c in self.chunks
            ],
        }
