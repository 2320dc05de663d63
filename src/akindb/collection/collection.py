"""Collection: add / upsert / delete / get / search over one set of documents.

The public facade of one collection. It validates arguments and hands the work to the
functions that own it, each taking the collection's ``CollectionParts`` (store, live index,
embedder, lock, config): ``write`` (the one write pipeline), ``ingest`` (files),
``vector_search``, ``akindb.retrieval`` (text search, RAG context, more-like-this) and
``maintenance`` (tune, stats, compaction). A write is one SQLite transaction: acknowledged
means durable. The index is derived and caught up from the log before each query.
``write``, ``maintenance`` and the report classes are imported on first use: a cold
``akindb search`` does not pay for them (issue 14).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from akindb.collection.config import CollectionConfig, Where
from akindb.collection.lean import search_one
from akindb.collection.parts import CollectionParts
from akindb.collection.results import Include, QueryResult
from akindb.collection.space import retry_on_full_disk
from akindb.collection.vector_search import search_vectors
from akindb.core import validate
from akindb.core.vectors import as_matrix
from akindb.errors import InvalidArgumentError
from akindb.index.base import F32
from akindb.models.base import Embedder, ProgressFn, TokenView
from akindb.storage.filters import parse_where
from akindb.types import Hit, Metric, Record

if TYPE_CHECKING:
    from akindb.collection.ingest import IngestProgress, IngestReport
    from akindb.collection.reports import CollectionInfo, CompactReport, IndexStats, TuneReport
    from akindb.retrieval.context import RagContext
    from akindb.retrieval.fusion import FusionParams
    from akindb.retrieval.request import GroupBy, SearchMode
    from akindb.retrieval.rerank import Reranker

log = logging.getLogger(__name__)


class Collection:
    """A named set of documents embedded by one pinned model, searchable by meaning."""

    def __init__(self, parts: CollectionParts) -> None:
        self._parts = parts
        from akindb.collection.monitor import attach

        attach(parts)  # the recall monitor's sampling hook (approximate indexes only)

    # ---- properties ----------------------------------------------------------------------------
    @property
    def parts(self) -> CollectionParts:
        """The internal interface (store, live index, embedder, lock, config) for akindb's own
        layers (server views, benchmarks); not part of the stable API."""
        return self._parts

    @property
    def config(self) -> CollectionConfig:
        return self._parts.config

    @property
    def name(self) -> str:
        return self._parts.name

    @property
    def metric(self) -> Metric:
        return self._parts.metric

    @property
    def dim(self) -> int:
        return self._parts.dim

    @property
    def embedder(self) -> Embedder:
        """The pinned model, loaded on first use and kept."""
        return self._parts.embedder

    def check_model(self, embedder: Embedder | None) -> None:
        """Refuse a model other than the pinned one, naming both."""
        self._parts.check_model(embedder)

    def use_model(self, embedder: Embedder) -> None:
        """Use this already-loaded model (checked against the pin) instead of loading it."""
        self._parts.check_model(embedder)
        self._parts.model = embedder

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
        the same content stores only the metadata given with it (nothing re-embedded); with
        different content it is an error (use ``upsert``).
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

    def update(
        self,
        ids: Sequence[str],
        *,
        texts: Sequence[str] | None = None,
        metadatas: Sequence[Mapping[str, Any]] | None = None,
        chunk: bool = True,
        progress: ProgressFn | None = None,
    ) -> list[str]:
        """Change stored documents by id (Chroma's ``update``, Qdrant's ``set_payload``).

        ``metadatas`` are merged into the stored metadata (``None`` removes a key) without
        re-embedding; ``texts`` are re-chunked and re-embedded (the metadata is kept unless
        given). An unknown id raises ``DocumentNotFoundError`` and nothing is written."""
        from akindb.collection.update import update

        return update(self._parts, ids, texts, metadatas, chunk, progress)

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
        from akindb.collection import write  # on first write: a search does not pay for it

        doc_ids, docs = write.prepare(
            self._parts, texts, ids, metadatas, vectors, sources, chunk, upsert=upsert
        )
        write.commit(self._parts, docs, progress)
        return doc_ids

    def add_files(
        self,
        paths: Sequence[str | Path],
        *,
        metadata: Mapping[str, Any] | None = None,
        progress: IngestProgress | None = None,
        prune: bool = True,
        skip_duplicates: bool = False,
    ) -> IngestReport:
        """Index files and folders: unchanged files are skipped, changed ones replaced, and
        (``prune``) documents of files gone from the given folders removed (``removed`` in the
        report). Exact duplicate files are reported; ``skip_duplicates`` stores only the first.
        """
        from akindb.collection.ingest import ingest_paths

        return ingest_paths(self._parts, paths, metadata=metadata or {}, progress=progress,
                            prune=prune, skip_duplicates=skip_duplicates)

    def delete(self, ids: Sequence[str] | None = None, *, where: Where = None) -> int:
        """Delete documents by id and/or filter; returns how many were deleted."""
        if ids is not None:
            ids = validate.doc_ids(ids)
        w = parse_where(where)
        if ids is None and w is None:
            raise InvalidArgumentError(
                "delete needs ids or a where filter (refusing to delete everything)"
            )
        parts = self._parts

        def delete_now() -> int:
            with parts.write_txn():
                targets = list(ids) if ids is not None else []
                if w is not None:
                    matched = parts.store.doc_ids_where(w)
                    targets = (
                        [t for t in targets if t in set(matched)] if ids is not None else matched
                    )
                return parts.store.delete_documents(targets)

        # Deleting is how space is freed: on a full disk, make room first (collection.space).
        n = retry_on_full_disk(parts, delete_now, "deleting")
        if n:
            from akindb.collection import maintenance

            maintenance.maybe_vacuum(parts)
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
        if ids is not None:
            ids = validate.doc_ids(ids)
        if limit is not None:
            validate.count(limit, "limit")
        validate.count(offset, "offset")
        with self._parts.lock, self._parts.translated():
            return self._parts.store.records(ids, parse_where(where), limit, offset)

    def count(self) -> int:
        """Number of documents."""
        with self._parts.lock, self._parts.translated():
            return self._parts.store.count()

    def count_chunks(self) -> int:
        """Number of chunks (what search ranks)."""
        with self._parts.lock, self._parts.translated():
            return self._parts.store.count_chunks()

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
        rerank: Reranker | str | None = None,
        fusion: FusionParams | Mapping[str, Any] | None = None,
        group_by: GroupBy | None = None,
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
        ``group_by="document"``: ``k`` documents, each its best chunk with the other matching
        chunks on ``Hit.others`` (``akindb.retrieval.grouping``).
        """
        from akindb.retrieval.request import SearchRequest
        from akindb.retrieval.search import search

        return search(self._parts, SearchRequest(
            query=query, k=k, mode=mode, min_score=min_score, max_distance=max_distance,
            where=where, exact=exact, explain=explain, rerank=rerank, fusion=fusion,
            group_by=group_by,
        ))

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
            self._parts, query, max_tokens, k=k, mode=mode, where=where,
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

        return more_like(self._parts, id, k, text=text, where=where)

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
        if where is None and (exact is False or exact is True):
            hits = search_one(self._parts, vector, k, min_score, max_distance, exact)
            if hits is not None:
                return hits
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
        return search_vectors(
            self._parts, vectors, k, min_score=min_score, max_distance=max_distance,
            where=where, exact=exact, include=include,
        )

    # ---- index maintenance (collection.maintenance) ------------------------------------------
    def tune(
        self,
        target_recall: float = 0.95,
        *,
        k: int = 10,
        n_queries: int = 1000,
        seed: int = 0,
        queries: Any = None,
    ) -> TuneReport:
        """Pick the cheapest search setting (HNSW ``ef_search``, LSH ``probes``) whose
        recall@k against exact search reaches ``target_recall`` with a margin (a 97.5 %
        prediction bound for a fresh sample of as many queries), on up to ``n_queries``
        stored vectors held out of a side graph of the others built for the measurement (as
        a new query is not in the graph: ``akindb.collection.tune_queries``); saves it and
        reports recall, its 95 % interval and queries/s before and after. A flat index is
        exact: nothing to tune.

        ``queries`` (a matrix of real query vectors) replaces the made-up sample; prefer it
        when you have real queries (no model of what a query looks like is needed).
        The side graph of a 100k collection takes about as long to build as its index
        (``akindb tune`` draws its progress: ``maintenance.tune(..., progress=)``)."""
        from akindb.collection import maintenance

        q = None if queries is None else as_matrix(queries, self.dim, self.metric, what="queries")
        return maintenance.tune(
            self._parts, target_recall, k=k, n_queries=n_queries, seed=seed, queries=q
        )

    def index_stats(self) -> IndexStats:
        """Index kind, parameters, size, built-through log seq, tombstones, file size, the
        last tuning's measured recall and when, and for a ``quantized`` index ``memory``: bytes
        held in RAM (codes, labels) vs floats left memory-mapped in the index file."""
        from akindb.collection import maintenance

        return maintenance.index_stats(self._parts)

    def compact(self) -> CompactReport:
        """Drop index tombstones (a rebuild for HNSW) and reclaim SQLite space (``VACUUM``)."""
        from akindb.collection import maintenance

        return maintenance.compact(self._parts)

    def info(self) -> CollectionInfo:
        """Count, model, metric, dims, index and on-disk size."""
        from akindb.collection.reports import CollectionInfo

        cfg = self.config
        return CollectionInfo(
            name=cfg.name, documents=self.count(), chunks=self.count_chunks(),
            metric=cfg.metric.value, dim=cfg.dim, model=cfg.model.name if cfg.model else None,
            model_weights_sha256=cfg.model.weights_sha256 if cfg.model else None,
            pooling=cfg.model.pooling if cfg.model else None, index=cfg.index_kind.value,
            index_params=cfg.index_params, chunking=cfg.chunking.to_dict(), uuid=cfg.uuid,
        )

    def flush(self) -> None:
        """Save the derived index file (SQLite writes are already durable)."""
        self._parts.live.save()

    def vectors_of(self, doc_id: str) -> F32:
        """Stored vectors of one document's chunks (for more-like-this and tests)."""
        with self._parts.lock, self._parts.translated():
            return self._parts.store.chunk_vectors(doc_id)

    def drop_index(self) -> None:
        """Delete the derived index file (``Database.drop_collection``)."""
        self._parts.live.drop()

    def __repr__(self) -> str:
        return f"Collection({self.name!r}, metric={self.metric.value}, dim={self.dim})"


