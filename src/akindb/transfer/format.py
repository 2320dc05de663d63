"""The export file's header (model pin and collection settings) and one row's validation.

One row is one document: ``id``, ``text``, ``source``, ``metadata``, ``content_hash``,
``chunks`` (index, start, end, text: char offsets into ``text``) and ``vectors`` (one float32
row per chunk, or null). The header travels as the first JSONL line or as the Parquet schema's
``akindb`` metadata key; the byte-level layout is in docs/format.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from akindb.errors import InvalidArgumentError
from akindb.index.base import F32
from akindb.models.base import ModelSpec
from akindb.types import Chunk

FORMAT_VERSION = 1
MAGIC = "akindb-export"
META_KEY = b"akindb"


class TransferFormatError(InvalidArgumentError):
    """An import file that is not an akindb export, is cut short, or has a bad row."""


@dataclass(frozen=True)
class ExportHeader:
    """What the file says about where its rows came from (the model pin above all)."""

    collection: str
    metric: str
    dim: int
    model: dict[str, Any] | None
    index_kind: str = "flat"
    index_params: dict[str, Any] = field(default_factory=dict)
    chunking: dict[str, Any] = field(default_factory=dict)
    rows: int | None = None
    exported_at: str = ""
    format: str = MAGIC
    version: int = FORMAT_VERSION

    def spec(self) -> ModelSpec | None:
        return ModelSpec(**self.model) if self.model else None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes, where: str) -> ExportHeader:
        try:
            d = json.loads(text)
        except ValueError:
            raise TransferFormatError(
                f"{where}: the header is not JSON; is this an akindb export?"
            ) from None
        if not isinstance(d, dict) or d.get("format") != MAGIC:
            raise TransferFormatError(
                f"{where} is not an akindb export (no '{MAGIC}' header); make one with "
                "`akindb export`, or import a Chroma directory with --from chroma"
            )
        if int(d.get("version", 0)) > FORMAT_VERSION:
            raise TransferFormatError(
                f"{where} is export format {d['version']}, newer than this akindb "
                f"({FORMAT_VERSION}); upgrade akindb"
            )
        try:
            return cls(**{k: d[k] for k in d if k in cls.__dataclass_fields__})
        except TypeError as exc:
            raise TransferFormatError(f"{where}: malformed header ({exc})") from None


@dataclass(frozen=True, slots=True)
class DocRow:
    """One validated document of an export file."""

    id: str
    text: str
    source: str | None
    metadata: dict[str, Any]
    content_hash: str
    chunks: tuple[Chunk, ...]
    vectors: F32 | None


def _bad(row: int, what: str) -> TransferFormatError:
    return TransferFormatError(
        f"row {row}: {what}; fix or drop that row, or import with --partial to skip bad rows"
    )


def validate_row(raw: Mapping[str, Any], row: int, dim: int, vectors: F32 | None) -> DocRow:
    """Check one decoded row against the schema; raise naming the row (1-based) if it is bad.

    >>> r = validate_row({"id": "a", "text": "hi", "chunks": [{"index": 0, "start": 0,
    ...     "end": 2, "text": "hi"}]}, 1, 2, np.ones((1, 2), np.float32))
    >>> (r.id, len(r.chunks), r.vectors.shape)
    ('a', 1, (1, 2))
    """
    if not isinstance(raw, Mapping):
        raise _bad(row, f"expected an object, got {type(raw).__name__}")
    doc_id, text = raw.get("id"), raw.get("text")
    if not isinstance(doc_id, str) or not doc_id:
        raise _bad(row, "'id' must be a non-empty string")
    if not isinstance(text, str):
        raise _bad(row, f"document {doc_id!r}: 'text' must be a string")
    source = raw.get("source")
    if source is not None and not isinstance(source, str):
        raise _bad(row, f"document {doc_id!r}: 'source' must be a string or null")
    meta = raw.get("metadata") or {}
    if isinstance(meta, str):
        try:
            meta = json.loads(meta)
        except ValueError:
            raise _bad(row, f"document {doc_id!r}: 'metadata' is not JSON") from None
    if not isinstance(meta, dict):
        raise _bad(row, f"document {doc_id!r}: 'metadata' must be an object")
    chunks_raw = raw.get("chunks")
    if not isinstance(chunks_raw, list) or not chunks_raw:
        raise _bad(row, f"document {doc_id!r}: 'chunks' must be a non-empty list")
    chunks = []
    for c in chunks_raw:
        try:
            ch = Chunk(str(c["text"]), int(c["start"]), int(c["end"]), int(c["index"]))
        except (KeyError, TypeError, ValueError):
            raise _bad(row, f"document {doc_id!r}: a chunk lacks index/start/end/text") from None
        if not 0 <= ch.start <= ch.end <= len(text):
            raise _bad(row, f"document {doc_id!r}: chunk {ch.index} offsets out of range")
        chunks.append(ch)
    if vectors is not None:
        if vectors.shape != (len(chunks), dim):
            raise _bad(
                row, f"document {doc_id!r}: {len(chunks)} chunks but vectors of shape "
                f"{vectors.shape} (dimension {dim} expected)"
            )
        if not np.isfinite(vectors).all():
            raise _bad(row, f"document {doc_id!r}: vectors contain NaN or infinity")
    h = raw.get("content_hash")
    if h is not None and not isinstance(h, str):
        raise _bad(row, f"document {doc_id!r}: 'content_hash' must be a string")
    if not h:
        from akindb.collection import text_hash

        h = text_hash(text)
    return DocRow(doc_id, text, source, meta, h, tuple(chunks), vectors)


def vectors_from_json(value: Any, row: int) -> F32 | None:
    """JSONL ``vectors``: null or a list of lists of numbers."""
    if value is None:
        return None
    try:
        arr = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError, OverflowError):
        raise _bad(row, "'vectors' must be a list of lists of numbers") from None
    if arr.ndim != 2:
        raise _bad(row, f"'vectors' must be 2-D (one row per chunk), got shape {arr.shape}")
    return arr


try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - orjson comes with the transfer and server extras
    _orjson = None  # type: ignore[assignment]


def loads(line: bytes) -> Any:
    """One JSONL line; orjson (~10x the standard library on float lists) when installed. What
    orjson refuses (NaN, huge integers) goes to the standard library, so validation, not the
    parser, says what is wrong with the value."""
    if _orjson is not None:
        try:
            return _orjson.loads(line)
        except _orjson.JSONDecodeError:
            pass
    return json.loads(line)


def dumps(obj: Any) -> bytes:
    """One JSONL line (no newline), UTF-8, non-ASCII kept as is."""
    if _orjson is not None:
        return _orjson.dumps(obj)
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def json_floats(vectors: F32) -> list[list[float]]:
    """Vectors as JSON numbers that read back to the same float32 bits.

    >>> json_floats(np.array([[0.1]], np.float32))[0][0] == float(np.float32(0.1))
    True
    """
    out: list[list[float]] = vectors.astype(np.float64).tolist()
    return out
