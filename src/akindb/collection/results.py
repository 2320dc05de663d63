"""What a vector search returns: the index's (labels, scores) made into ``Hit`` lists or into
Chroma-style ``QueryResult`` columns, with the score and distance thresholds applied.

Both run on every query, so they work on plain Python lists, not numpy scalars, and the batch
path without text takes whole rows at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from operator import attrgetter
from typing import Any, Literal, TypedDict

import numpy as np

from akindb.collection.row_cache import RowReader
from akindb.core.topk import to_distance
from akindb.storage.store import HitRow
from akindb.types import Hit, Metric

Include = Literal["scores", "distances", "documents", "metadatas"]
INCLUDE: tuple[str, ...] = ("scores", "distances", "documents", "metadatas")

_DOC_ID, _TEXT, _METADATA = (attrgetter(f) for f in ("doc_id", "text", "metadata"))

_HIT_FIELDS = ("id", "score", "distance", "text", "source", "start", "end", "chunk", "metadata",
               "explanation", "chunk_id", "others")


class _HitTwin:
    """The same slots as ``Hit`` in the same order, without the frozen ``__setattr__``: a hit
    is filled here with plain slot stores, then becomes a ``Hit`` by ``__class__``
    assignment (allowed between classes of identical layout). 1.0 µs per hit against 4-5 µs
    through the frozen dataclass's ``__init__`` (``object.__setattr__`` per field);
    single-query search builds ten per call. ``row_hits`` skips even this ``__init__``
    (``object.__new__`` and the stores inline: 0.4 µs a hit); ``new_hit`` uses it."""

    __slots__ = _HIT_FIELDS

    def __init__(self, i: str, sc: float, di: float, text: str, source: str | None,
                 start: int, end: int, chunk: int, meta: dict[str, Any], expl: Any = None,
                 cid: int | None = None) -> None:
        self.id = i
        self.score = sc
        self.distance = di
        self.text = text
        self.source = source
        self.start = start
        self.end = end
        self.chunk = chunk
        self.metadata = meta
        self.explanation = expl
        self.chunk_id = cid
        self.others = ()


def _hit_maker() -> Any:
    """``new_hit(id, score, distance, text, source, start, end, chunk, metadata)``: an ordinary
    ``Hit`` (same class, equality, repr, immutability, pickling) without its ``__init__``'s
    cost. ``tests/index/test_row_cache.py`` fails if ``Hit``'s fields ever differ from the
    twin's (this then falls back to ``Hit`` itself, slower but right)."""
    if tuple(f.name for f in fields(Hit)) != _HIT_FIELDS or Hit.__slots__ != _HIT_FIELDS:
        return Hit  # pragma: no cover - the test above catches it
    twin, hit = _HitTwin, Hit

    def make(i: str, sc: float, di: float, text: str, source: str | None, start: int, end: int,
             chunk: int, meta: dict[str, Any], expl: Any = None, cid: int | None = None) -> Hit:
        h: Any = twin(i, sc, di, text, source, start, end, chunk, meta, expl, cid)
        h.__class__ = hit
        return h  # type: ignore[no-any-return]

    return make


new_hit = _hit_maker()


class QueryResult(TypedDict, total=False):
    """``search_vectors(..., include=[...])``: per query, ids always, the rest when included."""

    ids: list[list[str]]
    scores: list[list[float]]
    distances: list[list[float]]
    documents: list[list[str]]
    metadatas: list[list[dict[str, Any]]]


def passes(score: float, distance: float, min_score: float | None,
           max_distance: float | None) -> bool:
    """The one threshold test of every result shape: ``score >= min_score`` and
    ``distance <= max_distance``; a NaN score or distance never passes a threshold set on it.

    >>> passes(0.5, float("nan"), None, 0.4), passes(0.5, float("nan"), 0.4, None)
    (False, True)
    """
    if min_score is not None and not score >= min_score:
        return False
    return max_distance is None or distance <= max_distance


def hits_from_rows(
    labels: Any,
    scores: Any,
    rows: dict[int, HitRow],
    metric: Metric,
    min_score: float | None,
    max_distance: float | None,
) -> list[list[Hit]]:
    """Hit objects per query row (``row_hits``), filtered by the thresholds."""
    dists = to_distance(scores, metric).tolist()
    get = rows.get
    return [
        row_hits(list(map(get, lab_r)), sc_r, di_r, min_score, max_distance)
        for lab_r, sc_r, di_r in zip(labels.tolist(), scores.tolist(), dists, strict=True)
    ]


def row_hits(
    rows: Sequence[HitRow | None],
    scores: list[float],
    distances: list[float],
    min_score: float | None,
    max_distance: float | None,
) -> list[Hit]:
    """The Hits of one query, best first: every Hit-shaped vector answer (batch, the lean
    single query) is built and threshold-filtered (``passes``) here. ``rows`` holds each
    answer's row in answer order; a None (label -1, or a chunk deleted meanwhile) is left out.

    Plain Python lists, not numpy scalars, and no call per hit: each Hit is a ``_HitTwin``
    made by ``object.__new__``, filled by plain slot stores and turned into a ``Hit`` by
    ``__class__`` assignment (0.4 µs per hit against 0.65 through ``_HitTwin.__init__`` and
    4-5 through ``Hit.__init__``); the single-query search builds ten per call."""
    out: list[Hit] = []
    filtered = min_score is not None or max_distance is not None
    make, twin, hit = object.__new__, _HitTwin, Hit
    if new_hit is Hit:  # pragma: no cover - Hit's fields changed; tests/index/test_row_cache.py
        return [Hit(r.doc_id, sc, di, r.text, r.source, r.start, r.end, r.idx, r.metadata)
                for r, sc, di in zip(rows, scores, distances, strict=True)
                if r is not None and (not filtered or passes(sc, di, min_score, max_distance))]
    for row, sc, di in zip(rows, scores, distances, strict=True):
        if row is None:
            continue
        if filtered and not passes(sc, di, min_score, max_distance):
            continue
        _, doc_id, idx, start, end, text, source, meta = row
        h: Any = make(twin)
        h.id = doc_id
        h.score = sc
        h.distance = di
        h.text = text
        h.source = source
        h.start = start
        h.end = end
        h.chunk = idx
        h.metadata = meta
        h.explanation = None
        h.chunk_id = None
        h.others = ()
        h.__class__ = hit  # see _HitTwin
        out.append(h)
    return out


def query_result(
    reader: RowReader,
    metric: Metric,
    labels: Any,
    scores: Any,
    include: Sequence[str],
    min_score: float | None,
    max_distance: float | None,
    gone_out: set[int] | None = None,
) -> QueryResult:
    """Chroma-style columns for ``include``: document ids, text and metadata from the hit rows
    (``reader``: the row cache, or SQLite when a write landed after the search)."""
    dists = to_distance(scores, metric)
    keep = labels >= 0
    if min_score is not None:
        keep &= scores >= min_score
    if max_distance is not None:
        keep &= dists <= max_distance
    if keep.all():
        flat = labels.ravel().tolist()
        in_memory = reader.aligned(flat)  # the batch hot path: every row in the row cache
        if in_memory is not None:
            return _whole_rows(labels, flat, in_memory, scores, dists, include)
    wanted = set(labels[keep].tolist())
    rows: dict[int, HitRow] = {}
    docs: dict[int, str] = {}
    with_rows = "documents" in include or "metadatas" in include
    if with_rows:
        rows = reader.rows(sorted(wanted))
    else:
        docs = reader.doc_ids(sorted(wanted))
    # A chunk deleted by another writer between the index search and these reads is left out,
    # as the Hit path leaves out rows it no longer finds.
    gone = wanted.difference(rows if with_rows else docs)
    if gone_out is not None:  # akindb.collection.snapshot retries an answer that lost rows
        gone_out.update(gone)
    if gone:
        keep &= ~np.isin(labels, np.fromiter(gone, dtype=np.int64, count=len(gone)))
    if keep.all():  # every kept label has its row (or document id)
        flat = labels.ravel().tolist()
        if with_rows:
            return _whole_rows(labels, flat, list(map(rows.__getitem__, flat)), scores, dists,
                               include)
        return _whole_rows(labels, flat, None, scores, dists, include, docs)
    res: QueryResult = {"ids": []}
    lab_l = labels.tolist()
    sc_l, di_l, keep_l = scores.tolist(), dists.tolist(), keep.tolist()
    for name in include:
        res[name] = []  # type: ignore[literal-required]
    for r in range(len(lab_l)):
        cols = [j for j, ok in enumerate(keep_l[r]) if ok]  # every kept label has its row
        if with_rows:
            res["ids"].append([rows[lab_l[r][j]].doc_id for j in cols])
        else:
            res["ids"].append([docs[lab_l[r][j]] for j in cols])
        if "scores" in res:
            res["scores"].append([sc_l[r][j] for j in cols])
        if "distances" in res:
            res["distances"].append([di_l[r][j] for j in cols])
        if "documents" in res:
            res["documents"].append([rows[lab_l[r][j]].text for j in cols])
        if "metadatas" in res:
            res["metadatas"].append([rows[lab_l[r][j]].metadata for j in cols])
    return res


def _whole_rows(labels: Any, flat: list[int], hit_rows: list[HitRow] | None, scores: Any,
                dists: Any, include: Sequence[str],
                docs: dict[int, str] | None = None) -> QueryResult:
    """``query_result`` when nothing is cut: the columns in C-level passes over one flat list
    of labels (``map`` and attribute getters), cut into rows of k; no Python code per hit.
    ``hit_rows``: each label's row, in order; or None and ``docs`` (ids only)."""
    k = labels.shape[1]

    def cut(col: list[Any]) -> list[list[Any]]:
        if not k:
            return [[] for _ in range(len(labels))]
        return [col[i : i + k] for i in range(0, len(col), k)]

    res: QueryResult = {}
    if hit_rows is None:
        assert docs is not None
        res["ids"] = cut(list(map(docs.__getitem__, flat)))
    else:
        res["ids"] = cut(list(map(_DOC_ID, hit_rows)))
    for name in include:
        if name == "documents":
            res["documents"] = cut(list(map(_TEXT, hit_rows or ())))
        elif name == "metadatas":
            res["metadatas"] = cut(list(map(_METADATA, hit_rows or ())))
        else:
            res[name] = (scores if name == "scores" else dists).tolist()  # type: ignore[literal-required]
    return res
