"""The one write pipeline: validate → hash → chunk → embed → one transaction.

``Collection.add``/``upsert`` and file ingest (``akindb.collection.ingest``) both end in
``commit``: the documents that changed are embedded in one model call (length-sorted batches
inside the embedder) and written in one SQLite transaction, so a write is all or nothing and
acknowledged means durable. Unchanged content (same hash) is never re-embedded.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from akindb.collection.config import text_hash
from akindb.collection.parts import CollectionParts
from akindb.core import validate
from akindb.core.vectors import as_matrix
from akindb.errors import EmptyTextError, InvalidArgumentError
from akindb.index.base import F32
from akindb.models.base import ProgressFn
from akindb.types import Chunk


@dataclass
class DocWrite:
    """One document to store: its chunks, and its vectors when they were given."""

    doc_id: str
    text: str
    content_hash: str
    metadata: dict[str, Any]
    source: str | None
    chunks: list[Chunk]
    replace: bool
    vectors: F32 | None = None
    metadata_only: bool = False
    """Same content, new metadata: stored in place, nothing re-embedded or re-indexed."""


def commit(parts: CollectionParts, docs: Sequence[DocWrite], progress: ProgressFn | None = None
           ) -> None:
    """Embed what has no vectors yet (one model call), then write every document in one
    transaction, replacing those marked ``replace``."""
    if not docs:
        return
    todo = [d for d in docs if d.vectors is None and not d.metadata_only]
    if todo:
        embedded = parts.embedder.embed([c.text for d in todo for c in d.chunks],
                                        progress=progress)
        lo = 0
        for d in todo:
            d.vectors = np.ascontiguousarray(embedded[lo : lo + len(d.chunks)])
            lo += len(d.chunks)
    with parts.write_txn():
        parts.store.delete_documents([d.doc_id for d in docs if d.replace])
        for d in docs:
            if d.metadata_only:
                _rewrite_metadata(parts, d)
                continue
            assert d.vectors is not None
            parts.store.insert_document(
                d.doc_id, source=d.source, text=d.text, content_hash=d.content_hash,
                metadata=d.metadata, chunks=d.chunks, vectors=d.vectors,
            )


def _rewrite_metadata(parts: CollectionParts, d: DocWrite) -> None:
    """A metadata-only change: the document's rows are written again with its stored chunks
    and vectors (nothing re-embedded) and the new metadata. Rows are never updated in place:
    the new rows go through the operations log like any write, so every process's index and
    row cache see the change at their next query (inside the caller's transaction)."""
    stored = parts.store.records([d.doc_id], None, None, 0)
    if not stored:
        return
    rec = stored[0]
    vecs = parts.store.chunk_vectors(d.doc_id)
    parts.store.delete_documents([d.doc_id])
    parts.store.insert_document(
        d.doc_id, source=rec.source if d.source is None else d.source, text=rec.text,
        content_hash=rec.content_hash, metadata=d.metadata, chunks=list(rec.chunks),
        vectors=vecs,
    )


def prepare(
    parts: CollectionParts,
    texts: Sequence[str] | None,
    ids: Sequence[str] | None,
    metadatas: Sequence[Mapping[str, Any]] | None,
    vectors: Any,
    sources: Sequence[str | None] | None,
    chunk: bool,
    *,
    upsert: bool,
) -> tuple[list[str], list[DocWrite]]:
    """Validate an ``add``/``upsert`` call and return (all ids, the documents to write).

    Re-adding an id with the same content is a no-op, except that given metadata that differs
    from the stored one replaces it (without re-embedding); different content is an error
    unless ``upsert``.
    """
    if isinstance(texts, str):
        raise InvalidArgumentError("texts must be a list of strings, not one string")
    validate.sequences(texts=texts, ids=ids, metadatas=metadatas, sources=sources,
                       vectors=vectors)
    n = len(texts) if texts is not None else (len(vectors) if vectors is not None else 0)
    if texts is None and vectors is None:
        raise InvalidArgumentError("give texts, vectors, or both")
    if texts is not None and vectors is not None and len(vectors) != len(texts):
        raise InvalidArgumentError(f"{len(texts)} texts but {len(vectors)} vectors")
    for name, seq in (("ids", ids), ("metadatas", metadatas), ("sources", sources)):
        if seq is not None and len(seq) != n:
            raise InvalidArgumentError(f"{n} items but {len(seq)} {name}")
    if n == 0:
        return [], []
    mats = as_matrix(vectors, parts.dim, parts.metric) if vectors is not None else None
    body = list(texts) if texts is not None else [""] * n
    if texts is not None:
        for i, t in enumerate(body):
            if not isinstance(t, str):
                raise InvalidArgumentError(f"text #{i} is {type(t).__name__}, not str")
            validate.utf8(t, f"text #{i}")
            if mats is None and not t.strip():
                raise EmptyTextError(f"text #{i} is empty; give non-empty text")
            if "\x00" in t:
                raise InvalidArgumentError(f"text #{i} contains NUL bytes (binary data?)")
    hashes = [
        text_hash(t) if mats is None else text_hash(t + hashlib.sha256(mats[i]).hexdigest())
        for i, t in enumerate(body)
    ]
    doc_ids = validate.doc_ids(ids) if ids is not None else [h[:24] for h in hashes]
    if len(set(doc_ids)) != n:
        raise InvalidArgumentError("ids must be unique within one call")
    metas = (
        [validate.metadata(m, f"metadata #{i}") for i, m in enumerate(metadatas)]
        if metadatas is not None else [{} for _ in range(n)]
    )
    src = [validate.source(s, f"source #{i}") for i, s in enumerate(sources or [None] * n)]
    with parts.lock:
        existing = parts.store.hashes(doc_ids)
    todo = [i for i in range(n) if existing.get(doc_ids[i]) != hashes[i]]
    if not upsert:
        clash = [doc_ids[i] for i in todo if doc_ids[i] in existing]
        if clash:
            raise InvalidArgumentError(
                f"ids already stored with different content: {clash[:5]}; use upsert() to "
                "replace them"
            )
    docs = metadata_changes(parts, doc_ids, metas, body, hashes, src,
                            [i for i in range(n) if existing.get(doc_ids[i]) == hashes[i]]
                            ) if metadatas is not None else []
    docs += [
        DocWrite(
            doc_ids[i], body[i], hashes[i], metas[i], src[i],
            [Chunk(body[i], 0, len(body[i]), 0)] if mats is not None
            else parts.chunks(body[i], "text", chunk),
            replace=doc_ids[i] in existing,
            vectors=mats[i : i + 1] if mats is not None else None,
        )
        for i in todo
    ]
    return doc_ids, docs


def metadata_changes(
    parts: CollectionParts, doc_ids: Sequence[str], metas: Sequence[dict[str, Any]],
    body: Sequence[str], hashes: Sequence[str], src: Sequence[str | None], same: Sequence[int],
) -> list[DocWrite]:
    """Metadata-only writes for the items ``same`` (content unchanged) whose given metadata
    differs from the stored one: the content hash covers the text only, so without this a
    changed metadata would be silently dropped."""
    if not same:
        return []
    with parts.lock:
        stored = parts.store.metadatas([doc_ids[i] for i in same])

    def norm(m: Mapping[str, Any]) -> str:
        return json.dumps(dict(m), sort_keys=True)

    return [
        DocWrite(doc_ids[i], body[i], hashes[i], metas[i], src[i], [], replace=False,
                 metadata_only=True)
        for i in same
        if doc_ids[i] in stored and norm(stored[doc_ids[i]]) != norm(metas[i])
    ]
