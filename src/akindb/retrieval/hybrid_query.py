"""One hybrid query after its two retrievers: the candidates' dense scores, dense feedback, fusion.

``search.search`` hands over the vector and keyword lists it found in one read snapshot; this
module returns the gathered ``Candidates`` (whose dense scores are the query's own: hits report
them) and the first ``limit`` fused items with the scores a user reads.

The default pipeline (``convex`` over cosines, a flat index) takes its candidates' vectors from
the index the vector search just used (``LiveIndex.rows_at``: the same log position, so the same
rows SQLite holds at this snapshot, and for cosine the very bits ``dense_scores`` computes from
SQLite's copy) and fuses on arrays (``convex_arrays``). The two keyed SQLite reads of ~150 stored
vectors it replaces cost about 0.45 ms a query. SQLite is read only for what the index cannot
give: a candidate the index lacks, and the few stored vectors a feedback centroid averages
(``feedback.rocchio`` averages the stored vectors, not their normalised copies). Hits' rows still
come from SQLite (or the row cache behind it), so a deleted row is never returned whatever the
index holds. Every other method, metric or index kind runs the dict code (``hybrid.convex``,
``feedback.moved``) with vectors read from SQLite, as before.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from akindb.collection.parts import CollectionParts
from akindb.core.vectors import normalize_rows
from akindb.index.base import F32, I64
from akindb.retrieval import stages
from akindb.retrieval.convex_arrays import Pool, feedback_rounds
from akindb.retrieval.feedback import RocchioParams, applies, moved
from akindb.retrieval.fusion import FusedItem, FusionMethod, FusionParams
from akindb.retrieval.hybrid import Candidates, fuse_candidates, gather
from akindb.types import Metric

Scorer = Callable[[F32, F32], F32]


def unit_query(q: F32) -> F32:
    """The query normalised for cosine as the index normalises its queries
    (``core.vectors.normalize_rows``); ``search.dense_scores`` uses this too."""
    qn: F32 = unit_rows(np.ascontiguousarray(q, dtype=np.float32)[None, :])[0]
    return qn


def unit_rows(vecs: F32) -> F32:
    """Rows normalised for cosine as the index normalises its rows (``normalize_rows``, zero
    rows stay zero), so a flat index's stored rows and SQLite's vectors normalised here have
    the same bits; ``search.dense_scores`` uses this too."""
    return normalize_rows(np.ascontiguousarray(vecs, dtype=np.float32))


def cosine_of_unit(q: F32, rows: F32) -> F32:
    """``dense_scores(COSINE, q, v)`` for ``rows = unit_rows(v)``, bit for bit."""
    out: F32 = (rows @ unit_query(q)).astype(np.float32)
    return out


class IndexVectors:
    """One query's candidate vectors: normalised rows from the flat index at log position
    ``seq`` (SQLite for any the index cannot give), stored vectors from SQLite on demand."""

    def __init__(self, parts: CollectionParts, seq: int) -> None:
        self.parts, self.seq = parts, seq
        self.stored: dict[int, F32] = {}

    def rows(self, ids: Sequence[int]) -> tuple[F32, I64]:
        """Unit rows of those ``ids`` that have a vector, in ``ids`` order, and their
        positions in ``ids``."""
        labels = np.array(ids, dtype=np.int64)
        got = self.parts.live.rows_at(labels, self.seq) if len(ids) else None
        if got is not None and len(got[1]) == len(ids):
            return got
        have: dict[int, F32] = {}
        if got is not None:
            have = {int(labels[j]): r for r, j in zip(got[0], got[1].tolist(), strict=True)}
        if missing := [i for i in ids if i not in have]:
            read = self.parts.store.vectors_by_chunk(missing)
            self.stored.update(read)
            found = [i for i in missing if i in read]
            if found:
                unit = unit_rows(np.stack([read[i] for i in found]))
                have.update(zip(found, unit, strict=True))
        at = np.array([j for j, i in enumerate(ids) if i in have], dtype=np.int64)
        mat = (np.stack([have[ids[j]] for j in at.tolist()]) if len(at)
               else np.zeros((0, self.parts.dim), np.float32))
        return mat, at

    def stored_of(self, ids: Sequence[int]) -> dict[int, F32]:
        """Stored vectors of ``ids`` (a feedback centroid's), read once per query."""
        if need := [i for i in ids if i not in self.stored]:
            self.stored.update(self.parts.store.vectors_by_chunk(need))
        return {i: self.stored[i] for i in ids if i in self.stored}


def rank(
    parts: CollectionParts,
    conn: sqlite3.Connection,
    qvec: F32,
    lists: Mapping[str, Mapping[int, float]],
    terms: Sequence[str],
    params: FusionParams,
    fb: RocchioParams | None,
    *,
    seq: int,
    limit: int,
    weights: Mapping[str, float] | None = None,
    first: Mapping[int, float] | None = None,
    stats: tuple[float, float | None] | None = None,
    score: Scorer,
) -> tuple[Candidates, list[FusedItem], list[float]]:
    """Gather, feed back and fuse one hybrid query (see the module docstring); ``score`` is the
    metric's ``dense_scores``. Returns the gathered candidates and the first ``limit`` fused
    items with their shown scores."""
    bounded = parts.metric is Metric.COSINE
    fast = params.method is FusionMethod.CONVEX and bounded
    src = IndexVectors(parts, seq)
    read: dict[int, F32] = {}  # the dict path's stored vectors (gather, then feedback)

    def sqlite_dense(ids: list[int]) -> dict[int, float]:
        vecs = parts.store.vectors_by_chunk(ids)
        read.update(vecs)
        got = [i for i in ids if i in vecs]
        s = score(qvec, np.stack([vecs[i] for i in got])) if got else np.zeros(0, np.float32)
        return dict(zip(got, s.tolist(), strict=True))

    rows, at = np.zeros((0, parts.dim), np.float32), np.zeros(0, np.int64)
    dense_of: Callable[[list[int]], dict[int, float]] = sqlite_dense
    if fast:  # every candidate's row at once, in the order of Pool.of (vector list first)
        vec = lists.get("vector", {})
        ids = [*vec, *(i for i in lists.get("keyword", {}) if i not in vec)]
        rows, at = src.rows(ids)
        row_of = {ids[j]: r for r, j in enumerate(at.tolist())}

        def index_dense(missing: list[int]) -> dict[int, float]:  # keyword-only candidates
            got = [i for i in missing if i in row_of]
            s = cosine_of_unit(qvec, rows[[row_of[i] for i in got]]) if got else np.zeros(0)
            return dict(zip(got, s.tolist(), strict=True))

        dense_of = index_dense

    cands = gather(conn, lists, terms, params, bounded=bounded, dense_of=dense_of,
                   weights=weights, first=first, stats=stats)
    stages.mark("gather")
    on = fb is not None and fb.enabled and fb.beta > 0 and applies(cands, params)
    if fast:
        pool = Pool.of(cands, params)
        dense = pool.dense
        if on:
            assert fb is not None
            dense = feedback_rounds(pool, qvec, rows, at, src.stored_of, fb, cosine_of_unit)
            stages.mark("feedback")
        fused, shown = pool.fused(dense, limit)
        stages.mark("fuse")
        return cands, fused, shown
    if on:
        assert fb is not None
        every = list(dict.fromkeys([*cands.vector, *cands.keyword]))
        if need := [i for i in every if i not in read]:
            read.update(parts.store.vectors_by_chunk(need))
        out = moved(cands, qvec, read, params, fb, score)
        stages.mark("feedback")
        fused, shown = fuse_candidates(out, params)
    else:
        fused, shown = fuse_candidates(cands, params)
    stages.mark("fuse")
    return cands, fused[:limit], shown[:limit]
