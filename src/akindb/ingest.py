"""``akindb.ingest`` is ``akindb.collection.ingest`` (kept so existing imports work)."""

from akindb.collection.ingest import (
    BATCH_CHUNKS,
    IngestProgress,
    IngestReport,
    file_metadata,
    ingest_named,
    ingest_paths,
)

__all__ = [
    "BATCH_CHUNKS", "IngestProgress", "IngestReport", "file_metadata", "ingest_named",
    "ingest_paths",
]
