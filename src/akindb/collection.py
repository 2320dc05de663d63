"""Collection: add / upsert / delete / get / search over one set of documents.

Composes the rooms below it: the embedder (models), chunking (text), SQLite rows (storage) and
the live index (index). A write is one SQLite transaction: acknowledged means durable. The index
is derived and caught up from the log before each query.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from akindb.core.vectors import as_matrix
from akindb.errors import (
    EmptyTextError,
    InvalidArgumentError,
    ModelError,
    ModelMismatchError,
)
from akindb.index.base import F32
from akindb.live_index import LiveIndex
from akindb.models.base import Embedder, ModelSpec, ProgressFn, TokenView
from akindb.results import INCLUDE, Include, QueryResult, hits_from_rows, query_result
from akindb.storage import sqlite as sq
from akindb.storage.filters import parse_where
from akindb.storage.store import CollectionStore
from akindb.text.chunking import ChunkingParams, chunk_text
from akindb.types import Chunk, Hit, Metric, Record

if TYPE_CHECKING:
    from collections.abc import Callable

    from akindb.db import Database
    from akindb.ingest import IngestProgress, IngestReport
    from akindb.retrieval.context import RagContext
    from akindb.retrieval.fusion import FusionParams
    from akindb.retrieval.rerank import Reranker
    from akindb.retrieval.search import SearchMode

log = logging.getLogger(__name__)
Where = Mapping[str, Any] | str | None


@dataclass(frozen=True)
class CollectionConfig:
    """What a collection fixes at creation (one row of ``collections``)."""

    id: int
    name: str
    uuid: str
    metric: Metric
    dim: int
    model: ModelSpec | None
    index_kind: str
    index_params: dict[str, Any] = field(default_factory=dict)
    chunking: ChunkingParams = field(default_factory=ChunkingParams)

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> CollectionConfig:
        cid, name, uid, metric, dim, model, kind, params, chunking = row
        return cls(
            id=int(cid), name=name, uuid=uid, metric=Metric(metric), dim=int(dim),
            model=ModelSpec.from_json(model) if model else None, index_kind=kind,
            index_params=json.loads(params),
            chunking=ChunkingParams.from_dict(json.loads(chunking)),
        )


def text_hash(text: str) -> str:
    """Content hash used for idempotent writes.

    >>> text_hash("a")[:12]
    'ca978112ca1b'
    """
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Collection:
    """A named set of documents embedded by one pinned model, searchable by meaning."""

    def __init__(self, db: Database, config: CollectionConfig, embedder: Embedder | None) -> None:
        self.db = db
        self.config = config
        self._embedder = embedder
        self._store = CollectionStore(db.conn, config.id, config.dim)
        self._live = LiveIndex(
            self._store,
            db.index_dir / f"{config.uuid}.{config.index_kind}",
            collection_uuid=config.uuid,
            kind=config.index_kind,
            metric=config.metric,
            dim=config.dim,
            params=config.index_params,
            lock=db.lock,
        )
        from akindb.monitor import attach

        attach(self)  # the recall monitor's sampling hook (approximate indexes only)
        # chunk id -> document id. Always valid: a chunk id is never reused and never moves to
        # another document, and the index only returns live chunks.
        self._doc_of: dict[int, str] = {}

    # ---- properties ----------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.config.name

    @property
    def metric(self) -> Metric:
        return self.config.metric

    @property
    def dim(self) -> int:
        return self.config.dim

    @property
    def embedder(self) -> Embedder:
        """The pinned model, loaded on first use and kept."""
        if self._embedder is None:
            spec = self.config.model
            if spec is None:
                raise ModelError(
                    f"collection {self.name!r} stores precomputed vectors and has no model; "
                    "pass vectors (add(vectors=...), search_vector) instead of text"
                )
            from akindb.models.registry import load_embedder

            emb = load_embedder(spec.name)
            self.check_model(emb)
            self._embedder = emb
        return self._embedder

    def check_model(self, embedder: Embedder | None) -> None:
        """Refuse a model other than the pinned one, naming both."""
        pinned = self.config.model
        if embedder is None or pinned is None:
            if embedder is not None and embedder.dim != self.dim:
                raise ModelMismatchError(
                    f"collection {self.name!r} stores {self.dim}-d vectors; model "
                    f"{embedder.spec.describe()} makes {embedder.dim}-d"
                )
            return
        if not pinned.same_model(embedder.spec):
            raise ModelMismatchError(
                f"collection {self.name!r} is pinned to model {pinned.describe()}, but "
                f"{embedder.spec.describe()} was given; use the pinned model or create a new "
                "collection for the other one"
            )

    # ---- writes --------------------------------------------------------------------------------
    def add(
        self,
        texts: Sequence[str] | None = None,
        *,
        ids: Sequence[str] | None = None,
        metadatas: Sequence[Mapping[str, Any]] | None = None,
        vectors: Any = None,
        sources: Sequence[str | None] | None = None,
        chunk: bool = True,
        progress: ProgressFn | None = None,
    ) -> list[str]:
        """Add documents; returns their ids. One transaction: all or nothing.

        Texts are chunked (``chunk=False`` keeps each text as one unit, truncated at the
        model's limit) and embedded with the pinned model. With ``vectors=`` the given vectors
        are stored as they are (one chunk per item; ``texts`` optional). Re-adding an id with
        the same content is a no-op; with different content it is an error (use ``upsert``).
        """
        return self._write(texts, ids, metadatas, vectors, sources, chunk, progress, upsert=False)

    def upsert(
        self,
        texts: Sequence[str] | None = None,
        *,
        ids: Sequence[str] | None = None,
        metadatas: Sequence[Mapping[str, Any]] | None = None,
        vectors: Any = None,
        sources: Sequence[str | None] | None = None,
        chunk: bool = True,
        progress: ProgressFn | None = None,
    ) -> list[str]:
        """Like ``add``, but an existing id with different content is replaced."""
        return self._write(texts, ids, metadatas, vectors, sources, chunk, progress, upsert=True)

    def _write(
        self,
        texts: Sequence[str] | None,
        ids: Sequence[str] | None,
        metadatas: Sequence[Mapping[str, Any]] | None,
        vectors: Any,
        sources: Sequence[str | None] | None,
        chunk: bool,
        progress: ProgressFn | None,
        *,
        upsert: bool,
    ) -> list[str]:
        if isinstance(texts, str):
            raise InvalidArgumentError("texts must be a list of strings, not one string")
        n = len(texts) if texts is not None else (len(vectors) if vectors is not None else 0)
        if texts is None and vectors is None:
            raise InvalidArgumentError("give texts, vectors, or both")
        if texts is not None and vectors is not None and len(vectors) != len(texts):
            raise InvalidArgumentError(f"{len(texts)} texts but {len(vectors)} vectors")
        for name, seq in (("ids", ids), ("metadatas", metadatas), ("sources", sources)):
            if seq is not None and len(seq) != n:
                raise InvalidArgumentError(f"{n} items but {len(seq)} {name}")
        if n == 0:
            return []
        mats = as_matrix(vectors, self.dim, self.metric) if vectors is not None else None
        body = list(texts) if texts is not None else [""] * n
        if texts is not None:
            for i, t in enumerate(body):
                if not isinstance(t, str):
                    raise InvalidArgumentError(f"text #{i} is {type(t).__name__}, not str")
                if mats is None and not t.strip():
                    raise EmptyTextError(f"text #{i} is empty; give non-empty text")
                if "\x00" in t:
                    raise InvalidArgumentError(f"text #{i} contains NUL bytes (binary data?)")
        hashes = [
            text_hash(t) if mats is None else text_hash(t + hashlib.sha256(mats[i]).hexdigest())
            for i, t in enumerate(body)
        ]
        doc_ids = [str(x) for x in ids] if ids is not None else [h[:24] for h in hashes]
        if len(set(doc_ids)) != n:
            raise InvalidArgumentError("ids must be unique within one call")
        metas = [dict(m) for m in metadatas] if metadatas is not None else [{} for _ in range(n)]
        for i, m in enumerate(metas):
            try:
                json.dumps(m)
            except (TypeError, ValueError) as exc:
                raise InvalidArgumentError(
                    f"metadata #{i} is not JSON-serialisable: {exc}"
                ) from None
        with self.db.lock:
            existing = self._store.hashes(doc_ids)
        todo = [i for i in range(n) if existing.get(doc_ids[i]) != hashes[i]]
        if not upsert:
            clash = [doc_ids[i] for i in todo if doc_ids[i] in existing]
            if clash:
                raise InvalidArgumentError(
                    f"ids already stored with different content: {clash[:5]}; use upsert() to "
                    "replace them"
                )
        if not todo:
            return doc_ids
        chunks: list[list[Chunk]] = []
        if mats is not None:
            chunks = [[Chunk(body[i], 0, len(body[i]), 0)] for i in todo]
            vecs = [mats[i : i + 1] for i in todo]
        else:
            chunks = [self._chunks(body[i], "text", chunk) for i in todo]
            flat = [c.text for cs in chunks for c in cs]
            embedded = self.embedder.embed(flat, progress=progress)
            vecs, lo = [], 0
            for cs in chunks:
                vecs.append(embedded[lo : lo + len(cs)])
                lo += len(cs)
        src = sources or [None] * n
        with self.db.lock, sq.write_txn(self.db.conn, self.db.file):
            self._store.delete_documents([doc_ids[i] for i in todo if doc_ids[i] in existing])
            for j, i in enumerate(todo):
                self._store.insert_document(
                    doc_ids[i], source=src[i], text=body[i], content_hash=hashes[i],
                    metadata=metas[i], chunks=chunks[j], vectors=vecs[j],
                )
        return doc_ids

    def _chunks(self, text: str, kind: str, chunk: bool) -> list[Chunk]:
        if not chunk:
            return [Chunk(text, 0, len(text), 0)]
        return chunk_text(
            text, kind=kind, count_tokens=self.embedder.count_tokens, params=self.config.chunking
        )

    def add_files(
        self,
        paths: Sequence[str | Path],
        *,
        metadata: Mapping[str, Any] | None = None,
        progress: IngestProgress | None = None,
    ) -> IngestReport:
        """Index files and folders: unchanged files are skipped, changed ones replaced."""
        from akindb.ingest import ingest_paths

        return ingest_paths(self, paths, metadata=metadata or {}, progress=progress)

    def delete(self, ids: Sequence[str] | None = None, *, where: Where = None) -> int:
        """Delete documents by id and/or filter; returns how many were deleted."""
        if isinstance(ids, str):
            ids = [ids]
        w = parse_where(where)
        if ids is None and w is None:
            raise InvalidArgumentError(
                "delete needs ids or a where filter (refusing to delete everything)"
            )
        with self.db.lock, sq.write_txn(self.db.conn, self.db.file):
            targets = list(ids) if ids is not None else []
            if w is not None:
                matched = self._store.doc_ids_where(w)
                targets = [t for t in targets if t in set(matched)] if ids is not None else matched
            n = self._store.delete_documents(targets)
        if n:
            from akindb.index_ops import maybe_vacuum

            maybe_vacuum(self.db)
        return n

    # ---- reads ---------------------------------------------------------------------------------
    def get(
        self,
        ids: Sequence[str] | str | None = None,
        *,
        where: Where = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Record]:
        """Stored documents with their text, source, metadata and chunks (with offsets)."""
        if isinstance(ids, str):
            ids = [ids]
        with self.db.lock, sq.translated(self.db.file):
            return self._store.records(ids, parse_where(where), limit, offset)

    def count(self) -> int:
        """Number of documents."""
        with self.db.lock, sq.translated(self.db.file):
            return self._store.count()

    def count_chunks(self) -> int:
        with self.db.lock, sq.translated(self.db.file):
            return self._store.count_chunks()

    def tokenize(self, text: str) -> TokenView:
        """How the collection's model tokenizes ``text`` (tokens, ids, offsets, truncation)."""
        return self.embedder.tokenize(text)

    def search(
        self,
        query: str,
        k: int = 10,
        *,
        mode: SearchMode = "hybrid",
        min_score: float | None = None,
        max_distance: float | None = None,
        where: Where = None,
        exact: bool = False,
        explain: bool = False,
        rerank: Reranker | None = None,
        fusion: FusionParams | None = None,
    ) -> list[Hit]:
        """The ``k`` chunks that best match ``query``, best first (higher score = better).

        ``mode``: ``"hybrid"`` (default: vectors and BM25 fused; best on the NFCorpus dev split,
        see docs/benchmarks.md), ``"vector"`` (by meaning; scores are the metric's, e.g.
        cosine) or ``"keyword"`` (BM25 over SQLite FTS5 with stemming). What ``score``,
        ``distance``, ``min_score`` and ``max_distance`` mean per mode is tabled in
        ``akindb.retrieval.search``; fused scores are not cosines. ``explain=True`` adds token
        importance by occlusion to ``Hit.explain()`` (one extra batch in the same model call).
        ``rerank`` re-orders the top candidates (``akindb.retrieval.rerank``: MMR,
        cross-encoder); ``fusion`` overrides the hybrid fusion defaults.
        """
        from akindb.retrieval.search import search

        return search(
            self, query, k, mode=mode, min_score=min_score, max_distance=max_distance,
            where=where, exact=exact, explain=explain, rerank=rerank, fusion=fusion,
        )

    def context(
        self,
        query: str,
        max_tokens: int = 1500,
        *,
        k: int = 20,
        mode: SearchMode = "hybrid",
        where: Where = None,
        dedup_threshold: float = 0.95,
        merge_adjacent: bool = True,
        count_tokens: Callable[[str], int] | None = None,
    ) -> RagContext:
        """RAG context for ``query``: the best passages of the top ``k`` hits, near-duplicates
        (cosine > ``dedup_threshold``) removed, adjacent chunks of one source merged, cut to
        ``max_tokens`` of ``count_tokens`` (default: this collection's model tokenizer), each
        with its citation. See ``akindb.retrieval.context``."""
        from akindb.retrieval.context import build_context

        return build_context(
            self, query, max_tokens, k=k, mode=mode, where=where,
            dedup_threshold=dedup_threshold, merge_adjacent=merge_adjacent,
            count_tokens=count_tokens,
        )

    def more_like(
        self,
        id: str | None = None,
        k: int = 10,
        *,
        text: str | None = None,
        where: Where = None,
    ) -> list[Hit]:
        """Documents like a stored one (by ``id``: its stored vectors, no re-embedding; the
        document itself is left out) or like free ``text``; one hit per document. An unknown
        id raises ``DocumentNotFoundError``."""
        from akindb.retrieval.context import more_like

        return more_like(self, id, k, text=text, where=where)

    def search_vector(
        self,
        vector: Any,
        k: int = 10,
        *,
        min_score: float | None = None,
        max_distance: float | None = None,
        where: Where = None,
        exact: bool = False,
    ) -> list[Hit]:
        """Search with a precomputed query vector."""
        return self.search_vectors(
            vector, k, min_score=min_score, max_distance=max_distance, where=where, exact=exact
        )[0]

    @overload
    def search_vectors(
        self, vectors: Any, k: int = ..., *, min_score: float | None = ...,
        max_distance: float | None = ..., where: Where = ..., exact: bool = ...,
        include: None = ...,
    ) -> list[list[Hit]]: ...

    @overload
    def search_vectors(
        self, vectors: Any, k: int = ..., *, min_score: float | None = ...,
        max_distance: float | None = ..., where: Where = ..., exact: bool = ...,
        include: Sequence[Include],
    ) -> QueryResult: ...

    def search_vectors(
        self,
        vectors: Any,
        k: int = 10,
        *,
        min_score: float | None = None,
        max_distance: float | None = None,
        where: Where = None,
        exact: bool = False,
        include: Sequence[Include] | None = None,
    ) -> list[list[Hit]] | QueryResult:
        """Batch search: one list of hits per query row.

        ``exact=True`` bypasses an approximate index (exact search over the same vectors).
        ``include`` (Chroma's convention) returns a ``QueryResult`` dict of lists instead of
        ``Hit`` objects: ``ids`` always, plus any of ``scores``, ``distances``, ``documents``,
        ``metadatas``. ``include=[]`` (ids only) is the fastest way to search.
        """
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise InvalidArgumentError(f"k must be a positive integer, got {k!r}")
        if include is not None and (
            isinstance(include, str) or any(x not in INCLUDE for x in include)
        ):
            raise InvalidArgumentError(
                f"include must be a list drawn from {list(INCLUDE)}, got {include!r}"
            )
        q = as_matrix(vectors, self.dim, self.metric, what="query vectors")
        w = parse_where(where)
        with sq.translated(self.db.file):
            # The database lock is held for the SQL parts only: the index search runs under
            # the index's shared lock, in parallel with other searches and with writes.
            with self.db.lock:
                allowed = self._store.filter_chunk_ids(w) if w is not None else None
            if allowed is not None and len(allowed) == 0:
                labels, scores = self._live.empty_result(len(q), k)
            else:
                labels, scores = self._live.search(q, k, allowed, exact=exact)
            with self.db.lock:
                if include is not None:
                    return query_result(
                        self._store, self._doc_of, self.metric, labels, scores, include,
                        min_score, max_distance,
                    )
                rows = self._store.hit_rows(labels[labels >= 0].tolist())
        return hits_from_rows(labels, scores, rows, self.metric, min_score, max_distance)

    # ---- index maintenance (akindb.index_ops) ------------------------------------------------
    def tune(
        self,
        target_recall: float = 0.95,
        *,
        k: int = 10,
        n_queries: int = 200,
        seed: int = 0,
        queries: Any = None,
    ) -> dict[str, Any]:
        """Pick the cheapest search setting (HNSW ``ef_search``, LSH ``probes``) whose
        recall@k against exact search reaches ``target_recall``, on up to ``n_queries``
        stored vectors used as queries (each one's own match left out); saves it and reports
        recall and queries/s before and after. A flat index is exact: nothing to tune.

        ``queries`` (a matrix of real query vectors) replaces the stored-vector sample; prefer
        it when you have real queries: stored vectors are easier queries than new ones, so the
        sampled estimate is optimistic."""
        from akindb.index_ops import tune

        q = None if queries is None else as_matrix(queries, self.dim, self.metric, what="queries")
        return tune(self, target_recall, k=k, n_queries=n_queries, seed=seed, queries=q)

    def index_stats(self) -> dict[str, Any]:
        """Index kind, parameters, size, built-through log seq, tombstones, file size, the
        last tuning's measured recall and when, and for a ``quantized`` index ``memory``: bytes
        held in RAM (codes, labels) vs floats left memory-mapped in the index file."""
        from akindb.index_ops import index_stats

        return index_stats(self)

    def compact(self) -> dict[str, Any]:
        """Drop index tombstones (a rebuild for HNSW) and reclaim SQLite space (``VACUUM``)."""
        from akindb.index_ops import compact

        return compact(self)

    def info(self) -> dict[str, Any]:
        """Count, model, metric, dims, index and on-disk size."""
        cfg = self.config
        return {
            "name": cfg.name,
            "documents": self.count(),
            "chunks": self.count_chunks(),
            "metric": cfg.metric.value,
            "dim": cfg.dim,
            "model": cfg.model.name if cfg.model else None,
            "model_weights_sha256": cfg.model.weights_sha256 if cfg.model else None,
            "pooling": cfg.model.pooling if cfg.model else None,
            "index": cfg.index_kind,
            "index_params": cfg.index_params,
            "chunking": cfg.chunking.to_dict(),
            "uuid": cfg.uuid,
        }

    def flush(self) -> None:
        """Save the derived index file (SQLite writes are already durable)."""
        self._live.save()

    def vectors_of(self, doc_id: str) -> F32:
        """Stored vectors of one document's chunks (for more-like-this and tests)."""
        with self.db.lock:
            return self._store.chunk_vectors(doc_id)

    def __repr__(self) -> str:
        return f"Collection({self.name!r}, metric={self.metric.value}, dim={self.dim})"


