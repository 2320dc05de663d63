"""Locality-sensitive hashing: random-hyperplane (SimHash) signatures, several tables,
multi-probe, exact re-rank. Ours, in numpy.

Each of ``n_tables`` tables hashes a vector to ``n_bits`` sign bits of its projections on random
hyperplanes. Vectors are hashed by direction (unit-normalised, minus the mean direction of the
data so the bits split the data evenly), for every metric: for cosine this is SimHash proper;
for l2 and dot it finds candidates by angle, and the exact re-rank then orders them by the
collection's metric (good when norms vary little, as with sentence embeddings; l2/dot data
with very different norms is better served by ``hnsw``).

A query looks up its own bucket in each table plus ``probes`` neighbouring buckets, the ones
reached by flipping the bits whose projections were closest to zero, cheapest sets first
(query-directed multi-probe, Lv et al. 2007; see ``lsh_probe``), and re-ranks the union of
those buckets exactly. More probes visit a superset of buckets, so recall never falls as
``probes`` rises.

Tables and bits are sized from the collection unless set (``auto_shape``: about 8 vectors per
bucket, more tables as bits grow), and re-sized whenever the index has doubled or been
compacted. A query whose buckets hold fewer than ``k`` live vectors probes wider (doubling
its probes) before anything else; only when even every probe falls short (a collection of a
few vectors, or ``k`` near its size) is it answered by an exact scan, and such scans are
counted (``search_stats``, shown by ``index_stats()``) and logged, never silent.

Where LSH still earns its place beside HNSW: inserts are cheap (hash + append, no graph
search), builds are fast, deletes are immediate, and the structure is simple to reason about.

Body format 2 (little-endian), after the envelope::

    n_at_center u64, n_tables u32, n_bits u32 (the shape in use), center f32[dim],
    planes f32[n_tables * n_bits, dim], labels i64[count], vectors f32[count, dim]

Format 1 (still read) lacks the two u32: its shape is the header's ``params``.

Bucket tables are recomputed on load (a matmul and a sort per table).
"""

from __future__ import annotations

import logging
import struct
from dataclasses import asdict, dataclass
from typing import Any, BinaryIO, ClassVar

import numpy as np
import numpy.typing as npt

from akindb.core.topk import scores, top_k
from akindb.core.vectors import normalize_rows
from akindb.errors import InvalidArgumentError
from akindb.index.approx import ApproxIndex, DictParams, check_range, exact_search
from akindb.index.base import F32, I64, IndexFileError, IndexHeader, read_labels
from akindb.index.lsh_probe import auto_shape, max_probes, probe_codes
from akindb.types import Metric

log = logging.getLogger(__name__)

U32 = npt.NDArray[np.uint32]
_HASH_BLOCK = 65536
_PROBE_BLOCK = 64  # queries probed at once (bounds the (queries, tables, 1023) cost array)
LARGE_FOR_A_SCAN = 2048
"""An exact scan of an index at least this big is logged as a warning (smaller: info)."""


@dataclass(frozen=True, slots=True)
class LshParams(DictParams):
    """LSH knobs, each a trade-off.

    * ``n_tables`` (1-64, default ``None`` = sized from the collection, see ``auto_shape``):
      more tables find more true neighbours (recall up); costs memory (16 bytes per vector per
      table), hashing time on insert and query, and a longer candidate list to re-rank.
    * ``n_bits`` (1-30, default ``None`` = sized from the collection, about 8 vectors per
      bucket): fewer bits mean bigger buckets (recall up, more candidates to re-rank, slower
      queries). Automatic sizes follow the collection as it grows; fixed ones never change.
      Changing either rebuilds the index.
    * ``probes`` (0-1023, default 16): extra buckets visited per table, likeliest first. The
      search-time knob: recall up (never down), QPS down, no memory cost; changeable any time
      (``Collection.tune`` sets it).
    * ``seed`` (default 0): the random hyperplanes; results are reproducible for a given seed.
    """

    kind_name: ClassVar[str] = "lsh"

    n_tables: int | None = None
    n_bits: int | None = None
    probes: int = 16
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n_tables is not None:
            check_range("n_tables", self.n_tables, 1, 64)
        if self.n_bits is not None:
            check_range("n_bits", self.n_bits, 1, 30)
        check_range("probes", self.probes, 0, 1023)
        check_range("seed", self.seed, 0, 2**63 - 1)


class LshIndex(ApproxIndex):
    """Multi-table, multi-probe SimHash over an in-memory float32 matrix (exact re-rank)."""

    kind = "lsh"
    format_version = 2
    knob = "probes"
    exact_factor = 4.0  # filters allowing < 20 % of the index are answered exactly
    params_cls = LshParams
    build_params = ("n_tables", "n_bits", "seed")

    def __init__(self, dim: int, metric: Metric, **params: Any) -> None:
        super().__init__(dim, metric)
        self.p = LshParams.from_dict(params)
        self._center: F32 = np.zeros(dim, dtype=np.float32)
        self._n_at_center = 0
        self._vecs: F32 = np.zeros((0, dim), dtype=np.float32)
        self._labels: I64 = np.zeros(0, dtype=np.int64)
        self._alive = np.zeros(0, dtype=bool)
        self._n = 0
        self._live = 0
        self._sq: F32 | None = None
        self._set_shape(*self._wanted_shape(0))
        self._codes: U32 = np.zeros((0, self._nt), dtype=np.uint32)
        self._sorted_n = 0
        self._sorted_codes: U32 = np.zeros((self._nt, 0), dtype=np.uint32)
        self._sorted_rows: I64 = np.zeros((self._nt, 0), dtype=np.int64)
        self._counts = {"queries": 0, "widened": 0, "exact_scans": 0, "filtered_exact": 0}

    # ---- shape -----------------------------------------------------------------------------
    def _wanted_shape(self, n: int) -> tuple[int, int]:
        tables, bits = auto_shape(n)
        return self.p.n_tables or tables, self.p.n_bits or bits

    def _set_shape(self, n_tables: int, n_bits: int, planes: F32 | None = None) -> None:
        """Use ``n_tables`` x ``n_bits`` hyperplanes (drawn from the seed unless given)."""
        self._nt, self._nb = n_tables, n_bits
        if planes is None:
            rng = np.random.default_rng(self.p.seed)
            planes = rng.standard_normal((n_tables * n_bits, self.dim)).astype(np.float32)
        self._planes: F32 = planes
        self._weights = np.left_shift(np.uint32(1), np.arange(n_bits, dtype=np.uint32))

    @property
    def shape(self) -> tuple[int, int]:
        """(tables, bits) in use now."""
        return self._nt, self._nb

    def search_stats(self) -> dict[str, Any]:
        """Shape in use and how queries were answered since load: ``widened`` probed past the
        ``probes`` knob to find ``k`` candidates, ``exact_scans`` fell back to scanning every
        vector (tiny collections, or ``k`` near the size), ``filtered_exact`` were filters
        answered exactly over the rows they allow."""
        return {"n_tables": self._nt, "n_bits": self._nb, "probes": self.p.probes,
                "auto_shape": self.p.n_tables is None or self.p.n_bits is None,
                "vectors_per_bucket": round(self._live / (1 << self._nb), 2),
                **self._counts}

    # ---- knob ------------------------------------------------------------------------------
    def params(self) -> dict[str, Any]:
        return asdict(self.p)

    def knob_value(self) -> int:
        return self.p.probes

    def set_knob(self, value: int) -> None:
        self.p = LshParams(**{**asdict(self.p), "probes": value})

    def knob_sweep(self, k: int) -> list[int]:
        cap = max_probes(self._nb)
        return sorted({min(v, cap) for v in (0, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1023)})

    # ---- hashing ---------------------------------------------------------------------------
    def _project(self, x: F32) -> F32:
        proj = (normalize_rows(x) - self._center) @ self._planes.T
        out: F32 = proj.astype(np.float32, copy=False)
        return out

    def _hash(self, x: F32) -> U32:
        out = np.empty((len(x), self._nt), dtype=np.uint32)
        for lo in range(0, len(x), _HASH_BLOCK):
            proj = self._project(x[lo : lo + _HASH_BLOCK])
            bits = (proj > 0).reshape(len(proj), self._nt, self._nb)
            out[lo : lo + len(proj)] = (bits.astype(np.uint32) * self._weights).sum(
                axis=2, dtype=np.uint32
            )
        return out

    def _recenter(self) -> None:
        """Hash around the current mean direction, so sign bits split the data evenly, with
        tables and bits sized for the current collection (unless fixed by the parameters)."""
        alive = self._vecs[: self._n][self._alive[: self._n]]
        if len(alive):
            self._center = normalize_rows(alive).mean(axis=0).astype(np.float32)
        shape = self._wanted_shape(self._live)
        if shape != self.shape:
            self._set_shape(*shape)
            self._codes = np.empty((len(self._labels), self._nt), dtype=np.uint32)
        self._n_at_center = self._n
        self._codes[: self._n] = self._hash(self._vecs[: self._n])
        self._sorted_n = 0

    def _ensure_sorted(self) -> None:
        if self._n > 2 * self._n_at_center:
            self._recenter()
        tail = self._n - self._sorted_n
        if tail == 0 or (self._sorted_n and tail <= max(256, self._sorted_n // 64)):
            return
        codes = self._codes[: self._n].T
        order = np.argsort(codes, axis=1, kind="stable")
        self._sorted_rows = order.astype(np.int64)
        self._sorted_codes = np.take_along_axis(codes, order, axis=1)
        self._sorted_n = self._n

    # ---- writes ----------------------------------------------------------------------------
    def add(self, labels: I64, vectors: F32) -> None:
        m = len(labels)
        if m == 0:
            return
        need = self._n + m
        cap = self._grow_slots(need)
        if cap:
            vecs = np.empty((cap, self.dim), dtype=np.float32)
            codes = np.empty((cap, self._nt), dtype=np.uint32)
            vecs[: self._n] = self._vecs[: self._n]
            codes[: self._n] = self._codes[: self._n]
            self._vecs, self._codes = vecs, codes
        self._vecs[self._n : need] = vectors
        self._labels[self._n : need] = labels
        self._alive[self._n : need] = True
        self._codes[self._n : need] = self._hash(np.asarray(vectors, dtype=np.float32))
        self._n = need
        self._live += m
        self._sq = None

    def remove(self, labels: I64) -> None:
        if len(labels) == 0 or self._live == 0:
            return
        hit = np.isin(self._labels[: self._n], labels) & self._alive[: self._n]
        gone = int(hit.sum())
        if gone:
            self._alive[: self._n][hit] = False
            self._live -= gone

    def vectors_of(self, labels: I64) -> F32:
        return np.ascontiguousarray(self._vecs[self.live_slots(labels)])

    def compact(self) -> None:
        """Drop tombstoned rows (memory returns), re-center and re-hash."""
        keep = np.flatnonzero(self._alive[: self._n])
        self._vecs = np.ascontiguousarray(self._vecs[keep])
        self._labels = self._labels[keep].copy()
        self._alive = np.ones(len(keep), dtype=bool)
        self._codes = np.empty((len(keep), self._nt), dtype=np.uint32)
        self._n = self._live = len(keep)
        self._sq = None
        self._recenter()

    # ---- search ----------------------------------------------------------------------------
    def ready(self) -> None:
        self._ensure_sorted()
        if self.metric is Metric.L2:
            self._sq_norms()

    def _sq_norms(self) -> F32:
        if self._sq is None:
            v = self._vecs[: self._n]
            self._sq = np.einsum("ij,ij->i", v, v)
        return self._sq

    def _exact_rows(self, rows: npt.NDArray[np.intp], q: F32, k: int) -> tuple[I64, F32]:
        return exact_search(self._vecs[rows], self._labels[rows], q, k, self.metric)

    def _probe_codes(self, queries: F32, probes: int) -> U32:
        """(nq, n_tables, 1 + probes) bucket codes: own bucket first, then the likeliest others."""
        out = []
        for lo in range(0, len(queries), _PROBE_BLOCK):
            proj = self._project(queries[lo : lo + _PROBE_BLOCK])
            out.append(probe_codes(proj.reshape(len(proj), self._nt, self._nb), self._weights,
                                   probes))
        return np.concatenate(out) if out else np.zeros((0, self._nt, 1), dtype=np.uint32)

    def _bucket_rows(self, codes: U32) -> npt.NDArray[np.intp]:
        """Rows (sorted, unique, tombstones included) in the buckets ``codes[t, :]`` of each
        table ``t``, plus matching rows of the not-yet-sorted tail."""
        m = self._sorted_n
        parts = []
        for t in range(self._nt):
            col = self._sorted_codes[t]
            lo = np.searchsorted(col, codes[t], "left")
            hi = np.searchsorted(col, codes[t], "right")
            lens = hi - lo
            total = int(lens.sum())
            if total:
                pos = np.repeat(lo - np.cumsum(lens) + lens, lens) + np.arange(total)
                parts.append(self._sorted_rows[t][pos])
        tail = self._codes[m : self._n]
        if len(tail):
            match = (tail[:, :, None] == codes[None]).any(axis=(1, 2))
            parts.append(m + np.flatnonzero(match))
        if not parts:
            return np.zeros(0, dtype=np.intp)
        return np.unique(np.concatenate(parts))

    def search(self, queries: F32, k: int, allowed: I64 | None = None) -> tuple[I64, F32]:
        nq = len(queries)
        k = max(int(k), 0)
        out_l = np.full((nq, k), -1, dtype=np.int64)
        out_s = np.full((nq, k), -np.inf, dtype=np.float32)
        if self._live == 0 or k == 0 or nq == 0:
            return out_l, out_s
        q = np.ascontiguousarray(queries, dtype=np.float32)
        self._counts["queries"] += nq
        allowed_rows: npt.NDArray[np.intp] | None = None
        if allowed is not None:
            allowed_rows = np.flatnonzero(
                np.isin(self._labels[: self._n], allowed) & self._alive[: self._n]
            )
            if self.use_exact(len(allowed_rows), self._live):
                self._counts["filtered_exact"] += nq
                return self._exact_rows(allowed_rows, q, k)
        self._ensure_sorted()
        cap = max_probes(self._nb)
        probes = min(self.p.probes, cap)
        if allowed_rows is not None:
            # A filter hides most bucket mates: look into more buckets the rarer it is.
            share = max(len(allowed_rows) / self._live, 1e-6)
            probes = min(cap, max(2 * probes, int(np.ceil(probes / share))))
        codes = self._probe_codes(q, probes)
        keep_mask = self._alive[: self._n]
        if allowed_rows is not None:
            keep_mask = np.zeros(self._n, dtype=bool)
            keep_mask[allowed_rows] = True
        sq = self._sq_norms() if self.metric is Metric.L2 else None
        need = 4 * k if allowed_rows is not None else k
        enough = min(need, int(keep_mask.sum()))
        for i in range(nq):
            cand = self._bucket_rows(codes[i])
            cand = cand[keep_mask[cand]]
            if len(cand) < need and probes < cap:  # too few: probe wider, never scan first
                self._counts["widened"] += 1
                cand = self._widen(q[i : i + 1], probes, cap, need, keep_mask)
            if len(cand) < enough:
                cand = self._scan(i, k, keep_mask, allowed_rows is not None)
            if len(cand) == 0:
                continue
            sc = scores(self._vecs[cand], q[i : i + 1], self.metric,
                        sq[cand] if sq is not None else None)
            idx, best = top_k(sc, k)
            kk = idx.shape[1]
            out_l[i, :kk] = self._labels[cand[idx[0]]]
            out_s[i, :kk] = best[0]
        return out_l, out_s

    def _widen(
        self, q: F32, probes: int, cap: int, need: int, keep_mask: npt.NDArray[np.bool_]
    ) -> npt.NDArray[np.intp]:
        """Candidates at the smallest width (>= ``probes``) whose buckets hold ``need`` allowed
        vectors, or at ``cap``. The smallest, not merely a sufficient one: then a query's
        width, and so its candidates, only grow with ``probes`` (recall stays monotone)."""

        def rows(width: int) -> npt.NDArray[np.intp]:
            got = self._bucket_rows(self._probe_codes(q, width)[0])
            return got[keep_mask[got]]

        lo, hi = probes, probes  # rows(lo) falls short
        while True:  # double until enough (or every probe)
            hi = min(cap, max(1, 2 * hi))
            cand = rows(hi)
            if len(cand) >= need or hi == cap:
                break
            lo = hi
        while len(cand) >= need and hi - lo > 1:  # then the smallest width that is enough
            mid = (lo + hi) // 2
            at_mid = rows(mid)
            if len(at_mid) >= need:
                hi, cand = mid, at_mid
            else:
                lo = mid
        return cand

    def _scan(
        self, i: int, k: int, keep_mask: npt.NDArray[np.bool_], filtered: bool
    ) -> npt.NDArray[np.intp]:
        """Every allowed row: the exact answer when even every probe found too few. Counted
        and logged: it is correct but costs a full scan."""
        rows = np.flatnonzero(keep_mask)
        if filtered:
            self._counts["filtered_exact"] += 1
            return rows
        self._counts["exact_scans"] += 1
        level = logging.WARNING if self._live >= LARGE_FOR_A_SCAN else logging.INFO
        log.log(level, "lsh: all %d probes of %d tables found fewer than k=%d of %d vectors; "
                "answered by an exact scan (use flat for collections this small, or more bits)",
                max_probes(self._nb), self._nt, k, self._live)
        return rows

    # ---- persistence -----------------------------------------------------------------------
    def write_body(self, fh: BinaryIO) -> None:
        keep = self._alive[: self._n]
        fh.write(struct.pack("<QII", self._n_at_center, self._nt, self._nb))
        fh.write(np.ascontiguousarray(self._center, dtype="<f4").tobytes())
        fh.write(np.ascontiguousarray(self._planes, dtype="<f4").tobytes())
        fh.write(np.ascontiguousarray(self._labels[: self._n][keep], dtype="<i8").tobytes())
        fh.write(np.ascontiguousarray(self._vecs[: self._n][keep], dtype="<f4").tobytes())

    @classmethod
    def read_body(cls, fh: BinaryIO, header: IndexHeader) -> LshIndex:
        n, dim = header.count, header.dim
        if n < 0 or dim <= 0:
            raise IndexFileError("bad count or dim")
        try:
            idx = cls(dim, Metric.parse(header.metric), **header.params)
        except (InvalidArgumentError, TypeError) as exc:
            raise IndexFileError(f"bad lsh parameters: {exc}") from None
        if header.format >= 2:
            raw = fh.read(16)
            if len(raw) != 16:
                raise IndexFileError("body length does not match the header (truncated)")
            n_at_center, nt, nbits = struct.unpack("<QII", raw)
        else:  # format 1: the shape is the parameters' (they were always explicit then)
            raw = fh.read(8)
            if len(raw) != 8:
                raise IndexFileError("body length does not match the header (truncated)")
            (n_at_center,) = struct.unpack("<Q", raw)
            nt, nbits = idx.p.n_tables or 0, idx.p.n_bits or 0
        if not (1 <= nt <= 64 and 1 <= nbits <= 30):
            raise IndexFileError(f"bad lsh shape {nt} tables x {nbits} bits")
        nb = nt * nbits
        sizes = (4 * dim, 4 * nb * dim, 8 * n, 4 * n * dim)
        parts = [fh.read(size) for size in sizes]
        if any(len(p) != size for p, size in zip(parts, sizes, strict=True)) or fh.read(1):
            raise IndexFileError("body length does not match the header (truncated or padded)")
        center = np.frombuffer(parts[0], dtype="<f4")
        planes = np.frombuffer(parts[1], dtype="<f4")
        labels = read_labels(parts[2])
        vecs = np.frombuffer(parts[3], dtype="<f4")
        if not (np.isfinite(center).all() and np.isfinite(planes).all()):
            raise IndexFileError("non-finite hyperplanes")
        idx._n_at_center = n_at_center
        idx._center = center.astype(np.float32)
        idx._set_shape(nt, nbits, planes.reshape(nb, dim).astype(np.float32))
        idx._vecs = vecs.reshape(n, dim).astype(np.float32)
        idx._labels = labels.astype(np.int64)
        idx._alive = np.ones(n, dtype=bool)
        idx._codes = idx._hash(idx._vecs) if n else np.zeros((0, nt), np.uint32)
        idx._n = idx._live = n
        return idx
