"""Indexing uploaded file contents into any served collection (the ``add_files`` route).

An embedded collection indexes them with the embedded ingest code (``ingest_named`` over
``load_bytes``) and prunes with ``collection.prune``; a collection that is not embedded (a
cluster's, ``akindb serve --cluster``) takes them through its ``add_uploads`` method
(``UploadSink``), which does the same on each shard's primary. Either way the report is the
``IngestReport`` that ``Collection.add_files`` gives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any, Protocol, runtime_checkable

from akindb import errors
from akindb.collection import Collection
from akindb.collection.ingest import IngestReport, ingest_named
from akindb.protocol import CollectionAPI
from akindb.text.loaders import load_bytes

Prune = tuple[Sequence[str], Sequence[str]]
"""``(folders walked, files found in them)``: documents under the folders not found go."""


@runtime_checkable
class UploadSink(Protocol):
    """A collection that indexes ``(name, bytes)`` pairs itself (``DistributedCollection``)."""

    def add_uploads(self, files: Sequence[tuple[str, bytes]], *,
                    metadata: Mapping[str, Any] | None = None,
                    prune: Prune | None = None) -> IngestReport: ...


def ingest_uploads(col: CollectionAPI, files: Sequence[tuple[str, bytes]],
                   metadata: Mapping[str, Any], prune: Prune | None) -> IngestReport:
    """Index ``files`` (the name is the document id and picks the loader), then prune."""
    if isinstance(col, Collection):
        items = [(name, partial(load_bytes, name, raw)) for name, raw in files]
        report = ingest_named(col.parts, items, metadata=metadata)
        if prune is not None:
            from akindb.collection.prune import prune_missing

            report.removed = prune_missing(col.parts, prune[0], set(prune[1]))
        return report
    if isinstance(col, UploadSink):
        return col.add_uploads(files, metadata=metadata, prune=prune)
    raise errors.InvalidArgumentError(
        f"collection {col.name!r} cannot index uploaded files here; use add() with the texts"
    )
