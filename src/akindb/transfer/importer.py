"""Import an export file (or a Chroma directory) into a collection.

Two passes over the file, so nothing is half-imported and memory stays bounded:

1. **check**: every row is validated (a bad or missing row stops here, naming it, before any
   write); rows whose content hash the collection already holds are skipped (import is
   idempotent); when the file's model pin differs from the collection's, the chunk texts are
   re-embedded now (progress) and the vectors spooled to a temporary file on disk.
2. **write**: the rows to write are read again and inserted in ONE SQLite transaction (all or
   nothing), with the file's vectors when the pin matches, or the spooled ones.

``partial=True`` trades atomicity for salvage: bad rows are skipped and reported, and each
batch is committed on its own.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from akindb.errors import CollectionNotFoundError, InvalidArgumentError
from akindb.storage import sqlite as sq
from akindb.transfer.format import DocRow, ExportHeader, TransferFormatError
from akindb.transfer.readers import Batch, Reader, open_reader

if TYPE_CHECKING:
    from akindb.collection import Collection
    from akindb.db import Database
    from akindb.models.base import Embedder

ImportProgress = Callable[[str, int, int], None]
"""Called as ``(phase, rows_done, rows_total_or_0)``; phases: "check", "embed", "write"."""

BATCH = 1000


@dataclass
class ImportReport:
    collection: str
    documents: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    reembedded: int = 0
    vectors_reused: bool = True
    bad_rows: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _target(
    db: Database, name: str, header: ExportHeader, model: str | Embedder | None
) -> Collection:
    """The collection to import into; created (with the file's settings) when missing."""
    try:
        return db.get_collection(name, model=model)
    except CollectionNotFoundError:
        pass
    spec = header.spec()
    kwargs: dict[str, Any] = {"metric": header.metric, "index": header.index_kind,
                              "index_params": header.index_params or None}
    if model is not None:
        return db.create_collection(name, model=model, **kwargs)
    if spec is None:
        return db.create_collection(name, model=None, dim=header.dim, **kwargs)
    from akindb.models.registry import load_embedder

    emb = load_embedder(spec.name)  # ModelNotFoundError names what to install
    return db.create_collection(name, model=emb, **kwargs)


def pin_matches(col: Collection, header: ExportHeader) -> bool:
    """Whether the file's vectors can be stored as they are."""
    pinned, theirs = col.config.model, header.spec()
    if header.dim != col.dim:
        return False
    if pinned is None:
        return True  # a vectors-only collection takes any vectors of its dimension
    return theirs is not None and pinned.same_model(theirs)


def _rows(batch: Batch, partial: bool, report: ImportReport) -> list[DocRow]:
    good = []
    for _, item in batch:
        if isinstance(item, TransferFormatError):
            if not partial:
                raise item
            if len(report.bad_rows) < 100:
                report.bad_rows.append(str(item))
            continue
        good.append(item)
    return good


def import_file(
    db: Database,
    source: str | Path | Reader,
    collection: str,
    *,
    model: str | Embedder | None = None,
    partial: bool = False,
    batch_size: int = BATCH,
    progress: ImportProgress | None = None,
) -> ImportReport:
    """Import ``source`` into ``collection`` (created when missing, pinned to the file's model
    or ``model``). See the module docstring for the guarantees."""
    if batch_size < 1:
        raise InvalidArgumentError(f"batch_size must be >= 1, got {batch_size}")
    t0 = time.perf_counter()
    reader = source if isinstance(source, Reader) else open_reader(source)
    col = _target(db, collection, reader.header, model)
    report = ImportReport(col.name, vectors_reused=pin_matches(col, reader.header))
    total = reader.header.rows or 0
    if partial:
        _single_pass(col, reader, batch_size, report, progress, total)
    else:
        with tempfile.TemporaryDirectory(prefix="akindb-import-") as tmp:
            spool = Path(tmp) / "vectors.f32"
            todo = _check(col, reader, batch_size, report, progress, total, spool)
            _write_all(col, reader, batch_size, report, progress, todo, spool)
    report.seconds = time.perf_counter() - t0
    return report


def _todo(col: Collection, rows: list[DocRow]) -> tuple[list[DocRow], dict[str, str]]:
    with col.parts.lock, sq.translated(col.parts.db_file):
        have = col.parts.store.hashes([r.id for r in rows])
    return [r for r in rows if have.get(r.id) != r.content_hash], have


def _embed(col: Collection, rows: list[DocRow]) -> list[np.ndarray[Any, Any]]:
    texts = [c.text for r in rows for c in r.chunks]
    if any(not t.strip() for t in texts):
        raise TransferFormatError(
            "the file's vectors cannot be used by this collection (another model or none) and "
            "some chunks have no text to re-embed; import into a vectors-only collection of "
            "the file's dimension instead"
        )
    vecs = col.embedder.embed(texts)
    out, lo = [], 0
    for r in rows:
        out.append(vecs[lo : lo + len(r.chunks)])
        lo += len(r.chunks)
    return out


def _vectors_of(col: Collection, r: DocRow) -> np.ndarray[Any, Any]:
    if r.vectors is None:
        raise TransferFormatError(
            f"document {r.id!r} has no vectors; re-export with vectors or import into a "
            "collection with a model (its text is then embedded)"
        )
    from akindb.core.vectors import as_matrix

    return as_matrix(r.vectors, col.dim, col.metric)


def _check(col: Collection, reader: Reader, size: int, report: ImportReport,
           progress: ImportProgress | None, total: int, spool: Path) -> set[int]:
    """Pass 1: validate everything, find what to write, re-embed into the spool if needed."""
    todo_rows: set[int] = set()
    first_row: dict[str, int] = {}
    done = 0
    with spool.open("wb") as fh:
        for batch in reader.batches(size):
            rows = _rows(batch, False, report)
            for n, r in batch:
                if isinstance(r, DocRow):
                    seen = first_row.setdefault(r.id, n)
                    if seen != n:
                        raise TransferFormatError(
                            f"row {n}: document id {r.id!r} repeats row {seen}; ids must be "
                            "unique in an import file (drop one of the two rows)"
                        )
            todo, _ = _todo(col, rows)
            nums = {r.id: n for n, r in batch if isinstance(r, DocRow)}
            todo_rows.update(nums[r.id] for r in todo)
            if todo and not report.vectors_reused:
                for v in _embed(col, todo):
                    fh.write(np.ascontiguousarray(v, dtype="<f4").tobytes())
                report.reembedded += len(todo)
            elif todo:
                for r in todo:
                    _vectors_of(col, r)  # validate now, before any write
            done += len(batch)
            if progress is not None:
                progress("embed" if not report.vectors_reused else "check", done, total)
    return todo_rows


def _write_all(col: Collection, reader: Reader, size: int, report: ImportReport,
               progress: ImportProgress | None, todo: set[int], spool: Path) -> None:
    """Pass 2: one transaction for every row to write."""
    spooled = None
    if not report.vectors_reused and todo:
        spooled = np.memmap(spool, dtype="<f4", mode="r").reshape(-1, col.dim)
    at = done = 0
    with col.parts.lock, sq.write_txn(col.parts.store.conn, col.parts.db_file):
        for batch in reader.batches(size):
            rows = [r for n, r in batch if n in todo and isinstance(r, DocRow)]
            report.documents += len(batch)
            if rows:
                have = col.parts.store.hashes([r.id for r in rows])
                vecs: list[Any] = []
                for r in rows:
                    if spooled is not None:
                        vecs.append(np.array(spooled[at : at + len(r.chunks)]))
                        at += len(r.chunks)
                    else:
                        vecs.append(_vectors_of(col, r))
                _insert(col, rows, vecs, have, report)
            done += len(batch)
            if progress is not None:
                progress("write", done, len(todo))
    report.unchanged = report.documents - report.added - report.updated


def _insert(col: Collection, rows: list[DocRow], vecs: list[Any], have: dict[str, str],
            report: ImportReport) -> None:
    col.parts.store.delete_documents([r.id for r in rows if r.id in have])
    for r, v in zip(rows, vecs, strict=True):
        col.parts.store.insert_document(
            r.id, source=r.source, text=r.text, content_hash=r.content_hash,
            metadata=r.metadata, chunks=r.chunks, vectors=v,
        )
        if r.id in have:
            report.updated += 1
        else:
            report.added += 1


def _single_pass(col: Collection, reader: Reader, size: int, report: ImportReport,
                 progress: ImportProgress | None, total: int) -> None:
    """``partial=True``: skip bad rows, commit batch by batch."""
    done = 0
    seen_ids: set[str] = set()
    for batch in _guarded(reader.batches(size), report):
        rows = []
        for r in _rows(batch, True, report):
            if r.id in seen_ids:
                report.bad_rows.append(f"document id {r.id!r} repeats an earlier row: skipped")
                continue
            seen_ids.add(r.id)
            rows.append(r)
        report.documents += len(rows)
        todo, have = _todo(col, rows)
        good: list[DocRow] = []
        vecs: list[Any] = []
        if todo and not report.vectors_reused:
            vecs = _embed(col, todo)
            good = todo
            report.reembedded += len(todo)
        else:
            for r in todo:
                try:
                    vecs.append(_vectors_of(col, r))
                    good.append(r)
                except InvalidArgumentError as exc:
                    report.bad_rows.append(str(exc))
        if good:
            with col.parts.lock, sq.write_txn(col.parts.store.conn, col.parts.db_file):
                _insert(col, good, vecs, have, report)
        done += len(batch)
        if progress is not None:
            progress("write", done, total)
    report.unchanged = report.documents - report.added - report.updated


def _guarded(it: Iterator[Batch], report: ImportReport) -> Iterator[Batch]:
    """Stop (keeping what was imported) at an error that ends the file early."""
    try:
        yield from it
    except TransferFormatError as exc:
        report.bad_rows.append(str(exc))
