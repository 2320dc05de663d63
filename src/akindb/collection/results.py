"""What a vector search returns: the index's (labels, scores) made into ``Hit`` lists or into
Chroma-style ``QueryResult`` columns, with the score and distance thresholds applied.

Both run on every query, so they work on plain Python lists, not numpy scalars, and the batch
path without text takes whole rows at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter
from typing import Any, Literal, TypedDict

import numpy as np

from akindb.collection.row_cache import RowReader
from akindb.core.topk import to_distance
from akindb.types import Hit, HitRow, Metric, make_hits

Include = Literal["scores", "distances", "documents", "metadatas"]
INCLUDE: tuple[str, ...] = ("scores", "distances", "documents", "metadatas")

_DOC_ID, _TEXT, _METADATA = (attrgetter(f) for f in ("doc_id", "text", "metadata"))

# ``Hit(...)`` with every field, for code that has the fields but no row (text search); a
# ``Hit`` is a row view since session 8 (``akindb.types``), its constructor no longer costs a
# frozen dataclass's ``object.__setattr__`` per field.
new_hit = Hit


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
    distances: list[float] | None,
    min_score: float | None,
    max_distance: float | None,
) -> list[Hit]:
    """The Hits of one query, best first: every Hit-shaped vector answer (batch, the lean
    single query) is built and threshold-filtered (``passes``) here. ``rows`` holds each
    answer's row in answer order; a None (label -1, or a chunk deleted meanwhile) is left out.
    ``distances`` None: cosine, each ``1 - score`` in float32 (worked out when read, see
    ``akindb.types.make_hits``).

    Plain Python lists, not numpy scalars, and no call per hit: ``make_hits`` makes each Hit
    a view of its cached row (four slot stores; the row's text, metadata... objects are not
    touched until read)."""
    if min_score is None and max_distance is None:
        out = make_hits(rows, scores, distances)
        if out is not None:
            return out
    if distances is None:
        distances = to_distance(np.array(scores, np.float32), Metric.COSINE).tolist()
    kept = [(r, sc, di) for r, sc, di in zip(rows, scores, distances, strict=True)
            if r is not None and passes(sc, di, min_score, max_distance)]
    return make_hits([x[0] for x in kept], [x[1] for x in kept], [x[2] for x in kept]) or []


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
