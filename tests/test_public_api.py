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


def test_names_are_imported_on_first_use() -> None:
    """``akindb/__init__`` imports nothing until a name is used (PEP 562), so a cold
    ``akindb search`` pays only for what it runs (issue 14); every name still resolves, to the
    object of its home module, and submodules are reachable after a bare ``import akindb``."""
    import subprocess
    import sys

    code = (
        "import sys, akindb\n"
        "assert [m for m in sys.modules if m.startswith('akindb.')] == [], sorted(sys.modules)\n"
        "from akindb import Hit\n"
        "import akindb.types\n"
        "assert Hit is akindb.types.Hit and akindb.Hit is Hit\n"
        "assert akindb.open.__module__ == 'akindb.collection.database'\n"
        "assert akindb.errors.AkinError is akindb.AkinError\n"
        "try:\n    akindb.no_such_name\nexcept AttributeError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "has no attribute 'no_such_name'" in out.stdout
    assert set(akindb.__all__) <= set(dir(akindb))
