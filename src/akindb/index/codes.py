"""Quantisation codes and the float-row store behind the ``quantized`` index kind.

Kept apart from ``akindb.index.quantized`` so the index class reads as policy (what to score,
when to recalibrate, how to persist) and this module as mechanism: int8 and sign-bit codecs, a
popcount that works on every supported numpy, and where each slot's float32 vector lives (a
read-only memory map of the index file, plus a RAM tail of rows added since the last save).
"""

from __future__ import annotations

import os
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from akindb.index.base import F32, I64, IndexFileError

U8 = npt.NDArray[np.uint8]
U64 = npt.NDArray[np.uint64]

# gathered candidate floats held at once (32 MB)
_POP8 = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def int8_codes(x: F32, lo: F32, step: F32) -> U8:
    """Per-dimension scalar codes, clipped to 0..255.

    >>> lo, step = np.zeros(3, np.float32), np.full(3, 0.5, np.float32)
    >>> int8_codes(np.array([[-1.0, 1.0, 200.0]], np.float32), lo, step).tolist()
    [[0, 2, 255]]
    """
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = np.rint((x - lo) / step)
    out: U8 = np.clip(scaled, 0, 255).astype(np.uint8)
    return out


def binary_codes(x: F32, center: F32) -> U64:
    """Sign bits of ``x - center`` (np.packbits order), padded to whole 64-bit words per row.

    >>> binary_codes(np.array([[1.0, -1.0, 2.0]], np.float32), np.zeros(3, np.float32)).shape
    (1, 1)
    """
    packed = np.packbits(x > center, axis=1)
    words = (x.shape[1] + 63) // 64
    out = np.zeros((len(x), 8 * words), dtype=np.uint8)
    out[:, : packed.shape[1]] = packed
    return out.view(np.uint64)


def popcount(x: U64) -> U8:
    """Set bits of each 64-bit word (``np.bitwise_count`` on numpy >= 2, a byte table before).

    >>> popcount(np.array([0, 1, 2**64 - 1], dtype=np.uint64)).tolist()
    [0, 1, 64]
    """
    if hasattr(np, "bitwise_count"):
        out: U8 = np.bitwise_count(x)
        return out
    flat = np.ascontiguousarray(x).view(np.uint8).reshape(*x.shape, 8)
    table: U8 = _POP8[flat].sum(axis=-1, dtype=np.uint8)
    return table


class FloatRows:
    """The float32 vector of each slot: rows ``[0, len(mapped))`` memory-mapped from a file,
    later ones in a RAM tail. ``slots`` maps slot -> row once ``compact`` dropped slots (until
    the next save writes the rows in slot order again); ``None`` means slot i is row i.

    ``save`` replaces the whole object instead of changing it, so a search that took
    ``index._floats`` once keeps one consistent view while a save runs beside it.
    """

    def __init__(self, dim: int, mapped: F32 | None = None) -> None:
        self.dim = dim
        self.mapped: F32 = np.zeros((0, dim), dtype=np.float32) if mapped is None else mapped
        self.tail: F32 = np.zeros((0, dim), dtype=np.float32)
        self.tail_n = 0
        self.slots: I64 | None = None

    def append(self, x: F32) -> None:
        have = len(self.mapped) + self.tail_n
        if self.slots is not None:
            self.slots = np.concatenate([self.slots, have + np.arange(len(x), dtype=np.int64)])
        need = self.tail_n + len(x)
        if need > len(self.tail):
            grown = np.empty((max(need, int(len(self.tail) * 1.5) + 1024), self.dim), np.float32)
            grown[: self.tail_n] = self.tail[: self.tail_n]
            self.tail = grown
        self.tail[self.tail_n : need] = x
        self.tail_n = need

    def keep_slots(self, keep: I64) -> None:
        """Only the slots ``keep`` remain, renumbered from 0 (their rows stay where they are)."""
        self.slots = keep if self.slots is None else self.slots[keep]

    def of_slots(self, slots: I64) -> F32:
        """Vectors of ``slots`` in the given order; each row is read once, in file order."""
        rows = slots if self.slots is None else self.slots[slots]
        uniq, inv = np.unique(rows, return_inverse=True)
        m = len(self.mapped)
        cut = int(np.searchsorted(uniq, m))
        got = np.empty((len(uniq), self.dim), dtype=np.float32)
        if cut:
            got[:cut] = self.mapped[uniq[:cut]]
        if cut < len(uniq):
            got[cut:] = self.tail[uniq[cut:] - m]
        return got[inv.reshape(-1)]

    def span(self, lo: int, hi: int) -> F32:
        """Vectors of slots ``lo:hi`` (sequential reads when no slot was dropped)."""
        if self.slots is not None:
            return self.of_slots(np.arange(lo, hi, dtype=np.int64))
        m = len(self.mapped)
        if hi <= m:
            return np.asarray(self.mapped[lo:hi])
        if lo >= m:
            return self.tail[lo - m : hi - m]
        return np.concatenate([self.mapped[lo:], self.tail[: hi - m]])

    def ram_bytes(self) -> int:
        on_disk = isinstance(self.mapped, np.memmap)
        extra = self.slots.nbytes if self.slots is not None else 0
        return self.tail.nbytes + extra + (0 if on_disk else self.mapped.nbytes)

    def mapped_bytes(self) -> int:
        return self.mapped.nbytes if isinstance(self.mapped, np.memmap) else 0


def map_floats(fh: BinaryIO, offset: int, n: int, dim: int) -> F32:
    """Read-only float32 rows ``[n, dim]`` mapped at ``offset`` of an open file."""
    if n == 0:
        return np.zeros((0, dim), dtype=np.float32)
    mapped: F32 = np.memmap(fh, dtype="<f4", mode="r", offset=offset, shape=(n, dim))
    return mapped


def read_floats(fh: BinaryIO, n: int, dim: int) -> F32:
    """The body's float block: mapped from a real file, read into RAM from any other stream."""
    offset, want = fh.tell(), 4 * n * dim
    try:
        size: int | None = os.fstat(fh.fileno()).st_size
    except (OSError, AttributeError):
        size = None
    if size is None:
        raw = fh.read(want)
        if len(raw) != want or fh.read(1):
            raise IndexFileError("body length does not match the header (truncated or padded)")
        return np.frombuffer(raw, dtype="<f4").reshape(n, dim).astype(np.float32)
    if size != offset + want:
        raise IndexFileError("body length does not match the header (truncated or padded)")
    try:
        return map_floats(fh, offset, n, dim)
    except (OSError, ValueError) as exc:
        raise IndexFileError(f"cannot map the vectors: {exc}") from None
