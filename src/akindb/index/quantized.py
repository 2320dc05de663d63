"""Quantised vectors, opt-in: int8 (scalar) or binary codes in RAM, the float32 vectors on disk.

A search scores every code against the query, keeps the best ``k * oversample`` candidates and
re-scores those exactly with the float vectors, so the final order and scores are exact; only
which vectors become candidates is approximate. The point is memory: RAM holds the codes, the
labels and a live flag per vector; the float vectors are memory-mapped read-only from the index
file, so the kernel pages in only the candidate rows a search re-scores and may drop them again
(they are clean file pages, not process heap). Many queries still touch most pages: 1,000
queries over 100k vectors paged in nearly all of them (40+ rows each, 2.7 vectors per page).

* ``int8``: per-dimension scalar quantisation, ``code = round((x - lo) / step)`` clipped to
  0..255 with ``step = (hi - lo) / 255``; ``lo``/``hi`` are the per-dimension min/max of the data
  at calibration. Candidates are scored with the dequantised vectors under the collection's
  metric (one float32 matmul per block of codes). ``dim`` bytes per vector, 1/4 of float32
  (l2 adds the 4-byte norm of each dequantised vector).
* ``binary``: one sign bit per dimension of ``x - mean`` (``np.packbits``, padded to 64-bit
  words: 48 bytes for 384-d, 1/32 of float32); candidates by Hamming distance (XOR + popcount),
  i.e. by direction around the mean, for every metric; the exact re-score then orders them by
  the metric (as for ``lsh``: good when norms vary little, like sentence embeddings).

Calibration (``lo``/``step`` or the mean) uses the vectors of the first ``add`` and is redone,
re-encoding every vector, whenever the index has more than doubled since (like ``lsh``'s
re-centring), so an index filled a few vectors at a time still gets a representative range.
Between calibrations, int8 values outside the range are clipped to it: a clipped vector ranks a
little wrong as a candidate, never in the exact final order.

Where the floats live: rows added since the last ``save`` (all of them for an index built in
memory and not yet saved) are held in RAM; ``save`` writes them to the file and maps the new
file, freeing that RAM. ``load`` maps the file without reading the vectors. Every save rewrites
the whole file (as for every kind), reading the old floats through the old mapping; a mapping
stays valid after the atomic rename replaces its file. If the file at the path is no longer the
one just written (another process saved in between), the index keeps its current float sources.
A save swaps the float source in one assignment, so searches running beside it (``LiveIndex``
saves under the shared lock) see the old source or the new one, never half of each.

Deletes are tombstones (kept in the file with their live flag); ``compact()`` drops them from the
codes at once and from the floats at the next save. Filters: a selective filter is answered
exactly over the allowed vectors (``akindb.index.approx``); otherwise only the allowed codes are
scored, so a filter never starves the candidate list.

Body format 1: docs/format.md ("``quantized`` body"), the one description of its bytes. Vectors
are not scanned on load (that would read the whole file): a damaged vector only mis-scores itself.

Measured on 100k real MiniLM vectors (``bench/quant.py``, docs/benchmarks.md): int8 holds 393
bytes per vector in RAM (float32 flat: 1,544) at recall@10 1.000 (oversample 4); binary holds 57
at recall@10 0.975 (oversample 16), 0.944 at 8, 0.996 at 64, and answers ~3x (batch) to ~20x
(one query per call) faster than flat. int8 scans no faster than flat (numpy has no int8 matmul).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

import numpy as np

from akindb.core.topk import top_k
from akindb.errors import InvalidArgumentError
from akindb.index.approx import ApproxIndex, DictParams, check_range, exact_search
from akindb.index.base import F32, I64, IndexFileError, IndexHeader, read_labels
from akindb.index.codes import (
    U8,
    U64,
    FloatRows,
    binary_codes,
    int8_codes,
    map_floats,
    popcount,
    read_floats,
)
from akindb.types import Metric

CODES = ("int8", "binary")
DEFAULT_OVERSAMPLE = {"int8": 4, "binary": 16}
_ROWS = 8192  # rows per block when converting codes or copying floats
_SCORE_CELLS = 16 * 1024 * 1024  # approximate scores held at once (64 MB)
_RESCORE_CELLS = 8 * 1024 * 1024

@dataclass(frozen=True, slots=True)
class QuantizedParams(DictParams):
    """Quantised-index knobs, each a trade-off.

    * ``codes`` (``"int8"`` default, or ``"binary"``): what RAM holds per vector. int8 keeps
      ``dim`` bytes (1/4 of float32) and ranks candidates almost exactly; binary keeps
      ``dim / 8`` bytes (1/32) and ranks them roughly, so it needs a larger oversample for the
      same recall. Fixed at build: changing it rebuilds.
    * ``oversample`` (1-1000; default 4 for int8, 16 for binary): candidates re-scored exactly
      per query, as a multiple of ``k``. The search-time knob: recall up, QPS down (each
      candidate is a float row read from the mapped file), no memory cost; changeable any time
      (``Collection.tune`` sets it).
    """

    kind_name: ClassVar[str] = "quantized"

    codes: str = "int8"
    oversample: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.codes, str) or self.codes not in CODES:
            raise InvalidArgumentError(f"codes must be 'int8' or 'binary', got {self.codes!r}")
        if self.oversample is None:  # frozen: the per-codes default is filled in once, here
            object.__setattr__(self, "oversample", DEFAULT_OVERSAMPLE[self.codes])
        check_range("oversample", self.oversample, 1, 1000)

    @property
    def factor(self) -> int:
        """``oversample`` as an int (always set after construction)."""
        assert self.oversample is not None
        return self.oversample


class QuantizedIndex(ApproxIndex):
    """Brute-force scan of int8 or binary codes in RAM, exact re-score from mapped floats."""

    kind = "quantized"
    knob = "oversample"
    params_cls = QuantizedParams
    build_params = ("codes",)

    def __init__(self, dim: int, metric: Metric, **params: Any) -> None:
        super().__init__(dim, metric)
        self.p = QuantizedParams.from_dict(params)
        self._binary = self.p.codes == "binary"
        self._words = (dim + 63) // 64
        self._labels: I64 = np.zeros(0, dtype=np.int64)
        self._alive = np.zeros(0, dtype=bool)
        self._n = 0
        self._live = 0
        self._codes: U8 = np.zeros((0, dim if not self._binary else 0), dtype=np.uint8)
        self._bits: U64 = np.zeros((self._words if self._binary else 0, 0), dtype=np.uint64)
        self._sq: F32 = np.zeros(0, dtype=np.float32)  # l2 + int8: |dequantised row|^2
        self._calib: F32 = np.zeros((2, dim), dtype=np.float32)  # lo, step | mean, 0
        self._calib[1] = 1.0 if not self._binary else 0.0
        self._n_at_calib = 0
        self._floats = FloatRows(dim)
        self._written: tuple[int, int, int, int] | None = None  # dev, inode, offset, rows

    # ---- knob ------------------------------------------------------------------------------
    def params(self) -> dict[str, Any]:
        return asdict(self.p)

    def knob_value(self) -> int:
        return self.p.factor

    def set_knob(self, value: int) -> None:
        self.p = QuantizedParams(codes=self.p.codes, oversample=value)

    def knob_sweep(self, k: int) -> list[int]:
        full = max(1, -(-self._live // max(k, 1)))  # from here on every vector is re-scored
        base = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 256, 512, 1000)
        return sorted({min(v, full, 1000) for v in base})

    # ---- memory ----------------------------------------------------------------------------
    def memory_report(self) -> dict[str, int]:
        """Bytes this index holds in RAM, by part, and the float bytes left in the mapped file."""
        floats = self._floats
        out = {
            "codes_bytes": self._codes.nbytes + self._bits.nbytes,
            "labels_bytes": self._labels.nbytes + self._alive.nbytes,
            "other_bytes": self._sq.nbytes + self._calib.nbytes,
            "floats_ram_bytes": floats.ram_bytes(),
            "floats_mapped_bytes": floats.mapped_bytes(),
        }
        out["resident_bytes"] = sum(v for k, v in out.items() if k != "floats_mapped_bytes")
        return out

    def memory_bytes(self) -> int:
        """RAM held by the index (codes, labels, live flags, norms, unsaved floats)."""
        return self.memory_report()["resident_bytes"]

    # ---- codes -----------------------------------------------------------------------------
    def _gather(self, slots: I64) -> F32:
        return self._floats.of_slots(slots)

    def _blocks(self) -> Iterator[tuple[int, int, F32]]:
        floats = self._floats
        for lo in range(0, self._n, _ROWS):
            hi = min(lo + _ROWS, self._n)
            yield lo, hi, floats.span(lo, hi)

    def _encode_into(self, lo: int, x: F32) -> None:
        hi = lo + len(x)
        if self._binary:
            self._bits[:, lo:hi] = binary_codes(x, self._calib[0]).T
            return
        codes = int8_codes(x, self._calib[0], self._calib[1])
        self._codes[lo:hi] = codes
        if self.metric is Metric.L2:
            deq = codes.astype(np.float32) * self._calib[1] + self._calib[0]
            self._sq[lo:hi] = np.einsum("ij,ij->i", deq, deq)

    def _calibrate(self) -> None:
        """Fit the range (int8) or the mean (binary) to the live vectors, re-encode every slot."""
        lo = np.full(self.dim, np.inf, dtype=np.float32)
        hi = np.full(self.dim, -np.inf, dtype=np.float32)
        total = np.zeros(self.dim, dtype=np.float64)
        for a, b, x in self._blocks():
            live = x[self._alive[a:b]]
            if len(live):
                lo, hi = np.minimum(lo, live.min(axis=0)), np.maximum(hi, live.max(axis=0))
                total += live.sum(axis=0, dtype=np.float64)
        if self._live:
            if self._binary:
                self._calib[0] = total / self._live
            else:
                self._calib[0] = lo
                self._calib[1] = np.where(hi > lo, (hi - lo) / 255, 1.0)
        for a, _, x in self._blocks():
            self._encode_into(a, x)
        self._n_at_calib = self._n

    # ---- writes ----------------------------------------------------------------------------
    def _grow(self, need: int) -> None:
        cap = self._grow_slots(need)
        if not cap:
            return
        if self._binary:
            bits = np.zeros((self._words, cap), dtype=np.uint64)
            bits[:, : self._n] = self._bits[:, : self._n]
            self._bits = bits
            return
        codes = np.empty((cap, self.dim), dtype=np.uint8)
        codes[: self._n] = self._codes[: self._n]
        self._codes = codes
        if self.metric is Metric.L2:
            sq = np.empty(cap, dtype=np.float32)
            sq[: self._n] = self._sq[: self._n]
            self._sq = sq

    def add(self, labels: I64, vectors: F32) -> None:
        m = len(labels)
        if m == 0:
            return
        x = np.ascontiguousarray(vectors, dtype=np.float32)
        start, need = self._n, self._n + m
        self._grow(need)
        self._floats.append(x)
        self._labels[start:need] = labels
        self._alive[start:need] = True
        self._n, self._live = need, self._live + m
        if need > 2 * self._n_at_calib:
            self._calibrate()
        else:
            self._encode_into(start, x)

    def remove(self, labels: I64) -> None:
        if len(labels) == 0 or self._live == 0:
            return
        hit = np.isin(self._labels[: self._n], labels) & self._alive[: self._n]
        self._alive[: self._n][hit] = False
        self._live -= int(hit.sum())

    def vectors_of(self, labels: I64) -> F32:
        slots = self.live_slots(labels)
        if len(labels) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._gather(slots)

    def compact(self) -> None:
        """Drop tombstones from the codes now; their floats leave the file at the next save."""
        if self._live == self._n:
            return
        keep = np.flatnonzero(self._alive[: self._n]).astype(np.int64)
        self._floats.keep_slots(keep)
        self._labels = self._labels[keep].copy()
        self._alive = np.ones(len(keep), dtype=bool)
        if self._binary:
            self._bits = np.ascontiguousarray(self._bits[:, keep])
        else:
            self._codes = self._codes[keep].copy()
            self._sq = self._sq[keep].copy() if self.metric is Metric.L2 else self._sq
        self._n = self._live = len(keep)

    # ---- search ----------------------------------------------------------------------------
    def _candidates(self, q: F32, c: int, rows: I64 | None) -> I64:
        """(nq, c) slots with the best approximate scores, ascending per query."""
        n, nq = self._n, len(q)
        m = n if rows is None else len(rows)
        dead = np.flatnonzero(~self._alive[:n]) if rows is None and self._live < n else None
        out = np.empty((nq, c), dtype=np.int64)
        if self._binary:
            bits = self._bits[:, :n] if rows is None else self._bits[:, rows]
            qbits = binary_codes(q, self._calib[0])
            for i in range(nq):
                dist = popcount(bits[0] ^ qbits[i, 0]).astype(np.uint32)
                for w in range(1, self._words):
                    dist += popcount(bits[w] ^ qbits[i, w])
                if dead is not None:
                    dist[dead] = np.iinfo(np.uint32).max
                out[i] = np.argpartition(dist, c - 1)[:c]
        else:
            lo, step = self._calib
            qs = q * step
            per = max(1, _SCORE_CELLS // m)
            for q0 in range(0, nq, per):
                qq = qs[q0 : q0 + per]
                sc = np.empty((len(qq), m), dtype=np.float32)
                for r0 in range(0, m, _ROWS):
                    r1 = min(r0 + _ROWS, m)
                    blk = self._codes[r0:r1] if rows is None else self._codes[rows[r0:r1]]
                    sc[:, r0:r1] = qq @ blk.astype(np.float32).T
                if self.metric is Metric.L2:  # rank by 2 q.x - |x|^2 = |q|^2 - |q - x|^2
                    sq = self._sq[:n] if rows is None else self._sq[rows]
                    sc *= 2.0
                    sc += 2.0 * (q[q0 : q0 + per] @ lo)[:, None] - sq[None, :]
                if dead is not None:
                    sc[:, dead] = -np.inf
                out[q0 : q0 + per] = np.argpartition(sc, m - c, axis=1)[:, m - c :]
        if rows is not None:
            out = rows[out]
        out.sort(axis=1)  # ties then go to the earlier slot, as in flat
        return out

    def _rescore(self, q: F32, cand: I64, k: int) -> tuple[I64, F32]:
        nq, c = cand.shape
        out_l = np.full((nq, k), -1, dtype=np.int64)
        out_s = np.full((nq, k), -np.inf, dtype=np.float32)
        per = max(1, _RESCORE_CELLS // (c * self.dim))
        for q0 in range(0, nq, per):
            cc, qq = cand[q0 : q0 + per], q[q0 : q0 + per]
            g = self._gather(cc.ravel()).reshape(len(cc), c, self.dim)
            sc = np.matmul(g, qq[:, :, None])[:, :, 0]
            if self.metric is Metric.L2:
                d2 = np.einsum("ij,ij->i", qq, qq)[:, None] - 2.0 * sc
                d2 += np.einsum("bcd,bcd->bc", g, g)
                np.maximum(d2, 0.0, out=d2)
                sc = -np.sqrt(d2)
            idx, best = top_k(sc.astype(np.float32, copy=False), k)
            kk = idx.shape[1]
            out_l[q0 : q0 + per, :kk] = self._labels[np.take_along_axis(cc, idx, axis=1)]
            out_s[q0 : q0 + per, :kk] = best
        return out_l, out_s

    def search(self, queries: F32, k: int, allowed: I64 | None = None) -> tuple[I64, F32]:
        nq = len(queries)
        k = max(int(k), 0)
        if self._live == 0 or k == 0 or nq == 0:
            return np.full((nq, k), -1, np.int64), np.full((nq, k), -np.inf, np.float32)
        q = np.ascontiguousarray(queries, dtype=np.float32)
        rows: I64 | None = None
        pool = self._live
        if allowed is not None:
            rows = np.flatnonzero(
                np.isin(self._labels[: self._n], allowed) & self._alive[: self._n]
            ).astype(np.int64)
            pool = len(rows)
            if pool == 0 or self.use_exact(pool, self._live):
                return exact_search(self._gather(rows), self._labels[rows], q, k, self.metric)
        c = min(k * self.p.factor, pool)
        if c >= pool:  # every vector is a candidate: plain exact search
            if rows is None:
                rows = np.flatnonzero(self._alive[: self._n]).astype(np.int64)
            return exact_search(self._gather(rows), self._labels[rows], q, k, self.metric)
        return self._rescore(q, self._candidates(q, c, rows), k)

    # ---- persistence -----------------------------------------------------------------------
    def _code_bytes(self) -> int:
        return 8 * self._words if self._binary else self.dim

    def write_body(self, fh: BinaryIO) -> None:
        n = self._n
        fh.write(struct.pack("<QQ", n, self._n_at_calib))
        fh.write(np.ascontiguousarray(self._calib, dtype="<f4").tobytes())
        fh.write(np.ascontiguousarray(self._labels[:n], dtype="<i8").tobytes())
        fh.write(self._alive[:n].astype(np.uint8).tobytes())
        codes = self._bits[:, :n].T.copy().view(np.uint8) if self._binary else self._codes[:n]
        fh.write(np.ascontiguousarray(codes).tobytes())
        fh.write(b"\x00" * ((-fh.tell()) % 64))
        offset = fh.tell()
        for _, _, x in self._blocks():
            fh.write(np.ascontiguousarray(x, dtype="<f4").tobytes())
        try:
            st = os.fstat(fh.fileno())
        except (OSError, AttributeError):
            self._written = None
        else:
            self._written = (st.st_dev, st.st_ino, offset, n)

    def save(self, path: Path, *, collection_uuid: str, built_seq: int) -> None:
        """Write atomically, then serve the floats from the new file (RAM tail freed)."""
        self._written = None
        super().save(path, collection_uuid=collection_uuid, built_seq=built_seq)
        written, self._written = self._written, None
        if written is None or written[3] != self._n:
            return
        dev, ino, offset, n = written
        try:
            with open(path, "rb") as fh:
                st = os.fstat(fh.fileno())
                if (st.st_dev, st.st_ino) != (dev, ino):
                    return  # replaced by another writer since our rename: keep our sources
                mapped = map_floats(fh, offset, n, self.dim)
        except (OSError, ValueError):
            return
        self._floats = FloatRows(self.dim, mapped)  # one assignment: searches see old or new

    @classmethod
    def read_body(cls, fh: BinaryIO, header: IndexHeader) -> QuantizedIndex:
        count, dim = header.count, header.dim
        if count < 0 or dim <= 0:
            raise IndexFileError("bad count or dim")
        try:
            idx = cls(dim, Metric.parse(header.metric), **header.params)
        except (InvalidArgumentError, TypeError, ValueError) as exc:
            raise IndexFileError(f"bad quantized parameters: {exc}") from None
        fixed = fh.read(16)
        if len(fixed) != 16:
            raise IndexFileError("truncated body")
        n, n_at_calib = struct.unpack("<QQ", fixed)
        if not count <= n < 1 << 40 or n_at_calib >= 1 << 40:
            raise IndexFileError("slot count does not match the header")
        cb = idx._code_bytes()
        sizes = (8 * dim, 8 * n, n, n * cb)
        parts = [fh.read(size) for size in sizes]
        if any(len(p) != size for p, size in zip(parts, sizes, strict=True)):
            raise IndexFileError("body length does not match the header (truncated)")
        calib = np.frombuffer(parts[0], dtype="<f4").reshape(2, dim).astype(np.float32)
        alive = np.frombuffer(parts[2], dtype=np.uint8)
        if not np.isfinite(calib).all() or (not idx._binary and (calib[1] <= 0).any()):
            raise IndexFileError("bad quantisation range")
        if (alive > 1).any() or int(alive.sum()) != count:
            raise IndexFileError("live flags do not match the header's count")
        pad = (-fh.tell()) % 64
        if len(fh.read(pad)) != pad:
            raise IndexFileError("truncated body")
        idx._floats = FloatRows(dim, read_floats(fh, n, dim))
        idx._calib, idx._n_at_calib = calib, n_at_calib
        idx._alive = alive.astype(bool)
        idx._labels = read_labels(parts[1], idx._alive)
        raw = np.frombuffer(parts[3], dtype=np.uint8).reshape(n, cb)
        if idx._binary:
            idx._bits = np.ascontiguousarray(raw.view(np.uint64).T)
        else:
            idx._codes = raw.copy()
            if idx.metric is Metric.L2:
                idx._sq = np.empty(n, dtype=np.float32)
                for lo in range(0, n, _ROWS):
                    deq = raw[lo : lo + _ROWS].astype(np.float32) * calib[1] + calib[0]
                    idx._sq[lo : lo + _ROWS] = np.einsum("ij,ij->i", deq, deq)
        idx._n, idx._live = n, count
        return idx
