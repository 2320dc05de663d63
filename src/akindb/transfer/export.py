"""Export a collection to JSONL or Parquet, streaming: one batch of documents in memory at a
time, read from a snapshot (its own read-only SQLite connection inside one read transaction),
so writers go on and the file is one consistent state of the collection."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from akindb.errors import InvalidArgumentError, MissingExtraError
from akindb.storage import scans
from akindb.storage import sqlite as sq
from akindb.storage.atomic import atomic_writer
from akindb.transfer.format import META_KEY, ExportHeader, dumps, json_floats

if TYPE_CHECKING:
    from akindb.collection import Collection

Format = Literal["jsonl", "parquet"]
ExportProgress = Callable[[int, int], None]
"""Called as ``(documents_done, documents_total)`` after each batch."""

BATCH = 1000
"""Documents per batch: memory holds one batch (rows, chunks and vectors) at a time."""


@dataclass
class ExportReport:
    path: str
    format: str
    documents: int = 0
    chunks: int = 0
    bytes: int = 0
    seconds: float = 0.0


def guess_format(path: Path, fmt: str | None) -> Format:
    name = (fmt or path.suffix.lstrip(".")).lower()
    if name in ("jsonl", "ndjson"):
        return "jsonl"
    if name in ("parquet", "pq"):
        return "parquet"
    raise InvalidArgumentError(
        f"cannot tell the export format of {path.name}: give --format jsonl or parquet "
        "(or a .jsonl / .parquet file name)"
    )


def header_of(col: Collection, rows: int) -> ExportHeader:
    cfg = col.config
    return ExportHeader(
        collection=cfg.name, metric=cfg.metric.value, dim=cfg.dim,
        model=json.loads(cfg.model.to_json()) if cfg.model else None,
        index_kind=cfg.index_kind, index_params=dict(cfg.index_params),
        chunking=cfg.chunking.to_dict(), rows=rows,
        exported_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def iter_batches(
    file: Path, collection_id: int, dim: int, batch: int = BATCH
) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """Yield ``(total, rows)``: document rows (vectors as an (n_chunks, dim) array), ``batch``
    at a time, all from one snapshot of the database."""
    with scans.export_snapshot(file) as conn:
        total = scans.count_documents(conn, collection_id)
        last = -1
        while True:
            docs = scans.documents_after(conn, collection_id, last, batch)
            if not docs:
                break
            last = docs[-1][0]
            lo, hi = docs[0][0], last
            by_doc: dict[int, list[tuple[Any, ...]]] = {}
            for row in scans.chunks_of_documents(conn, collection_id, lo, hi):
                by_doc.setdefault(row[0], []).append(row[1:])
            out = []
            for rid, doc_id, text, source, meta, h in docs:
                cs = by_doc.get(rid, [])
                vecs = np.frombuffer(b"".join(c[4] for c in cs), dtype="<f4").reshape(
                    len(cs), dim
                )
                out.append({
                    "id": doc_id, "text": text, "source": source, "metadata": meta,
                    "content_hash": h,
                    "chunks": [{"index": c[0], "start": c[1], "end": c[2], "text": c[3]}
                               for c in cs],
                    "vectors": vecs,
                })
            yield total, out


def export_collection(
    col: Collection,
    path: str | Path,
    *,
    format: str | None = None,
    batch_size: int = BATCH,
    progress: ExportProgress | None = None,
) -> ExportReport:
    """Write every document of ``col`` (text, chunks with offsets, metadata, vectors) and the
    model pin to ``path``, atomically (a temp file renamed at the end: an interrupted export
    leaves no half file). See docs/format.md for the schema."""
    path = Path(path)
    fmt = guess_format(path, format)
    if batch_size < 1:
        raise InvalidArgumentError(f"batch_size must be >= 1, got {batch_size}")
    t0 = time.perf_counter()
    rep = ExportReport(str(path), fmt)
    with sq.translated(col.parts.db_file):
        total = col.count()
        header = header_of(col, total)
        batches = iter_batches(col.parts.db_file, col.config.id, col.dim, batch_size)
        if fmt == "jsonl":
            _write_jsonl(path, header, batches, rep, progress)
        else:
            _write_parquet(path, header, batches, rep, progress)
    rep.bytes = path.stat().st_size
    rep.seconds = time.perf_counter() - t0
    return rep


def _count(rep: ExportReport, rows: list[dict[str, Any]], total: int,
           progress: ExportProgress | None) -> None:
    rep.documents += len(rows)
    rep.chunks += sum(len(r["chunks"]) for r in rows)
    if progress is not None:
        progress(rep.documents, total)


def _write_jsonl(path: Path, header: ExportHeader,
                 batches: Iterator[tuple[int, list[dict[str, Any]]]], rep: ExportReport,
                 progress: ExportProgress | None) -> None:
    rows_written = 0
    with atomic_writer(path) as fh:
        fh.write(header.to_json().encode("utf-8") + b"\n")
        for total, rows in batches:
            lines = [dumps({**r, "metadata": json.loads(r["metadata"]),
                            "vectors": json_floats(r["vectors"])}) for r in rows]
            fh.write(b"\n".join(lines) + b"\n")
            rows_written += len(rows)
            _count(rep, rows, total, progress)
        # The end marker: a file cut at a line boundary is still caught as truncated.
        fh.write(json.dumps({"end": rows_written}).encode("utf-8") + b"\n")


def parquet_schema(dim: int, header: ExportHeader) -> Any:
    try:
        import pyarrow as pa
    except ImportError:
        raise MissingExtraError("transfer", "Parquet export/import") from None
    chunk = pa.struct([("index", pa.int32()), ("start", pa.int64()), ("end", pa.int64()),
                       ("text", pa.string())])
    return pa.schema(
        [("id", pa.string()), ("text", pa.string()), ("source", pa.string()),
         ("metadata", pa.string()), ("content_hash", pa.string()),
         ("chunks", pa.list_(chunk)), ("vectors", pa.list_(pa.list_(pa.float32(), dim)))],
        metadata={META_KEY: header.to_json().encode("utf-8")},
    )


def _write_parquet(path: Path, header: ExportHeader,
                   batches: Iterator[tuple[int, list[dict[str, Any]]]], rep: ExportReport,
                   progress: ExportProgress | None) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = parquet_schema(header.dim, header)
    with atomic_writer(path) as fh:
        writer = pq.ParquetWriter(fh, schema, compression="zstd")
        try:
            for total, rows in batches:
                counts = np.array([len(r["chunks"]) for r in rows], dtype=np.int32)
                offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
                flat = (np.concatenate([r["vectors"] for r in rows]) if rows
                        else np.zeros((0, header.dim), np.float32))
                vec_rows = pa.FixedSizeListArray.from_arrays(
                    pa.array(flat.reshape(-1).astype(np.float32)), header.dim
                )
                table = pa.table({
                    "id": [r["id"] for r in rows], "text": [r["text"] for r in rows],
                    "source": [r["source"] for r in rows],
                    "metadata": [r["metadata"] for r in rows],
                    "content_hash": [r["content_hash"] for r in rows],
                    "chunks": pa.array([r["chunks"] for r in rows], type=schema.field(
                        "chunks").type),
                    "vectors": pa.ListArray.from_arrays(pa.array(offsets), vec_rows),
                }, schema=schema)
                writer.write_table(table)
                _count(rep, rows, total, progress)
        finally:
            writer.close()
