"""Index files and folders into a collection: load → chunk → embed → one transaction per batch.

Idempotent and resumable: a file whose bytes hash equals the stored one is skipped without
embedding, so re-running after Ctrl-C or a crash redoes only the unfinished batch. Files are
grouped until ~``BATCH_CHUNKS`` chunks are pending so the model sees full, length-sorted batches.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from akindb import validate
from akindb.storage import sqlite as sq
from akindb.text.loaders import LoadedText, iter_files, load_file
from akindb.types import Chunk

if TYPE_CHECKING:
    from akindb.collection import Collection

log = logging.getLogger(__name__)
BATCH_CHUNKS = 64
IngestProgress = Callable[[int, int, int], None]
"""Called as ``(files_done, files_total, chunks_written)``."""


@dataclass
class IngestReport:
    """What an ``add_files`` run did."""

    files: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    chunks: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "chunks": self.chunks,
            "skipped": dict(self.skipped),
            "seconds": round(self.seconds, 3),
        }


@dataclass
class _Pending:
    doc_id: str
    loaded: LoadedText
    chunks: list[Chunk]
    replace: bool


def file_metadata(path: Path, loaded: LoadedText) -> dict[str, Any]:
    """Metadata every indexed file gets (user metadata is merged over it)."""
    name = path.name.lower()
    ext = ".rst" if name.endswith(".rst.txt") else path.suffix.lower()
    return {
        "source": str(path),
        "filename": path.name,
        "ext": ext,
        "kind": loaded.kind,
        "size": loaded.size,
    }


def ingest_paths(
    col: Collection,
    paths: Sequence[str | Path],
    *,
    metadata: Mapping[str, Any],
    progress: IngestProgress | None = None,
) -> IngestReport:
    """Index files and folders; each file's document id is its resolved path."""
    files = [p.resolve() for p in iter_files(paths)]
    return ingest_named(col, [(str(p), partial(load_file, p)) for p in files],
                        metadata=metadata, progress=progress)


def ingest_named(
    col: Collection,
    items: Sequence[tuple[str, Callable[[], LoadedText]]],
    *,
    metadata: Mapping[str, Any],
    progress: IngestProgress | None = None,
) -> IngestReport:
    """Index ``(document id, load)`` pairs: files on disk (``ingest_paths``) or files uploaded
    to the server (``load_bytes`` over their contents). ``load`` runs only when needed, one
    item at a time, so memory holds one batch of files."""
    t0 = time.perf_counter()
    report = IngestReport()
    report.files = len(items)
    items, bad_names = validate.utf8_named(items)
    if bad_names:  # issue 13: one such name aborted the whole run
        report.skipped["name_not_utf8"] += len(bad_names)
        log.warning("skipped %d file(s) whose name is not UTF-8: %s", len(bad_names),
                    ", ".join(bad_names[:5]))
    with col.db.lock:
        known = col._store.hashes([doc_id for doc_id, _ in items])
    pending: list[_Pending] = []
    done = 0

    def flush() -> None:
        nonlocal pending
        if not pending:
            return
        texts = [c.text for p in pending for c in p.chunks]
        vecs = col.embedder.embed(texts)
        with col.db.lock, sq.write_txn(col.db.conn, col.db.file):
            col._store.delete_documents([p.doc_id for p in pending if p.replace])
            lo = 0
            for p in pending:
                n = len(p.chunks)
                assert p.loaded.text is not None
                col._store.insert_document(
                    p.doc_id,
                    source=p.doc_id,
                    text=p.loaded.text,
                    content_hash=p.loaded.content_hash,
                    metadata={**file_metadata(p.loaded.path, p.loaded), **metadata},
                    chunks=p.chunks,
                    vectors=np.ascontiguousarray(vecs[lo : lo + n]),
                )
                lo += n
        for p in pending:
            report.chunks += len(p.chunks)
            if p.replace:
                report.updated += 1
            else:
                report.added += 1
        pending = []

    for doc_id, load in items:
        loaded = load()
        done += 1
        if loaded.text is None:
            report.skipped[loaded.skipped or "unreadable"] += 1
        elif known.get(doc_id) == loaded.content_hash:
            report.unchanged += 1
        else:
            chunks = col._chunks(loaded.text, loaded.kind, True)
            if not chunks:
                report.skipped["empty"] += 1
            else:
                pending.append(_Pending(doc_id, loaded, chunks, doc_id in known))
                if sum(len(p.chunks) for p in pending) >= BATCH_CHUNKS:
                    flush()
        if progress is not None:
            progress(done, len(items), report.chunks)
    flush()
    if progress is not None:
        progress(done, len(items), report.chunks)
    col.flush()
    report.seconds = time.perf_counter() - t0
    return report
