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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from akindb.retrieval.explain import Explanation


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

    def explain(self) -> Explanation:
        """The parts of this hit's score: dense score and rank, BM25 score and matched terms,
        fusion arithmetic, filter outcome and (``search(..., explain=True)``) which query words
        mattered most. See ``akindb.retrieval.explain``."""
        if self.explanation is not None:
            return self.explanation
        from akindb.retrieval.explain import Explanation  # late: retrieval sits above types

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
