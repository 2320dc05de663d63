"""The ``VectorIndex`` protocol and the versioned on-disk envelope every index file shares.

An index is derived data: SQLite holds the truth. Each index file records the collection it
belongs to and the last operations-log sequence number it contains (``built_seq``), so on open
it can be caught up from the log or rebuilt, never trusted blindly. Format (little-endian)::

    magic   8 bytes  b"AKDBIDX\\x00"
    version u32      format version of the envelope (1)
    hlen    u32      length of the JSON header
    header  hlen     UTF-8 JSON: kind, format, collection_uuid, metric, dim, count,
                     built_seq, params
    pad     to a multiple of 64 bytes from the file start
    body             kind-specific bytes (see docs/format.md)
"""

from __future__ import annotations

import abc
import json
import struct
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

import numpy as np
import numpy.typing as npt

from akindb.atomic import atomic_writer
from akindb.types import F32 as F32  # re-exported: the aliases live on the floor
from akindb.types import I64 as I64
from akindb.types import Metric

MAGIC = b"AKDBIDX\x00"
ENVELOPE_VERSION = 1
_FIXED = struct.Struct("<8sII")


class IndexFileError(Exception):
    """An index file is unusable (truncated, foreign, newer format). Internal: callers rebuild."""


@dataclass(frozen=True, slots=True)
class IndexHeader:
    kind: str
    format: int
    collection_uuid: str
    metric: str
    dim: int
    count: int
    built_seq: int
    params: dict[str, Any] = field(default_factory=dict)


def write_envelope(fh: BinaryIO, header: IndexHeader) -> None:
    """Write magic, version and JSON header, padded to 64 bytes."""
    blob = json.dumps(asdict(header), sort_keys=True).encode("utf-8")
    fh.write(_FIXED.pack(MAGIC, ENVELOPE_VERSION, len(blob)))
    fh.write(blob)
    used = _FIXED.size + len(blob)
    fh.write(b"\x00" * ((-used) % 64))


def read_envelope(fh: BinaryIO) -> IndexHeader:
    """Read and check the envelope; leaves ``fh`` at the start of the body."""
    fixed = fh.read(_FIXED.size)
    if len(fixed) != _FIXED.size:
        raise IndexFileError("truncated header")
    magic, version, hlen = _FIXED.unpack(fixed)
    if magic != MAGIC:
        raise IndexFileError("not an akindb index file")
    if version > ENVELOPE_VERSION:
        raise IndexFileError(f"index envelope version {version} is newer than supported")
    if hlen > 1 << 20:
        raise IndexFileError("implausible header length")
    blob = fh.read(hlen)
    if len(blob) != hlen:
        raise IndexFileError("truncated header")
    try:
        raw = json.loads(blob.decode("utf-8"))
        header = IndexHeader(**raw)
    except (ValueError, TypeError) as exc:
        raise IndexFileError(f"unreadable header: {exc}") from None
    used = _FIXED.size + hlen
    fh.read((-used) % 64)
    return header


class VectorIndex(abc.ABC):
    """Nearest-neighbour search over labelled vectors (labels are chunk ids, int64).

    Implementations: ``FlatIndex`` (exact, the oracle). Scores are "higher is more similar"
    (see ``akindb.types``). For cosine the caller passes unit-normalised vectors.
    """

    kind: ClassVar[str]
    format_version: ClassVar[int] = 1

    def __init__(self, dim: int, metric: Metric) -> None:
        self.dim = dim
        self.metric = metric

    @abc.abstractmethod
    def add(self, labels: I64, vectors: F32) -> None:
        """Add vectors under new labels: non-negative (chunk row ids; -1 marks an empty result
        slot) and never repeated within an index."""

    @abc.abstractmethod
    def remove(self, labels: I64) -> None:
        """Forget these labels; unknown labels are ignored."""

    @abc.abstractmethod
    def search(self, queries: F32, k: int, allowed: I64 | None = None) -> tuple[I64, F32]:
        """Best ``k`` labels and scores per query, best first; rows padded with label -1.

        ``allowed`` restricts the answer to those labels (a metadata filter's outcome).
        """

    @abc.abstractmethod
    def __len__(self) -> int: ...

    @abc.abstractmethod
    def labels(self) -> I64:
        """All labels currently in the index."""

    @abc.abstractmethod
    def write_body(self, fh: BinaryIO) -> None:
        """Write the kind-specific body after the envelope."""

    @classmethod
    @abc.abstractmethod
    def read_body(cls, fh: BinaryIO, header: IndexHeader) -> VectorIndex:
        """Read a body written by ``write_body``; raise ``IndexFileError`` if unusable."""

    def params(self) -> dict[str, Any]:
        return {}

    def ready(self) -> None:
        """Build whatever a search would otherwise build lazily, so that searches change
        nothing and may share the index. Called after writes, under the writer's lock.
        Most kinds build nothing lazily."""
        return None

    def save(self, path: Path, *, collection_uuid: str, built_seq: int) -> None:
        """Write atomically (temp → fsync → rename → fsync dir)."""
        header = IndexHeader(
            kind=self.kind,
            format=self.format_version,
            collection_uuid=collection_uuid,
            metric=self.metric.value,
            dim=self.dim,
            count=len(self),
            built_seq=built_seq,
            params=self.params(),
        )
        with atomic_writer(path) as fh:
            write_envelope(fh, header)
            self.write_body(fh)

    @classmethod
    def load(cls, path: Path) -> tuple[VectorIndex, IndexHeader]:
        """Read an index file; ``IndexFileError`` (or OSError) when it cannot be used."""
        with open(path, "rb") as fh:
            header = read_envelope(fh)
            if header.kind != cls.kind:
                raise IndexFileError(f"index kind {header.kind!r}, expected {cls.kind!r}")
            if header.format > cls.format_version:
                raise IndexFileError(
                    f"{cls.kind} format {header.format} is newer than {cls.format_version}"
                )
            return cls.read_body(fh, header), header


def read_labels(raw: bytes, live: npt.NDArray[np.bool_] | None = None) -> I64:
    """Labels stored as little-endian int64, checked so damage is refused, not searched: a label
    is a chunk's row id (>= 1; -1 marks an empty result slot), and no two live slots (``live``;
    every slot when None) share one (a search could answer it twice, with two vectors).

    >>> read_labels(np.array([3, 9, 3], dtype="<i8").tobytes(), np.array([1, 1, 0], bool)).tolist()
    [3, 9, 3]
    """
    labels = np.frombuffer(raw, dtype="<i8").astype(np.int64)
    if len(labels) and int(labels.min()) < 0:
        raise IndexFileError("negative label in the index file (damaged)")
    ordered = np.sort(labels if live is None else labels[live])
    if (ordered[1:] == ordered[:-1]).any():
        raise IndexFileError("live labels repeat in the index file (damaged)")
    return labels


def pad_results(labels: list[I64], scores: list[F32], k: int) -> tuple[I64, F32]:
    """Stack ragged per-query results into (q, k) arrays padded with -1 / -inf."""
    q = len(labels)
    out_l = np.full((q, k), -1, dtype=np.int64)
    out_s = np.full((q, k), -np.inf, dtype=np.float32)
    for i, (lab, sc) in enumerate(zip(labels, scores, strict=True)):
        out_l[i, : len(lab)] = lab
        out_s[i, : len(sc)] = sc
    return out_l, out_s
