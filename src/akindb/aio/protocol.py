"""``AsyncCollectionAPI``: the async mirror of the collection protocol.

Both async collections satisfy it: ``AsyncCollection`` (embedded, thread offload) and
``AsyncRemoteCollection`` (HTTP). Each coroutine takes exactly the parameters of the
``akindb.Collection`` method of the same name (names, kinds and defaults; checked by
``tests/aio/test_protocol.py``), so code moves between sync and async by adding ``await``.
Maintenance calls that exist only embedded (``tune``, ``compact``, ``vectors_of``) are left
out: the embedded ``AsyncCollection`` has them too, with the same parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from akindb.protocol import PROTOCOL_METHODS as SYNC_PROTOCOL_METHODS
from akindb.types import Metric

if TYPE_CHECKING:
    from akindb.collection import Where
    from akindb.collection.ingest import IngestProgress, IngestReport
    from akindb.collection.reports import CollectionInfo, CompactReport, IndexStats, TuneReport
    from akindb.collection.results import Include, QueryResult
    from akindb.models.base import ProgressFn, TokenView
    from akindb.retrieval.context import RagContext
    from akindb.retrieval.fusion import FusionParams
    from akindb.retrieval.request import GroupBy, SearchMode
    from akindb.retrieval.rerank import Reranker
    from akindb.types import F32, Hit, Record


@runtime_checkable
class AsyncCollectionAPI(Protocol):
    """What every async collection offers (see the module docstring)."""

    name: str
    metric: Metric
    dim: int

    async def add(
        self, texts: Sequence[str] | None = None, *, ids: Sequence[str] | None = None,
        metadatas: Sequence[Mapping[str, Any]] | None = None, vectors: Any = None,
        sources: Sequence[str | None] | None = None, chunk: bool = True,
        progress: ProgressFn | None = None,
    ) -> list[str]: ...

    async def upsert(
        self, texts: Sequence[str] | None = None, *, ids: Sequence[str] | None = None,
        metadatas: Sequence[Mapping[str, Any]] | None = None, vectors: Any = None,
        sources: Sequence[str | None] | None = None, chunk: bool = True,
        progress: ProgressFn | None = None,
    ) -> list[str]: ...

    async def add_files(
        self, paths: Sequence[str | Path], *, metadata: Mapping[str, Any] | None = None,
        progress: IngestProgress | None = None, prune: bool = True,
        skip_duplicates: bool = False,
    ) -> IngestReport: ...

    async def update(
        self, ids: Sequence[str], *, texts: Sequence[str] | None = None,
        metadatas: Sequence[Mapping[str, Any]] | None = None, chunk: bool = True,
        progress: ProgressFn | None = None,
    ) -> list[str]: ...

    async def delete(self, ids: Sequence[str] | None = None, *, where: Where = None) -> int: ...

    async def flush(self) -> None: ...

    async def get(
        self, ids: Sequence[str] | str | None = None, *, where: Where = None,
        limit: int | None = None, offset: int = 0,
    ) -> list[Record]: ...

    async def count(self) -> int: ...

    async def count_chunks(self) -> int: ...

    async def info(self) -> CollectionInfo: ...

    async def index_stats(self) -> IndexStats: ...

    async def tune(
        self, target_recall: float = 0.95, *, k: int = 10, n_queries: int = 1000, seed: int = 0,
        queries: Any = None,
    ) -> TuneReport: ...

    async def compact(self) -> CompactReport: ...

    async def vectors_of(self, doc_id: str) -> F32: ...

    async def tokenize(self, text: str) -> TokenView: ...

    async def search(
        self, query: str, k: int = 10, *, mode: SearchMode = "hybrid",
        min_score: float | None = None, max_distance: float | None = None, where: Where = None,
        exact: bool = False, explain: bool = False, rerank: Reranker | str | None = None,
        fusion: FusionParams | Mapping[str, Any] | None = None,
        group_by: GroupBy | None = None,
    ) -> list[Hit]: ...

    async def context(
        self, query: str, max_tokens: int = 1500, *, k: int = 20, mode: SearchMode = "hybrid",
        where: Where = None, dedup_threshold: float = 0.95, merge_adjacent: bool = True,
        count_tokens: Callable[[str], int] | None = None,
    ) -> RagContext: ...

    async def more_like(
        self, id: str | None = None, k: int = 10, *, text: str | None = None,
        where: Where = None,
    ) -> list[Hit]: ...

    async def search_vector(
        self, vector: Any, k: int = 10, *, min_score: float | None = None,
        max_distance: float | None = None, where: Where = None, exact: bool = False,
    ) -> list[Hit]: ...

    async def search_vectors(
        self, vectors: Any, k: int = 10, *, min_score: float | None = None,
        max_distance: float | None = None, where: Where = None, exact: bool = False,
        include: Sequence[Include] | None = None,
    ) -> list[list[Hit]] | QueryResult: ...


PROTOCOL_METHODS: tuple[str, ...] = SYNC_PROTOCOL_METHODS
"""The coroutine names of ``AsyncCollectionAPI``: exactly the sync contract's methods."""
