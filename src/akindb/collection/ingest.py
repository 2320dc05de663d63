"""Index files and folders into a collection: load → chunk → embed → one transaction per batch.

Idempotent and resumable: a file whose bytes hash equals the stored one is skipped without
embedding, so re-running after Ctrl-C or a crash redoes only the unfinished batch. Files are
grouped until ~``BATCH_CHUNKS`` chunks are pending so the model sees full, length-sorted batches.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from akindb.collection.parts import CollectionParts
from akindb.collection.write import DocWrite, commit
from akindb.core import validate
from akindb.text.loaders import LoadedText, iter_files, load_file

log = logging.getLogger(__name__)
BATCH_CHUNKS = 64
IngestProgress = Callable[[int, int, int], None]
"""Called as ``(files_done, files_total, chunks_written)``; ``files_done`` counts files whose
outcome is settled (saved, unchanged or skipped), never one still waiting in a batch, so an
interrupted run has saved what the last call said."""


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
    removed: list[str] = field(default_factory=list)
    """Documents deleted because their file is gone from an indexed folder
    (``akindb.collection.prune``)."""
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    """``(file, same bytes as this earlier file)`` for every exact duplicate met."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "chunks": self.chunks,
            "skipped": dict(self.skipped),
            "seconds": round(self.seconds, 3),
            "removed": list(self.removed),
            "duplicates": [list(d) for d in self.duplicates],
        }


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
    parts: CollectionParts,
    paths: Sequence[str | Path],
    *,
    metadata: Mapping[str, Any],
    progress: IngestProgress | None = None,
    prune: bool = True,
    skip_duplicates: bool = False,
) -> IngestReport:
    """Index files and folders; each file's document id is its resolved path. With ``prune``
    documents of files gone from the given folders are removed (``akindb.collection.prune``);
    with ``skip_duplicates`` a file with the same bytes as an earlier one is not stored."""
    from akindb.collection.prune import folders_of

    files = [p.resolve() for p in iter_files(paths)]
    return ingest_named(parts, [(str(p), partial(load_file, p)) for p in files],
                        metadata=metadata, progress=progress,
                        prune_folders=folders_of(paths) if prune else (),
                        skip_duplicates=skip_duplicates)


def ingest_named(
    parts: CollectionParts,
    items: Sequence[tuple[str, Callable[[], LoadedText]]],
    *,
    metadata: Mapping[str, Any],
    progress: IngestProgress | None = None,
    prune_folders: Sequence[str] = (),
    skip_duplicates: bool = False,
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
    with parts.lock:
        known = parts.store.hashes([doc_id for doc_id, _ in items])
        stored_meta = parts.store.metadatas(list(known))
    pending: list[DocWrite] = []
    done = 0
    first_with: dict[str, str] = {}  # content hash -> the first file that had it
    present = {doc_id for doc_id, _ in items}

    def flush() -> None:
        nonlocal pending
        if not pending:
            return
        commit(parts, pending)
        for p in pending:
            report.chunks += len(p.chunks)
            if p.metadata_only:  # counted as unchanged: the text was not re-embedded
                continue
            if p.replace:
                report.updated += 1
            else:
                report.added += 1
        pending = []

    for doc_id, load in items:
        loaded = load()
        done += 1
        if loaded.text is not None and is_duplicate(report, first_with, doc_id, loaded,
                                                    skip_duplicates):
            present.discard(doc_id)
        elif loaded.text is None:  # not text (any more): a stored version is pruned
            report.skipped[loaded.skipped or "unreadable"] += 1
            present.discard(doc_id)
        elif known.get(doc_id) == loaded.content_hash:
            report.unchanged += 1
            meta = {**file_metadata(loaded.path, loaded), **metadata}
            if metadata and json.dumps(stored_meta.get(doc_id), sort_keys=True) != json.dumps(
                    meta, sort_keys=True):  # new metadata on unchanged bytes: stored in place
                pending.append(DocWrite(doc_id, loaded.text, loaded.content_hash, meta, doc_id,
                                        [], replace=False, metadata_only=True))
        else:
            chunks = parts.chunks(loaded.text, loaded.kind)
            if not chunks:
                report.skipped["empty"] += 1
            else:
                pending.append(DocWrite(
                    doc_id, loaded.text, loaded.content_hash,
                    {**file_metadata(loaded.path, loaded), **metadata}, doc_id, chunks,
                    replace=doc_id in known,
                ))
                if sum(len(p.chunks) for p in pending) >= BATCH_CHUNKS:
                    flush()
        if progress is not None:  # files settled: saved, unchanged or skipped, not pending
            progress(done - len(pending), len(items), report.chunks)
    flush()
    if prune_folders:
        from akindb.collection.prune import prune_missing

        report.removed = prune_missing(parts, prune_folders, present)
    if progress is not None:
        progress(done, len(items), report.chunks)
    parts.live.save()
    report.seconds = time.perf_counter() - t0
    return report


def is_duplicate(report: IngestReport, first_with: dict[str, str], doc_id: str,
                 loaded: LoadedText, skip: bool) -> bool:
    """Record ``doc_id`` in ``report.duplicates`` when an earlier file had the same bytes;
    True when it is to be skipped (``skip``; counted in ``skipped["duplicate"]``)."""
    first = first_with.setdefault(loaded.content_hash, doc_id)
    if first == doc_id:
        return False
    report.duplicates.append((doc_id, first))
    if skip:
        report.skipped["duplicate"] += 1
    return skip
