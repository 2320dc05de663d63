"""akindb: semantic search made simple. Index a folder, search it by meaning.

>>> import akindb                                    # doctest: +SKIP
>>> db = akindb.open("./mydb")                       # doctest: +SKIP
>>> col = db.get_or_create_collection("docs")        # doctest: +SKIP
>>> col.add_files(["./docs"])                        # doctest: +SKIP
>>> col.search("configure the bot", k=5)             # doctest: +SKIP
"""

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
