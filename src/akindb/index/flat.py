"""Exact search (brute force with BLAS): the oracle every approximate index is tested against."""

from __future__ import annotations

import threading
from typing import BinaryIO

import numpy as np

from akindb.core.topk import scores, top_k
from akindb.index.base import F32, I64, IndexFileError, IndexHeader, VectorIndex, read_labels
from akindb.types import Metric

# Queries are scored in blocks so a big batch never materialises a (q, n) matrix over ~256 MB.
_BLOCK_CELLS = 64 * 1024 * 1024

_SCAN = threading.Lock()
"""One BLAS scan at a time per process. Each scan already uses every core through BLAS;
concurrent callers (server threads, an app's thread pool) make OpenBLAS's threads fight and
collapse throughput: measured on 10k x 384, 1 thread 1,280 calls/s, 8 threads 74, 32 threads
20. Serialised, many threads get the one-thread rate."""


class FlatIndex(VectorIndex):
    """All vectors in one contiguous float32 matrix; rows appended, deletes compact in place.

    Body format: labels int64[count] then vectors float32[count, dim], both little-endian.
    """

    kind = "flat"

    def __init__(self, dim: int, metric: Metric) -> None:
        super().__init__(dim, metric)
        self._vecs: F32 = np.zeros((0, dim), dtype=np.float32)
        self._labels: I64 = np.zeros(0, dtype=np.int64)
        self._n = 0
        self._sq: F32 | None = None
        self._sorted: tuple[I64, I64] | None = None  # (label order, sorted labels): rows_of

    def __len__(self) -> int:
        return self._n

    def labels(self) -> I64:
        return self._labels[: self._n].copy()

    def vectors(self) -> F32:
        """The stored (for cosine: normalised) vectors, a read-only view."""
        v = self._vecs[: self._n]
        v.flags.writeable = False
        return v

    def add(self, labels: I64, vectors: F32) -> None:
        m = len(labels)
        if m == 0:
            return
        need = self._n + m
        if need > len(self._labels):
            cap = max(need, int(len(self._labels) * 1.5) + 1024)
            vecs = np.empty((cap, self.dim), dtype=np.float32)
            labs = np.empty(cap, dtype=np.int64)
            vecs[: self._n] = self._vecs[: self._n]
            labs[: self._n] = self._labels[: self._n]
            self._vecs, self._labels = vecs, labs
        self._vecs[self._n : need] = vectors
        self._labels[self._n : need] = labels
        self._n = need
        self._sq = None
        self._sorted = None

    def remove(self, labels: I64) -> None:
        if len(labels) == 0 or self._n == 0:
            return
        keep = ~np.isin(self._labels[: self._n], labels)
        kept = int(keep.sum())
        if kept == self._n:
            return
        self._vecs[:kept] = self._vecs[: self._n][keep]
        self._labels[:kept] = self._labels[: self._n][keep]
        self._n = kept
        self._sq = None
        self._sorted = None

    def rows_of(self, labels: I64) -> I64:
        """The row of each label in ``vectors()``, -1 where it is not in the index. Hybrid
        search reads its candidates' vectors here instead of SQLite (``retrieval.gather``); the
        labels are sorted once per change to the index, then each call is a binary search.

        >>> f = FlatIndex(2, Metric.DOT)
        >>> f.add(np.array([7, 3]), np.eye(2, dtype=np.float32))
        >>> f.rows_of(np.array([3, 5, 7])).tolist()
        [1, -1, 0]
        """
        n = self._n
        labels = np.asarray(labels, dtype=np.int64)
        if n == 0:
            return np.full(len(labels), -1, dtype=np.int64)
        got = self._sorted
        if got is None:
            order = np.argsort(self._labels[:n], kind="stable")
            got = self._sorted = (order, self._labels[:n][order])
        order, srt = got
        pos = np.minimum(np.searchsorted(srt, labels), n - 1)
        rows: I64 = np.where(srt[pos] == labels, order[pos], -1).astype(np.int64)
        return rows

    def _sq_norms(self) -> F32:
        if self._sq is None:
            v = self._vecs[: self._n]
            self._sq = np.einsum("ij,ij->i", v, v)
        return self._sq

    def search(self, queries: F32, k: int, allowed: I64 | None = None) -> tuple[I64, F32]:
        nq = len(queries)
        k = max(int(k), 0)
        n = self._n
        if nq == 1 and allowed is None and 0 < k <= n:
            # One query, no filter (every exact single search): one scan, no padded arrays
            # to fill and copy out of (bench/latency.py, flat ÷ numpy).
            sq = self._sq_norms() if self.metric is Metric.L2 else None
            with _SCAN:
                sc = scores(self._vecs[:n], queries, self.metric, sq)
                idx, best = top_k(sc, k)
            return self._labels[idx], best
        out_l = np.full((nq, k), -1, dtype=np.int64)
        out_s = np.full((nq, k), -np.inf, dtype=np.float32)
        if self._n == 0 or k == 0 or nq == 0:
            return out_l, out_s
        mat = self._vecs[: self._n]
        labs = self._labels[: self._n]
        sq = self._sq_norms() if self.metric is Metric.L2 else None
        if allowed is not None:
            rows = np.flatnonzero(np.isin(labs, allowed))
            mat, labs = mat[rows], labs[rows]
            sq = sq[rows] if sq is not None else None
            if len(rows) == 0:
                return out_l, out_s
        step = max(1, _BLOCK_CELLS // max(len(labs), 1))
        for lo in range(0, nq, step):
            with _SCAN:
                sc = scores(mat, queries[lo : lo + step], self.metric, sq)
                idx, best = top_k(sc, k)
            kk = idx.shape[1]
            out_l[lo : lo + step, :kk] = labs[idx]
            out_s[lo : lo + step, :kk] = best
        return out_l, out_s

    def write_body(self, fh: BinaryIO) -> None:
        fh.write(np.ascontiguousarray(self._labels[: self._n], dtype="<i8").tobytes())
        fh.write(np.ascontiguousarray(self._vecs[: self._n], dtype="<f4").tobytes())

    @classmethod
    def read_body(cls, fh: BinaryIO, header: IndexHeader) -> FlatIndex:
        n, dim = header.count, header.dim
        if n < 0 or dim <= 0:
            raise IndexFileError("bad count or dim")
        raw_labels, raw_vecs = fh.read(8 * n), fh.read(4 * n * dim)
        if len(raw_labels) != 8 * n or len(raw_vecs) != 4 * n * dim or fh.read(1):
            raise IndexFileError("body length does not match the header (truncated or padded)")
        labels = read_labels(raw_labels)
        vecs = np.frombuffer(raw_vecs, dtype="<f4")
        idx = cls(dim, Metric.parse(header.metric))
        idx._labels = labels
        idx._vecs = vecs.reshape(n, dim).astype(np.float32)
        idx._n = n
        return idx
