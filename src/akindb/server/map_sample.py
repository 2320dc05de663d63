"""The web page's map for a collection that is not embedded (a cluster's): a sample through
the collection protocol.

An embedded collection's map reads every vector from its store in one query
(``views.MapCache``). A cluster collection has no such store here, so the map samples the
first ``MAP_DOCS`` documents (``get``) and their chunk vectors (``vectors_of``: one shard
call each), up to the page's ``max_points`` chunks. The projection is kept until the
collection's chunk count changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from akindb.protocol import CollectionAPI
from akindb.types import Metric

MAP_DOCS = 300
"""Documents sampled for a cluster collection's map (one ``vectors_of`` call each)."""
F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class SampledRow:
    """What the map shows of a chunk (the embedded store's hit row has the same fields)."""

    doc_id: str
    idx: int
    source: str | None


def sampled_rows(col: CollectionAPI, max_points: int
                 ) -> tuple[int, npt.NDArray[np.int64], F32, dict[int, SampledRow]]:
    """``(total chunks, labels, vectors, label -> row)`` of a sample of ``col``'s chunks."""
    total = col.count_chunks()
    vecs: list[F32] = []
    rows: dict[int, SampledRow] = {}
    for rec in col.get(limit=min(MAP_DOCS, max_points)):
        v = np.asarray(col.vectors_of(rec.id), dtype=np.float32)
        take = min(len(v), max_points - len(rows))
        for i in range(take):
            rows[len(rows)] = SampledRow(rec.id, i, rec.source)
        vecs.append(v[:take])
        if len(rows) >= max_points:
            break
    mat = np.concatenate(vecs) if vecs else np.zeros((0, col.dim), np.float32)
    return total, np.arange(len(rows), dtype=np.int64), mat, rows


def project(vecs: F32, dim: int, metric: Metric, pca: Callable[[F32], Any],
            prep: Callable[[F32, Metric], F32]) -> tuple[F32, F32, F32, list[float]]:
    """``(coords, mean, axes, explained variance)`` of ``vecs`` on their top-2 axes."""
    vecs = prep(vecs, metric)
    mean, axes, var = pca(vecs) if len(vecs) else (
        np.zeros(dim, np.float32), np.zeros((2, dim), np.float32), [0.0, 0.0])
    return ((vecs - mean) @ axes.T).astype(np.float32), mean, axes, list(var)
