"""The public API is exactly what ``akindb.__all__`` says: adding or removing a name is a
decision, so it must change this test too."""

from __future__ import annotations

import akindb

EXPECTED = {
    "AkinError",
    "Chunk",
    "ChunkingParams",
    "Collection",
    "CollectionAPI",
    "CollectionInfo",
    "CollectionExistsError",
    "CollectionNotFoundError",
    "CompactReport",
    "Database",
    "DatabaseNotFoundError",
    "Embedder",
    "Explanation",  # what Hit.explain() returns
    "FusionExplanation",  # Explanation.fusion
    "FusionParams",
    "IndexKind",
    "IndexStats",
    "EmptyTextError",
    "Hit",
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
}


def test_all_is_pinned() -> None:
    assert set(akindb.__all__) == EXPECTED
    for name in akindb.__all__:
        assert hasattr(akindb, name), name


def test_collection_methods() -> None:
    for method in (
        "add",
        "upsert",
        "add_files",
        "delete",
        "get",
        "count",
        "search",
        "search_vector",
        "search_vectors",
        "tokenize",
        "info",
        "flush",
    ):
        assert callable(getattr(akindb.Collection, method)), method
