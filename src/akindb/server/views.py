"""The web page's computed views: a 2-D PCA map of a collection and a per-hit explanation.

Pure numpy on top of the Collection API; the server caches a map's projection per collection
and log sequence number, so a query only projects one vector.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from akindb.collection import Collection
from akindb.core.pca import principal_axes
from akindb.core.topk import to_distance
from akindb.core.vectors import normalize_rows
from akindb.errors import DocumentNotFoundError, InvalidArgumentError
from akindb.models.base import Embedder
from akindb.protocol import CollectionAPI
from akindb.types import Metric

F32 = npt.NDArray[np.float32]
_WORD = re.compile(r"\w+", re.UNICODE)


def pca_2d(x: F32) -> tuple[F32, F32, list[float]]:
    """Mean, the top-2 principal axes (2, d) and their explained-variance ratios.

    >>> m, axes, var = pca_2d(np.array([[-2, 0, 0], [2, 0, 0], [0, 1, 0]], dtype=np.float32))
    >>> [round(abs(float(a)), 3) for a in axes[0]], round(sum(var), 3)
    ([1.0, 0.0, 0.0], 1.0)
    """
    p = principal_axes(x, 2)
    return p.mean, p.axes, p.explained


@dataclass(frozen=True)
class Projection:
    seq: int
    labels: npt.NDArray[np.int64]
    coords: F32
    mean: F32
    axes: F32
    variance: list[float]
    total: int
    rows: dict[int, Any]


@runtime_checkable
class Viewable(CollectionAPI, Protocol):
    """What the page's views need: the collection protocol and the model in this process (an
    embedded ``Collection``, a cluster's ``DistributedCollection``)."""

    @property
    def embedder(self) -> Embedder: ...


def viewable(col: CollectionAPI) -> Viewable:
    """``col`` as the views take it; a collection without a model here is refused."""
    if isinstance(col, Viewable):
        return col
    raise InvalidArgumentError(
        f"collection {col.name!r} has no model in this server: the map and explanations "
        "need one"
    )


class MapCache:
    """One projection per (collection uuid, sample size), refreshed when the log moves on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, int], Projection] = {}

    def projection(self, col: Viewable, max_points: int) -> Projection:
        if not isinstance(col, Collection):  # a cluster's: sampled through the protocol
            return self._sampled(col, max_points)
        key = (col.config.uuid, max_points)
        parts = col.parts
        with parts.lock:
            head = parts.store.head_seq()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit.seq == head:
                return hit
        with parts.lock:
            seq, labels, vecs = parts.store.all_vectors()
        total = len(labels)
        if total > max_points:
            pick = np.sort(np.random.default_rng(0).choice(total, max_points, replace=False))
            labels, vecs = labels[pick], vecs[pick]
        vecs = _prep(vecs, col.metric)
        mean, axes, var = pca_2d(vecs) if len(vecs) else (
            np.zeros(col.dim, np.float32), np.zeros((2, col.dim), np.float32), [0.0, 0.0]
        )
        coords = ((vecs - mean) @ axes.T).astype(np.float32)
        with parts.lock:
            rows = parts.store.hit_rows(labels.tolist())
        proj = Projection(seq, labels, coords, mean, axes, var, total, rows)
        with self._lock:
            self._cache[key] = proj
        return proj


    def _sampled(self, col: Viewable, max_points: int) -> Projection:
        from akindb.server.map_sample import project, sampled_rows

        key = (f"api:{col.name}", max_points)
        total = col.count_chunks()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and hit.seq == total:
            return hit
        total, labels, vecs, rows = sampled_rows(col, max_points)
        coords, mean, axes, var = project(vecs, col.dim, col.metric, pca_2d, _prep)
        proj = Projection(total, labels, coords, mean, axes, var, total, rows)
        with self._lock:
            self._cache[key] = proj
        return proj


def _prep(vecs: F32, metric: Metric) -> F32:
    return normalize_rows(vecs) if metric is Metric.COSINE else vecs


def build_map(
    col: Viewable, cache: MapCache, query: str | None, k: int, max_points: int
) -> dict[str, Any]:
    proj = cache.projection(col, max_points)
    points: list[dict[str, Any]] = []
    where: dict[tuple[str, int], int] = {}
    for i, lab in enumerate(proj.labels.tolist()):
        row = proj.rows.get(lab)
        if row is None:
            continue
        where[(row.doc_id, row.idx)] = len(points)
        points.append({
            "x": float(proj.coords[i, 0]), "y": float(proj.coords[i, 1]), "id": row.doc_id,
            "chunk": row.idx, "source": row.source, "hit": -1,
        })
    qxy: list[float] | None = None
    if query is not None and query.strip():
        qv = col.embedder.embed([query])
        hits = col.search_vectors(qv, k)[0]
        q2 = (_prep(qv, col.metric) - proj.mean) @ proj.axes.T
        qxy = [float(q2[0, 0]), float(q2[0, 1])]
        for rank, h in enumerate(hits):
            j = where.get((h.id, h.chunk))
            if j is None:  # a hit outside the sample: project it and add it
                v = _prep(col.vectors_of(h.id)[h.chunk : h.chunk + 1], col.metric)
                xy = (v - proj.mean) @ proj.axes.T
                j = len(points)
                points.append({
                    "x": float(xy[0, 0]), "y": float(xy[0, 1]), "id": h.id, "chunk": h.chunk,
                    "source": h.source, "hit": -1,
                })
            points[j]["hit"] = rank
    return {
        "points": points,
        "query": qxy,
        "explained_variance": proj.variance,
        "total_chunks": proj.total,
        "sampled": proj.total > len(proj.labels),
    }


def explain(col: Viewable, query: str, doc_id: str, chunk: int) -> dict[str, Any]:
    """Why a chunk scored what it did: score and distance recomputed from the stored vectors,
    its exact rank (top 100), the query's tokens and the words the passage shares with it."""
    records = col.get([doc_id])
    if not records:
        raise DocumentNotFoundError(
            f"no document {doc_id!r} in collection {col.name!r}; search again for current ids"
        )
    rec = records[0]
    chunks = {c.index: c for c in rec.chunks}
    if chunk not in chunks:
        raise InvalidArgumentError(
            f"document {doc_id!r} has chunks 0..{len(rec.chunks) - 1}, not {chunk}"
        )
    c = chunks[chunk]
    emb = col.embedder
    qv = emb.embed([query])
    v = col.vectors_of(doc_id)[chunk : chunk + 1]
    if col.metric is Metric.COSINE:
        score = float((normalize_rows(qv) @ normalize_rows(v).T)[0, 0])
    elif col.metric is Metric.DOT:
        score = float((qv @ v.T)[0, 0])
    else:
        score = -float(np.linalg.norm(qv - v))
    dist = float(to_distance(np.array([score], dtype=np.float32), col.metric)[0])
    top = col.search_vectors(qv, 100, exact=True)[0]
    rank = next((i for i, h in enumerate(top) if h.id == doc_id and h.chunk == chunk), None)
    qwords = [w.lower() for w in _WORD.findall(query)]
    pwords = {w.lower() for w in _WORD.findall(c.text)}
    shared = sorted({w for w in qwords if len(w) > 2 and w in pwords})
    n_tok = emb.count_tokens([c.text])[0]
    return {
        "id": doc_id,
        "chunk": chunk,
        "metric": col.metric.value,
        "score": score,
        "distance": dist,
        "rank": rank,
        "model": emb.spec.name,
        "source": rec.source,
        "start": c.start,
        "end": c.end,
        "query_tokens": emb.tokenize(query).tokens,
        "passage_tokens": n_tok,
        "shared_terms": shared,
        "truncated": n_tok + 2 > emb.spec.max_tokens,
    }
