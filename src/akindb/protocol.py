"""``CollectionAPI``: the one collection contract every implementation satisfies.

The embedded ``akindb.Collection``, the HTTP client's ``RemoteCollection`` and the distributed
collection (``akindb.distributed``) have these methods with these signatures and return the same
types; the async collections mirror them (``akindb.aio``). ``tests/test_protocol.py`` checks it
statically (mypy, by assignment) and at run time (signatures compared parameter by parameter),
so a method added to ``Collection`` and not to the others fails a test.

Code written against ``CollectionAPI`` runs unchanged on any of them:

>>> import tempfile, akindb
>>> def top_ids(col: CollectionAPI, vector: list[float]) -> list[str]:
...     return [h.id for h in col.search_vector(vector, k=1)]
>>> col = akindb.open(tempfile.mkdtemp()).create_collection("v", model=None, dim=2)
>>> col.add(ids=["x", "y"], vectors=[[1.0, 0.0], [0.0, 1.0]])
['x', 'y']
>>> isinstance(col, CollectionAPI), top_ids(col, [0.9, 0.1])
(True, ['x'])

The methods every implementation has:

>>> "update" in PROTOCOL_METHODS and "search" in PROTOCOL_METHODS
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, overload, runtime_checkable

from akindb.types import Hit, Metric, Record

if TYPE_CHECKING:
    from akindb.collection.config import Where
    from akindb.collection.ingest import IngestProgress, IngestReport
    from akindb.collection.reports import CollectionInfo, CompactReport, IndexStats, TuneReport
    from akindb.collection.results import Include, QueryResult
    from akindb.index.base import F32
    from akindb.models.base import ProgressFn, TokenView
    from akindb.retrieval.context import RagContext
    from akindb.retrieval.fusion import FusionParams
    from akindb.retrieval.request import GroupBy, SearchMode
    from akindb.retrieval.rerank import Reranker


@runtime_checkable
class CollectionAPI(Protocol):
    """A named set of documents, searchable by meaning (see ``akindb.Collection``)."""

    @property
    def name(self) -> str: ...

    @property
    def metric(self) -> Metric: ...

    @property
    def dim(self) -> int: ...

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
    ) -> list[str]: ...

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
    ) -> list[str]: ...

    def update(
        self,
        ids: Sequence[str],
        *,
        texts: Sequence[str] | None = None,
        metadatas: Sequence[Mapping[str, Any]] | None = None,
        chunk: bool = True,
        progress: ProgressFn | None = None,
    ) -> list[str]: ...

    def add_files(
        self,
        paths: Sequence[str | Path],
        *,
        metadata: Mapping[str, Any] | None = None,
        progress: IngestProgress | None = None,
        prune: bool = True,
        skip_duplicates: bool = False,
    ) -> IngestReport: ...

    def delete(self, ids: Sequence[str] | None = None, *, where: Where = None) -> int: ...

    def flush(self) -> None: ...

    # ---- reads ---------------------------------------------------------------------------------
    def get(
        self,
        ids: Sequence[str] | str | None = None,
        *,
        where: Where = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Record]: ...

    def count(self) -> int: ...

    def count_chunks(self) -> int: ...

    def info(self) -> CollectionInfo: ...

    def tokenize(self, text: str) -> TokenView: ...

    def vectors_of(self, doc_id: str) -> F32: ...

    # ---- search --------------------------------------------------------------------------------
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
    ) -> list[Hit]: ...

    def search_vector(
        self,
        vector: Any,
        k: int = 10,
        *,
        min_score: float | None = None,
        max_distance: float | None = None,
        where: Where = None,
        exact: bool = False,
    ) -> list[Hit]: ...

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
    ) -> list[list[Hit]] | QueryResult: ...

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
    ) -> RagContext: ...

    def more_like(
        self,
        id: str | None = None,
        k: int = 10,
        *,
        text: str | None = None,
        where: Where = None,
    ) -> list[Hit]: ...

    # ---- index maintenance ---------------------------------------------------------------------
    def tune(
        self,
        target_recall: float = 0.95,
        *,
        k: int = 10,
        n_queries: int = 1000,
        seed: int = 0,
        queries: Any = None,
    ) -> TuneReport: ...

    def index_stats(self) -> IndexStats: ...

    def compact(self) -> CompactReport: ...


PROTOCOL_METHODS: tuple[str, ...] = (
    "add", "upsert", "update", "add_files", "delete", "flush", "get", "count", "count_chunks",
    "info",
    "tokenize", "vectors_of", "search", "search_vector", "search_vectors", "context",
    "more_like", "tune", "index_stats", "compact",
)
PROTOCOL_PROPERTIES: tuple[str, ...] = ("name", "metric", "dim")
