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
from akindb.db import Database, open
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
from akindb.ingest import IngestReport
from akindb.models.base import Embedder, ModelSpec, TokenView
from akindb.types import Chunk, Hit, Metric, Record

__version__ = "0.1.0"

__all__ = [
    "AkinError",
    "Chunk",
    "Collection",
    "CollectionExistsError",
    "CollectionNotFoundError",
    "Database",
    "DatabaseNotFoundError",
    "Embedder",
    "EmptyTextError",
    "Hit",
    "IngestReport",
    "InvalidArgumentError",
    "InvalidFilterError",
    "InvalidVectorError",
    "Metric",
    "ModelMismatchError",
    "ModelSpec",
    "Record",
    "StorageError",
    "TokenView",
    "__version__",
    "aconnect",
    "aopen",
    "connect",
    "open",
]
