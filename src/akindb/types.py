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
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import FrozenInstanceError, asdict, dataclass, field, fields
from operator import attrgetter
from typing import TYPE_CHECKING, Any, NamedTuple

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


# At run time ``Hit`` is a *row view* with the dataclass's fields, signature, equality, hash,
# repr, pickling and ``dataclasses`` support (fields/replace/asdict), built by ``_row_view``
# from the declaration above, which is what type checkers see. Why (issue 14): a search builds
# ten Hits per query, and filling twelve slots per Hit after the graph walk cost ~20 µs of a
# ~145 µs single query at 100k vectors: each store touched a cold text, metadata, id... object
# (its reference count) in the row cache. A view holds four references: the cached row (the
# ``HitRow`` the store read, or one built by the constructor), the score, the
# distance, and the rarely set extras; its fields are read through the row, in C
# (``property(attrgetter("_r.text"))``: no Python frame per read). docs/benchmarks.md
# "Session 8: the single query (s8-single)" has the measurements.


class HitRow(NamedTuple):
    """A chunk joined with its document: the row a ``Hit`` views. ``CollectionStore.hit_rows``
    reads them and the row cache keeps them (``chunk_id`` set); ``Hit(...)`` builds one itself
    (``chunk_id`` None: a Hit's own ``chunk_id`` lives in its extras). A named tuple because
    single-query search builds ten of these per call (a frozen dataclass costs 3x more)."""

    chunk_id: int | None
    doc_id: str
    idx: int
    start: int
    end: int
    text: str
    source: str | None
    metadata: dict[str, Any]


class _Extra(NamedTuple):
    """The fields ``Collection.search`` sets (``dataclasses.replace``), kept apart: one shared
    ``_PLAIN`` for every vector hit."""

    explanation: Explanation | None
    chunk_id: int | None
    others: tuple[Any, ...]


_PLAIN = _Extra(None, None, ())


class _Factory:
    """``Hit(metadata=...)``'s default: a new dict per hit, as the dataclass's factory."""

    def __repr__(self) -> str:
        return "<factory>"


_MISSING: Any = _Factory()
_F32 = struct.Struct("f")
_FIELD_OF = {"id": "_r.doc_id", "score": "_s", "text": "_r.text", "source": "_r.source",
             "start": "_r.start", "end": "_r.end", "chunk": "_r.idx", "metadata": "_r.metadata",
             "explanation": "_x.explanation", "chunk_id": "_x.chunk_id", "others": "_x.others"}


def _f32_one_minus(score: float) -> float:
    """``1 - score`` rounded to float32, bit for bit numpy's ``1.0 - scores`` on a float32 array
    (``core.topk.to_distance`` for cosine). For a float32 ``score`` with ``|score| >= 2**-29``
    the double difference is exact, so one rounding to float32 follows, as numpy's; a smaller
    ``|score|`` puts the exact and the double difference within 2**-29 of 1, far from a
    float32 rounding boundary (2**-25 below 1, 2**-24 above), so both round to 1.0."""
    try:
        out: float = _F32.unpack(_F32.pack(1.0 - score))[0]
    except OverflowError:  # beyond float32: numpy's float32 subtraction gives an infinity
        return float("inf") if 1.0 - score > 0 else float("-inf")
    return out


def _lazy_distance(hit: Any) -> float:
    d: float | None = hit._d
    return _f32_one_minus(hit._s) if d is None else d


def _row_view(spec: type) -> type:
    """The run-time ``Hit`` class for the dataclass ``spec`` (see above)."""
    names = tuple(f.name for f in fields(spec))
    if names != ("id", "score", "distance", *tuple(_FIELD_OF)[2:]):
        raise TypeError(f"Hit's fields changed ({names}): update akindb.types._row_view")
    compared = tuple(f.name for f in fields(spec) if f.compare)
    shown = tuple(f.name for f in fields(spec) if f.repr)
    key = attrgetter(*compared)

    def frozen(name: str) -> property:
        def refuse(self: Any, value: Any = None) -> None:
            raise FrozenInstanceError(f"cannot assign to field {name!r}")

        get = _lazy_distance if name == "distance" else attrgetter(_FIELD_OF[name])
        return property(get, refuse, refuse, f"The hit's ``{name}``.")

    def __init__(self: Any, id: str, score: float, distance: float, text: str,
                 source: str | None = None, start: int = 0, end: int = 0, chunk: int = 0,
                 metadata: dict[str, Any] = _MISSING, explanation: Explanation | None = None,
                 chunk_id: int | None = None, others: tuple[Any, ...] = ()) -> None:
        self._r = HitRow(None, id, chunk, start, end, text, source,
                       {} if metadata is _MISSING else metadata)
        self._s = score
        self._d = distance
        self._x = (_PLAIN if explanation is None and chunk_id is None and others == ()
                   else _Extra(explanation, chunk_id, others))

    def __eq__(self: Any, other: object) -> bool:
        if other.__class__ is self.__class__:
            return bool(key(self) == key(other))
        return NotImplemented

    def __hash__(self: Any) -> int:  # as the frozen dataclass's: a metadata dict refuses
        return hash(key(self))

    def __repr__(self: Any) -> str:
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in shown)
        return f"{type(self).__qualname__}({inner})"

    def __reduce__(self: Any) -> tuple[Any, tuple[Any, ...]]:
        return type(self), tuple(getattr(self, n) for n in names)

    def __setstate__(self: Any, state: Sequence[Any]) -> None:
        """A pickle of the slotted dataclass ``Hit`` was before session 8 (its field values
        in order) loads as the view."""
        __init__(self, *state)

    ns: dict[str, Any] = {n: frozen(n) for n in names}
    ns.update(
        __slots__=("_r", "_s", "_d", "_x"), __module__=spec.__module__,
        __qualname__=spec.__qualname__, __doc__=spec.__doc__, __init__=__init__, __eq__=__eq__,
        __hash__=__hash__, __repr__=__repr__, __reduce__=__reduce__, __setstate__=__setstate__,
        __annotations__=spec.__annotations__, __match_args__=spec.__match_args__,  # type: ignore[attr-defined]
        __dataclass_fields__=spec.__dataclass_fields__,  # type: ignore[attr-defined]
        __dataclass_params__=spec.__dataclass_params__,  # type: ignore[attr-defined]
        explain=spec.explain, to_dict=spec.to_dict,  # type: ignore[attr-defined]
    )
    return type(spec.__name__, (), ns)


if not TYPE_CHECKING:
    Hit = _row_view(Hit)


def make_hits(rows: Iterable[Any], scores: Sequence[float],
              distances: Sequence[float] | None) -> list[Hit] | None:
    """Hits for rows (``HitRow``) with their scores and distances, without
    ``Hit.__init__``: four slot stores each, the row shared with the row cache; None when a row
    is None (``rows`` may be a lazy ``map`` over the row cache: the caller then reads SQLite).
    ``distances`` None: cosine, each distance ``1 - score`` in float32, worked out when read
    (``_f32_one_minus``: the same bits as ``core.topk.to_distance``). For
    ``akindb.collection`` (``results.row_hits``, ``collection.lean``), the only places
    Hits are built from rows."""
    new, cls, plain = object.__new__, Hit, _PLAIN
    out: list[Hit] = []
    append = out.append
    dists: Sequence[float | None] = [None] * len(scores) if distances is None else distances
    for row, sc, di in zip(rows, scores, dists, strict=True):
        if row is None:
            return None
        h: Any = new(cls)
        h._r = row
        h._s = sc
        h._d = di
        h._x = plain
        append(h)
    return out


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
