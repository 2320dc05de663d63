"""Documents as they travel between replicas: text, chunks (with offsets) and their vectors.

A replica never re-embeds what another replica already embedded: the shard primary writes
through the embedded ``Collection`` (so validation, chunking and the pinned model are the
embedded engine's own), reads the stored rows back, and ships them to the other replicas,
which insert them as they are. The same rows move a collection between an embedded database
and a cluster (``Cluster.import_collection``, ``DistributedCollection.export``).

This is the one module of ``akindb.distributed`` that touches a collection's internals (its
row store and write transaction); everything else goes through the public methods.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from akindb.collection.write import DocWrite, commit
from akindb.index.base import F32
from akindb.types import Chunk

if TYPE_CHECKING:
    from akindb.collection import Collection


@dataclass(frozen=True)
class DocRow:
    """One stored document with everything needed to store it again without the model."""

    id: str
    text: str
    source: str | None
    metadata: dict[str, Any]
    content_hash: str
    chunks: tuple[Chunk, ...]
    vectors: F32


def read_rows(col: Collection, ids: Sequence[str]) -> list[DocRow]:
    """The stored rows of ``ids`` (ids not stored are left out), in the order given."""
    out: list[DocRow] = []
    for rec in col.get(list(ids)):
        vecs = col.vectors_of(rec.id)
        out.append(DocRow(rec.id, rec.text, rec.source, dict(rec.metadata), rec.content_hash,
                          tuple(rec.chunks), np.ascontiguousarray(vecs, dtype=np.float32)))
    return out


def iter_rows(col: Collection, batch: int = 256) -> Iterator[list[DocRow]]:
    """Every stored document, ``batch`` at a time (for export and snapshots)."""
    offset = 0
    while True:
        recs = col.get(limit=batch, offset=offset)
        if not recs:
            return
        offset += len(recs)
        yield [
            DocRow(r.id, r.text, r.source, dict(r.metadata), r.content_hash, tuple(r.chunks),
                   np.ascontiguousarray(col.vectors_of(r.id), dtype=np.float32))
            for r in recs
        ]


def content_hashes(col: Collection) -> dict[str, str]:
    """``doc id -> content hash`` of every document: what a snapshot sync compares."""
    parts = col.parts
    with parts.lock, parts.translated():
        return parts.store.content_hashes()


def _meta_digest(meta: Mapping[str, Any]) -> str:
    body = json.dumps(meta, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def fingerprints(col: Collection, ids: Sequence[str] | None = None) -> dict[str, str]:
    """``doc id -> content hash + metadata digest`` (of ``ids``, or of every document): what
    tells two replicas' copies of a document apart. The content hash alone misses a
    metadata-only change (``update(metadatas=...)``, an upsert of the same text)."""
    parts = col.parts
    with parts.lock, parts.translated():
        hashes = parts.store.content_hashes() if ids is None else parts.store.hashes(list(ids))
        metas = parts.store.metadatas(list(hashes))
    return {d: f"{h}:{_meta_digest(metas.get(d, {}))}" for d, h in hashes.items()}


def put_rows(col: Collection, rows: Sequence[DocRow]) -> int:
    """Store ``rows`` in one transaction, replacing documents whose content differs and
    rewriting in place those whose metadata alone differs (nothing re-indexed).

    Idempotent: a row whose id is stored with the same content and metadata is skipped, so
    replaying an operation (after a crash between commit and bookkeeping) changes nothing.
    Returns how many documents were written.
    """
    if not rows:
        return 0
    parts = col.parts
    with parts.lock:
        known = parts.store.hashes([r.id for r in rows])
        metas = parts.store.metadatas([r.id for r in rows if r.id in known])
    todo = [r for r in rows if known.get(r.id) != r.content_hash]
    meta_only = [r for r in rows if known.get(r.id) == r.content_hash
                 and _meta_digest(metas.get(r.id, {})) != _meta_digest(r.metadata)]
    if not todo and not meta_only:
        return 0
    for r in todo:
        if r.vectors.shape != (len(r.chunks), col.dim):
            from akindb.errors import InvalidVectorError

            raise InvalidVectorError(
                f"document {r.id!r}: {r.vectors.shape} vectors for {len(r.chunks)} chunks of "
                f"dimension {col.dim}; export the rows from a collection of the same model"
            )
    # The collection's one write pipeline, with the vectors the rows carry (nothing embedded).
    commit(parts, [
        DocWrite(r.id, r.text, r.content_hash, dict(r.metadata), r.source, list(r.chunks),
                 replace=r.id in known, vectors=r.vectors)
        for r in todo
    ] + [
        DocWrite(r.id, r.text, r.content_hash, dict(r.metadata), r.source, [], replace=False,
                 metadata_only=True)
        for r in meta_only
    ])
    return len(todo) + len(meta_only)


def delete_rows(col: Collection, ids: Sequence[str]) -> int:
    """Delete ``ids`` (idempotent: unknown ids are ignored); returns how many existed."""
    if not ids:
        return 0
    return col.delete(list(ids))
