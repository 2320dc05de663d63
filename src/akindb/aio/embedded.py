"""The embedded engine for asyncio: every call runs in a bounded thread pool, off the loop.

Why threads and not an async SQLite driver: the work is SQLite (already thread-safe here, one
connection behind the database lock), ONNX Runtime and faiss, which all release the GIL, so a
small pool keeps the loop free without a second storage stack.

Cancellation: a cancelled ``await`` cancels a call that has not started (it never runs) and
abandons one that has (it runs to completion in its thread). A write is one SQLite transaction,
so either way it lands whole or not at all; ``close()`` waits for calls still running before it
closes the database, so none is cut off half-way.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from akindb.db import Database
from akindb.types import Metric

if TYPE_CHECKING:
    from akindb.collection import Collection, Where
    from akindb.collection.ingest import IngestProgress, IngestReport
    from akindb.collection.reports import CollectionInfo, CompactReport, IndexStats, TuneReport
    from akindb.collection.results import Include, QueryResult
    from akindb.index.base import F32
    from akindb.models.base import Embedder, ProgressFn, TokenView
    from akindb.retrieval.context import RagContext
    from akindb.retrieval.fusion import FusionParams
    from akindb.retrieval.request import GroupBy, SearchMode
    from akindb.retrieval.rerank import Reranker
    from akindb.text.chunking import ChunkingParams
    from akindb.types import Hit, Record

T = TypeVar("T")


def default_workers() -> int:
    """``min(4, CPUs)``: the database lock serialises SQL, so more threads add little."""
    return max(1, min(4, os.cpu_count() or 1))


class _Pool:
    """The bounded executor all of one database's calls share."""

    def __init__(self, max_workers: int | None) -> None:
        n = default_workers() if max_workers is None else max_workers
        if n < 1:
            from akindb.errors import InvalidArgumentError

            raise InvalidArgumentError(f"max_workers must be >= 1, got {n}")
        self.executor = ThreadPoolExecutor(max_workers=n, thread_name_prefix="akindb-aio")
        self.max_workers = n

    async def run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(fn, *args, **kwargs))


class AsyncDatabase:
    """``akindb.Database`` for asyncio; make one with ``await akindb.aopen(path)``."""

    def __init__(self, db: Database, pool: _Pool) -> None:
        self.db = db
        self._pool = pool
        self._cols: dict[str, AsyncCollection] = {}

    @classmethod
    async def open(
        cls, path: str | Path, *, create: bool = True, max_workers: int | None = None
    ) -> AsyncDatabase:
        pool = _Pool(max_workers)
        try:
            db = await pool.run(Database, path, create=create)
        except BaseException:
            pool.executor.shutdown(wait=False)
            raise
        return cls(db, pool)

    @property
    def path(self) -> Path:
        return self.db.path

    def _wrap(self, col: Collection) -> AsyncCollection:
        cached = self._cols.get(col.name)
        if cached is None or cached.sync is not col:
            cached = self._cols[col.name] = AsyncCollection(col, self._pool)
        return cached

    async def create_collection(
        self,
        name: str,
        *,
        model: str | Embedder | None = "default",
        metric: str | Metric = Metric.COSINE,
        dim: int | None = None,
        index: str = "flat",
        index_params: dict[str, Any] | None = None,
        chunking: ChunkingParams | None = None,
    ) -> AsyncCollection:
        col = await self._pool.run(
            self.db.create_collection, name, model=model, metric=metric, dim=dim, index=index,
            index_params=index_params, chunking=chunking,
        )
        return self._wrap(col)

    async def get_collection(
        self, name: str, *, model: str | Embedder | None = None
    ) -> AsyncCollection:
        return self._wrap(await self._pool.run(self.db.get_collection, name, model=model))

    async def get_or_create_collection(self, name: str, **kwargs: Any) -> AsyncCollection:
        return self._wrap(await self._pool.run(self.db.get_or_create_collection, name, **kwargs))

    async def list_collections(self) -> list[str]:
        return await self._pool.run(self.db.list_collections)

    async def drop_collection(self, name: str) -> None:
        await self._pool.run(self.db.drop_collection, name)
        self._cols.pop(name, None)

    async def flush(self) -> None:
        await self._pool.run(self.db.flush)

    async def close(self) -> None:
        """Wait for calls still running (abandoned ones included), then close the database."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, functools.partial(self._pool.executor.shutdown, True))
        self.db.close()

    async def __aenter__(self) -> AsyncDatabase:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"AsyncDatabase({str(self.db.path)!r}, max_workers={self._pool.max_workers})"


class AsyncCollection:
    """``akindb.Collection``'s methods as coroutines with the same parameters and results."""

    def __init__(self, col: Collection, pool: _Pool) -> None:
        self.sync = col
        self._pool = pool

    @property
    def name(self) -> str:
        return self.sync.name

    @property
    def metric(self) -> Metric:
        return self.sync.metric

    @property
    def dim(self) -> int:
        return self.sync.dim

    # ---- writes ------------------------------------------------------------------------------
    async def add(
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
        """As ``Collection.add``: one transaction, so a cancelled call is all or nothing."""
        return await self._pool.run(
            self.sync.add, texts, ids=ids, metadatas=metadatas, vectors=vectors,
            sources=sources, chunk=chunk, progress=progress,
        )

    async def upsert(
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
        return await self._pool.run(
            self.sync.upsert, texts, ids=ids, metadatas=metadatas, vectors=vectors,
            sources=sources, chunk=chunk, progress=progress,
        )

    async def add_files(
        self,
        paths: Sequence[str | Path],
        *,
        metadata: Mapping[str, Any] | None = None,
        progress: IngestProgress | None = None,
        prune: bool = True,
        skip_duplicates: bool = False,
    ) -> IngestReport:
        """As ``Collection.add_files`` (one transaction per batch of files: a cancelled call
        keeps the files finished before it was abandoned, each one whole)."""
        return await self._pool.run(
            self.sync.add_files, paths, metadata=metadata, progress=progress, prune=prune,
            skip_duplicates=skip_duplicates,
        )

    async def update(
        self,
        ids: Sequence[str],
        *,
        texts: Sequence[str] | None = None,
        metadatas: Sequence[Mapping[str, Any]] | None = None,
        chunk: bool = True,
        progress: ProgressFn | None = None,
    ) -> list[str]:
        """As ``Collection.update`` (one transaction: all or nothing)."""
        return await self._pool.run(
            self.sync.update, ids, texts=texts, metadatas=metadatas, chunk=chunk,
            progress=progress,
        )

    async def delete(self, ids: Sequence[str] | None = None, *, where: Where = None) -> int:
        return await self._pool.run(self.sync.delete, ids, where=where)

    async def flush(self) -> None:
        await self._pool.run(self.sync.flush)

    # ---- reads -------------------------------------------------------------------------------
    async def get(
        self,
        ids: Sequence[str] | str | None = None,
        *,
        where: Where = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Record]:
        return await self._pool.run(self.sync.get, ids, where=where, limit=limit, offset=offset)

    async def count(self) -> int:
        return await self._pool.run(self.sync.count)

    async def count_chunks(self) -> int:
        return await self._pool.run(self.sync.count_chunks)

    async def info(self) -> CollectionInfo:
        return await self._pool.run(self.sync.info)

    async def tokenize(self, text: str) -> TokenView:
        return await self._pool.run(self.sync.tokenize, text)

    async def search(
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
        return await self._pool.run(
            self.sync.search, query, k, mode=mode, min_score=min_score,
            max_distance=max_distance, where=where, exact=exact, explain=explain,
            rerank=rerank, fusion=fusion, group_by=group_by,
        )

    async def context(
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
        return await self._pool.run(
            self.sync.context, query, max_tokens, k=k, mode=mode, where=where,
            dedup_threshold=dedup_threshold, merge_adjacent=merge_adjacent,
            count_tokens=count_tokens,
        )

    async def more_like(
        self, id: str | None = None, k: int = 10, *, text: str | None = None, where: Where = None
    ) -> list[Hit]:
        return await self._pool.run(self.sync.more_like, id, k, text=text, where=where)

    async def search_vector(
        self,
        vector: Any,
        k: int = 10,
        *,
        min_score: float | None = None,
        max_distance: float | None = None,
        where: Where = None,
        exact: bool = False,
    ) -> list[Hit]:
        return await self._pool.run(
            self.sync.search_vector, vector, k, min_score=min_score,
            max_distance=max_distance, where=where, exact=exact,
        )

    async def search_vectors(
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
        return await self._pool.run(
            self.sync.search_vectors, vectors, k, min_score=min_score,
            max_distance=max_distance, where=where, exact=exact, include=include,
        )

    # ---- maintenance -------------------------------------------------------------------------
    async def tune(
        self,
        target_recall: float = 0.95,
        *,
        k: int = 10,
        n_queries: int = 1000,
        seed: int = 0,
        queries: Any = None,
    ) -> TuneReport:
        return await self._pool.run(
            self.sync.tune, target_recall, k=k, n_queries=n_queries, seed=seed, queries=queries
        )

    async def index_stats(self) -> IndexStats:
        return await self._pool.run(self.sync.index_stats)

    async def compact(self) -> CompactReport:
        return await self._pool.run(self.sync.compact)

    async def vectors_of(self, doc_id: str) -> F32:
        return await self._pool.run(self.sync.vectors_of, doc_id)

    def __repr__(self) -> str:
        return f"AsyncCollection({self.name!r}, metric={self.metric.value}, dim={self.dim})"
