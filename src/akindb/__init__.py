"""akindb: semantic search made simple. Index a folder, search it by meaning.

>>> import akindb                                    # doctest: +SKIP
>>> db = akindb.open("./mydb")                       # doctest: +SKIP
>>> col = db.get_or_create_collection("docs")        # doctest: +SKIP
>>> col.add_files(["./docs"])                        # doctest: +SKIP
>>> col.search("configure the bot", k=5)             # doctest: +SKIP

Every public name is imported on first use (PEP 562 ``__getattr__`` below), not when the package
is imported: ``akindb search`` from a cold process imports only the modules its path needs
(issue 14), and ``import akindb`` stays light. ``from akindb import Hit`` and ``akindb.Hit`` work
as before; type checkers read the imports under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from akindb.aio import aconnect, aopen
    from akindb.client import connect
    from akindb.collection import Collection
    from akindb.collection.database import Database, open
    from akindb.collection.ingest import IngestReport
    from akindb.collection.reports import CollectionInfo, CompactReport, IndexStats, TuneReport
    from akindb.collection.results import QueryResult
    from akindb.errors import (
        AkinError,
        CollectionExistsError,
        CollectionNotFoundError,
        DatabaseNotFoundError,
        EmptyTextError,
        InvalidArgumentError,
        InvalidFilterError,
        InvalidVectorError,
        ModelMismatchError,
        StorageError,
    )
    from akindb.index.registry import IndexKind
    from akindb.models.base import Embedder, ModelSpec, TokenView
    from akindb.protocol import CollectionAPI
    from akindb.retrieval.context import RagContext
    from akindb.retrieval.fusion import FusionParams
    from akindb.retrieval.request import SearchOptions, SearchRequest
    from akindb.text.chunking import ChunkingParams
    from akindb.types import Chunk, Explanation, FusionExplanation, Hit, Metric, Record

__version__ = "0.1.0"

__all__ = [
    "AkinError",
    "Chunk",
    "ChunkingParams",
    "Collection",
    "CollectionAPI",
    "CollectionExistsError",
    "CollectionInfo",
    "CollectionNotFoundError",
    "CompactReport",
    "Database",
    "DatabaseNotFoundError",
    "Embedder",
    "EmptyTextError",
    "Explanation",
    "FusionExplanation",
    "FusionParams",
    "Hit",
    "IndexKind",
    "IndexStats",
    "IngestReport",
    "InvalidArgumentError",
    "InvalidFilterError",
    "InvalidVectorError",
    "Metric",
    "ModelMismatchError",
    "ModelSpec",
    "QueryResult",
    "RagContext",
    "Record",
    "SearchOptions",
    "SearchRequest",
    "StorageError",
    "TokenView",
    "TuneReport",
    "__version__",
    "aconnect",
    "aopen",
    "connect",
    "open",
]

_HOMES: dict[str, str] = {
    "AkinError": "akindb.errors",
    "Chunk": "akindb.types",
    "ChunkingParams": "akindb.text.chunking",
    "Collection": "akindb.collection",
    "CollectionAPI": "akindb.protocol",
    "CollectionExistsError": "akindb.errors",
    "CollectionInfo": "akindb.collection.reports",
    "CollectionNotFoundError": "akindb.errors",
    "CompactReport": "akindb.collection.reports",
    "Database": "akindb.collection.database",
    "DatabaseNotFoundError": "akindb.errors",
    "Embedder": "akindb.models.base",
    "EmptyTextError": "akindb.errors",
    "Explanation": "akindb.types",
    "FusionExplanation": "akindb.types",
    "FusionParams": "akindb.retrieval.fusion",
    "Hit": "akindb.types",
    "IndexKind": "akindb.index.registry",
    "IndexStats": "akindb.collection.reports",
    "IngestReport": "akindb.collection.ingest",
    "InvalidArgumentError": "akindb.errors",
    "InvalidFilterError": "akindb.errors",
    "InvalidVectorError": "akindb.errors",
    "Metric": "akindb.types",
    "ModelMismatchError": "akindb.errors",
    "ModelSpec": "akindb.models.base",
    "QueryResult": "akindb.collection.results",
    "RagContext": "akindb.retrieval.context",
    "Record": "akindb.types",
    "SearchOptions": "akindb.retrieval.request",
    "SearchRequest": "akindb.retrieval.request",
    "StorageError": "akindb.errors",
    "TokenView": "akindb.models.base",
    "TuneReport": "akindb.collection.reports",
    "aconnect": "akindb.aio",
    "aopen": "akindb.aio",
    "connect": "akindb.client",
    "open": "akindb.collection.database",
}
"""Each public name and the module that defines it (``__all__`` lists the same names)."""


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        # ``akindb.collection.X`` after a bare ``import akindb`` worked while this file
        # imported every submodule; a submodule is still imported on first attribute access.
        try:
            return importlib.import_module(f"akindb.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"akindb.{name}":
                raise
        raise AttributeError(f"module 'akindb' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # the next lookup is a plain module attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
