"""What a vector search returns: the index's (labels, scores) made into ``Hit`` lists or into
Chroma-style ``QueryResult`` columns, with the score and distance thresholds applied.

Both run on every query, so they work on plain Python lists, not numpy scalars, and the batch
path without text takes whole rows at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, TypedDict

import numpy as np

from akindb.core.topk import to_distance
from akindb.storage.store import CollectionStore, HitRow
from akindb.types import Hit, Metric

Include = Literal["scores", "distances", "documents", "metadatas"]
INCLUDE: tuple[str, ...] = ("scores", "distances", "documents", "metadatas")
_DOC_CACHE_MAX = 2_000_000


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
    """Hit objects per query row, filtered by the thresholds. Plain Python lists, not numpy
    scalars, in the loop: this runs on every single-query search."""
    dists = to_distance(scores, metric).tolist()
    out: list[list[Hit]] = []
    for lab_r, sc_r, di_r in zip(labels.tolist(), scores.tolist(), dists, strict=True):
        hits: list[Hit] = []
        for lab, sc, di in zip(lab_r, sc_r, di_r, strict=True):
            row = rows.get(lab)
            if row is None:
                continue
            if (min_score is not None or max_distance is not None) and not passes(
                sc, di, min_score, max_distance
            ):
                continue
            hits.append(
                Hit(row.doc_id, sc, di, row.text, row.source, row.start, row.end, row.idx,
                    row.metadata)
            )
        out.append(hits)
    return out


def query_result(
    store: CollectionStore,
    doc_cache: dict[int, str],
    metric: Metric,
    labels: Any,
    scores: Any,
    include: Sequence[str],
    min_score: float | None,
    max_distance: float | None,
    gone_out: set[int] | None = None,
) -> QueryResult:
    """Chroma-style columns for ``include``. Document ids come from ``doc_cache`` (chunk id ->
    document id, filled from SQLite as needed: always valid, since a chunk id is never reused
    and never moves); text and metadata from the hit rows when asked for."""
    dists = to_distance(scores, metric)
    keep = labels >= 0
    if min_score is not None:
        keep &= scores >= min_score
    if max_distance is not None:
        keep &= dists <= max_distance
    wanted = set(labels[keep].tolist())
    docs = doc_cache
    rows = {}
    with_rows = "documents" in include or "metadatas" in include
    if with_rows:
        rows = store.hit_rows(sorted(wanted))
    else:
        missing = wanted.difference(docs)
        if missing:
            if len(docs) + len(missing) > _DOC_CACHE_MAX:
                docs.clear()  # bounded memory; then every wanted id is fetched again
                missing = wanted
            docs.update(store.doc_ids_of(sorted(missing)))
    # A chunk deleted by another writer between the index search and these reads is left out,
    # as the Hit path leaves out rows it no longer finds.
    gone = wanted.difference(rows if with_rows else docs)
    if gone_out is not None:  # akindb.collection.snapshot retries an answer that lost rows
        gone_out.update(gone)
    if gone:
        keep &= ~np.isin(labels, np.fromiter(gone, dtype=np.int64, count=len(gone)))
    lab_l = labels.tolist()
    res: QueryResult = {"ids": []}
    if not with_rows and keep.all():
        # The batch hot path (ids, maybe scores): whole rows, no per-column filtering.
        res["ids"] = [[docs[x] for x in r] for r in lab_l]
        for name in include:
            res[name] = (scores if name == "scores" else dists).tolist()  # type: ignore[literal-required]
        return res
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
