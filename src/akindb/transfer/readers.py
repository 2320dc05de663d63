"""Read an export file (JSONL or Parquet) back as validated document rows, a batch at a time.

A reader is restartable: ``batches()`` streams the file from the start each time it is called
(the importer reads twice: once to validate and embed, once to write). Every error names the
row (1-based, counting documents, not the header) and says what to do.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from akindb.errors import MissingExtraError
from akindb.transfer.format import (
    META_KEY,
    DocRow,
    ExportHeader,
    TransferFormatError,
    loads,
    validate_row,
    vectors_from_json,
)

Batch = list[tuple[int, DocRow | TransferFormatError]]
"""(row number, the row or why it is bad): a bad row is returned, not raised, so that
``--partial`` can skip it; the importer raises it otherwise."""


class Reader:
    header: ExportHeader
    path: Path

    def batches(self, size: int) -> Iterator[Batch]:
        raise NotImplementedError


class JsonlReader(Reader):
    def __init__(self, path: Path) -> None:
        self.path = path
        with path.open("rb") as fh:
            first = fh.readline()
        if not first.strip():
            raise TransferFormatError(f"{path} is empty; is this an akindb export?")
        self.header = ExportHeader.from_json(first, str(path))

    def batches(self, size: int) -> Iterator[Batch]:
        dim = self.header.dim
        batch: Batch = []
        row, ended = 0, False
        with self.path.open("rb") as fh:
            fh.readline()
            for line in fh:
                if ended:
                    raise TransferFormatError(
                        f"{self.path}: data after the end marker (row {row}); the file was "
                        "concatenated or edited: re-export it"
                    )
                if not line.strip():
                    continue
                try:
                    raw = loads(line)
                except ValueError:
                    what = "is cut short" if not line.endswith(b"\n") else "is not valid JSON"
                    batch.append((row + 1, TransferFormatError(
                        f"row {row + 1} of {self.path} {what}; re-export the file, or import "
                        "with --partial to keep the rows before it"
                    )))
                    row += 1
                    continue
                if isinstance(raw, dict) and set(raw) == {"end"}:
                    if raw["end"] != row:
                        raise TransferFormatError(
                            f"{self.path}: the end marker says {raw['end']} rows but {row} "
                            "were read; re-export the file"
                        )
                    ended = True
                    continue
                row += 1
                batch.append((row, self._row(raw, row, dim)))
                if len(batch) >= size:
                    yield batch
                    batch = []
        if not ended:
            batch.append((row + 1, TransferFormatError(
                f"{self.path} ends after row {row} without its end marker: the file was cut "
                "short; re-export it, or import with --partial to keep the rows read"
            )))
        if batch:
            yield batch

    @staticmethod
    def _row(raw: Any, row: int, dim: int) -> DocRow | TransferFormatError:
        try:
            vecs = vectors_from_json(raw.get("vectors"), row) if isinstance(raw, dict) else None
            return validate_row(raw, row, dim, vecs)
        except TransferFormatError as exc:
            return exc


class ParquetReader(Reader):
    def __init__(self, path: Path) -> None:
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise MissingExtraError("transfer", "Parquet import") from None
        self.path = path
        try:
            self._file = pq.ParquetFile(path)
        except (pa.ArrowException, OSError) as exc:
            raise TransferFormatError(
                f"{path} cannot be read as Parquet ({exc}); the file is cut short or not "
                "Parquet: re-export it"
            ) from None
        meta = self._file.schema_arrow.metadata or {}
        if META_KEY not in meta:
            raise TransferFormatError(
                f"{path} is Parquet but not an akindb export (no 'akindb' schema metadata); "
                "make one with `akindb export`"
            )
        self.header = ExportHeader.from_json(meta[META_KEY], str(path))
        missing = {"id", "text", "chunks"} - set(self._file.schema_arrow.names)
        if missing:
            raise TransferFormatError(f"{path} lacks the columns {sorted(missing)}; re-export it")

    def batches(self, size: int) -> Iterator[Batch]:
        import pyarrow as pa

        dim = self.header.dim
        row = 0
        for group in range(self._file.num_row_groups):
            # Row group by row group: ``iter_batches`` reads ahead and kept the whole file in
            # Arrow's memory pool (215 MB live for a 214 MB file); this holds one group.
            try:
                table = self._file.read_row_group(group)
            except (pa.ArrowException, OSError) as exc:
                yield [(row + 1, TransferFormatError(
                    f"rows from {row + 1} of {self.path} cannot be read ({exc}); the file is "
                    "damaged: re-export it, or import with --partial to keep the rows before"
                ))]
                return
            for rb in table.to_batches(max_chunksize=size):
                row = yield from self._rows(rb, row, dim)
        if self.header.rows is not None and row != self.header.rows:
            yield [(row + 1, TransferFormatError(
                f"{self.path} holds {row} rows but its header says {self.header.rows}; "
                "re-export it"
            ))]

    def _rows(self, rb: Any, row: int, dim: int) -> Generator[Batch, None, int]:
        """Yield one batch of validated rows; return the last row number."""
        cols = {name: rb.column(name) for name in rb.schema.names}
        vec_rows = self._vectors(cols.get("vectors"), rb.num_rows, dim)
        plain = {n: c.to_pylist() for n, c in cols.items() if n != "vectors"}
        batch: Batch = []
        for i in range(rb.num_rows):
            row += 1
            raw = {n: v[i] for n, v in plain.items()}
            try:
                batch.append((row, validate_row(raw, row, dim, vec_rows[i])))
            except TransferFormatError as exc:
                batch.append((row, exc))
        yield batch
        return row

    @staticmethod
    def _vectors(col: Any, n: int, dim: int) -> list[Any]:
        """Per-row (n_chunks, dim) float32 views, without going through Python floats."""
        if col is None:
            return [None] * n
        col = col.combine_chunks() if hasattr(col, "combine_chunks") else col
        offsets = col.offsets.to_numpy()
        inner = col.values
        flat = inner.values.to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
        inner_dim = getattr(inner.type, "list_size", dim)
        mat = flat.reshape(-1, inner_dim) if len(flat) else np.zeros((0, inner_dim), np.float32)
        valid = col.is_valid().to_numpy(zero_copy_only=False)
        return [mat[offsets[i] : offsets[i + 1]] if valid[i] else None for i in range(n)]


def open_reader(path: str | Path) -> Reader:
    path = Path(path)
    if not path.is_file():
        raise TransferFormatError(f"no file at {path}; give an export made by `akindb export`")
    with path.open("rb") as fh:
        magic = fh.read(4)
    if magic == b"PAR1" or path.suffix.lower() in (".parquet", ".pq"):
        return ParquetReader(path)
    return JsonlReader(path)
