"""Locality-sensitive hashing: random-hyperplane (SimHash) signatures, several tables,
multi-probe, exact re-rank. Ours, in numpy.

Each of ``n_tables`` tables hashes a vector to ``n_bits`` sign bits of its projections on random
hyperplanes. Vectors are hashed by direction (unit-normalised, minus the mean direction of the
data so the bits split the data evenly), for every metric: for cosine this is SimHash proper;
for l2 and dot it finds candidates by angle, and the exact re-rank then orders them by the
collection's metric (good when norms vary little, as with sentence embeddings; l2/dot data
with very different norms is better served by ``hnsw``).

A query looks up its own bucket in each table plus ``probes`` neighbouring buckets, the ones
reached by flipping the one or two bits whose projections were closest to zero (multi-probe,
Lv et al. 2007), and re-ranks the union of those buckets exactly.

Where LSH still earns its place beside HNSW: inserts are cheap (hash + append, no graph
search), builds are fast, deletes are immediate, and the structure is simple to reason about.

Body format (little-endian), after the envelope::

    n_at_center u64, center f32[dim], planes f32[n_tables * n_bits, dim],
    labels i64[count], vectors f32[count, dim]

Bucket tables are recomputed on load (a matmul and a sort per table).
"""

from __future__ import annotations

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
from akindb.types import Metric

U32 = npt.NDArray[np.uint32]
_HASH_BLOCK = 65536


@dataclass(frozen=True, slots=True)
class LshParams(DictParams):
    """LSH knobs, each a trade-off.

    * ``n_tables`` (1-64, default 16): more tables find more true neighbours (recall up);
      costs memory (4 + 8 bytes per vector per table), hashing time on insert and query, and a
      longer candidate list to re-rank. Fixed at build: changing it rebuilds.
    * ``n_bits`` (1-30, default 12): bits per signature; fewer bits mean bigger buckets (recall
      up, more candidates to re-rank, slower queries). Aim for ``2**n_bits`` around
      ``size / 20``. Fixed at build: changing it rebuilds.
    * ``probes`` (0-512, default 16): extra buckets visited per table. The search-time knob:
      recall up, QPS down, no memory cost; changeable any time (``Collection.tune`` sets it).
    * ``seed`` (default 0): the random hyperplanes; results are reproducible for a given seed.
    """

    kind_name: ClassVar[str] = "lsh"

    n_tables: int = 16
    n_bits: int = 12
    probes: int = 16
    seed: int = 0

    def __post_init__(self) -> None:
        check_range("n_tables", self.n_tables, 1, 64)
        check_range("n_bits", self.n_bits, 1, 30)
        check_range("probes", self.probes, 0, 512)
        check_range("seed", self.seed, 0, 2**63 - 1)


def _flip_masks(n_bits: int) -> tuple[U32, npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Masks of every one- and two-bit flip, and the bit pairs behind the two-bit ones."""
    ii, jj = np.triu_indices(n_bits, k=1)
    singles = np.left_shift(np.uint32(1), np.arange(n_bits, dtype=np.uint32))
    pairs = singles[ii] | singles[jj]
    return np.concatenate([singles, pairs]).astype(np.uint32), ii, jj


class LshIndex(ApproxIndex):
    """Multi-table, multi-probe SimHash over an in-memory float32 matrix (exact re-rank)."""

    kind = "lsh"
    knob = "probes"
    exact_factor = 4.0  # filters allowing < 20 % of the index are answered exactly
    params_cls = LshParams
    build_params = ("n_tables", "n_bits", "seed")

    def __init__(self, dim: int, metric: Metric, **params: Any) -> None:
        super().__init__(dim, metric)
        self.p = LshParams.from_dict(params)
        rng = np.random.default_rng(self.p.seed)
        nb = self.p.n_tables * self.p.n_bits
        self._planes: F32 = rng.standard_normal((nb, dim)).astype(np.float32)
        self._center: F32 = np.zeros(dim, dtype=np.float32)
        self._n_at_center = 0
        self._masks, self._ii, self._jj = _flip_masks(self.p.n_bits)
        self._weights = np.left_shift(
            np.uint32(1), np.arange(self.p.n_bits, dtype=np.uint32)
        ).astype(np.uint32)
        self._vecs: F32 = np.zeros((0, dim), dtype=np.float32)
        self._labels: I64 = np.zeros(0, dtype=np.int64)
        self._alive = np.zeros(0, dtype=bool)
        self._codes: U32 = np.zeros((0, self.p.n_tables), dtype=np.uint32)
        self._n = 0
        self._live = 0
        self._sorted_n = 0
        self._sorted_codes: U32 = np.zeros((self.p.n_tables, 0), dtype=np.uint32)
        self._sorted_rows: I64 = np.zeros((self.p.n_tables, 0), dtype=np.int64)
        self._sq: F32 | None = None

    # ---- knob ------------------------------------------------------------------------------
    def params(self) -> dict[str, Any]:
        return asdict(self.p)

    def knob_value(self) -> int:
        return self.p.probes

    def set_knob(self, value: int) -> None:
        self.p = LshParams(**{**asdict(self.p), "probes": value})

    def knob_sweep(self, k: int) -> list[int]:
        cap = len(self._masks)
        return sorted({min(v, cap) for v in (0, 2, 4, 8, 16, 32, 64, 128, 256, 512)})

    # ---- hashing ---------------------------------------------------------------------------
    def _project(self, x: F32) -> F32:
        proj = (normalize_rows(x) - self._center) @ self._planes.T
        out: F32 = proj.astype(np.float32, copy=False)
        return out

    def _hash(self, x: F32) -> U32:
        out = np.empty((len(x), self.p.n_tables), dtype=np.uint32)
        for lo in range(0, len(x), _HASH_BLOCK):
            proj = self._project(x[lo : lo + _HASH_BLOCK])
            bits = (proj > 0).reshape(len(proj), self.p.n_tables, self.p.n_bits)
            out[lo : lo + len(proj)] = (bits.astype(np.uint32) * self._weights).sum(
                axis=2, dtype=np.uint32
            )
        return out

    def _recenter(self) -> None:
        """Hash around the current mean direction, so sign bits split the data evenly."""
        alive = self._vecs[: self._n][self._alive[: self._n]]
        if len(alive):
            self._center = normalize_rows(alive).mean(axis=0).astype(np.float32)
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
            codes = np.empty((cap, self.p.n_tables), dtype=np.uint32)
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
        self._codes = np.empty((len(keep), self.p.n_tables), dtype=np.uint32)
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
        nq, nt, nb = len(queries), self.p.n_tables, self.p.n_bits
        proj = self._project(queries).reshape(nq, nt, nb)
        base: U32 = ((proj > 0).astype(np.uint32) * self._weights).sum(axis=2, dtype=np.uint32)
        probes = min(probes, len(self._masks))
        if probes == 0:
            own: U32 = base[:, :, None]
            return own
        m2 = proj * proj
        cost = np.concatenate([m2, m2[:, :, self._ii] + m2[:, :, self._jj]], axis=2)
        if probes < cost.shape[2]:
            pick = np.argpartition(cost, probes - 1, axis=2)[:, :, :probes]
        else:
            pick = np.broadcast_to(np.arange(cost.shape[2]), cost.shape)
        flips = base[:, :, None] ^ self._masks[pick]
        return np.concatenate([base[:, :, None], flips], axis=2)

    def search(self, queries: F32, k: int, allowed: I64 | None = None) -> tuple[I64, F32]:
        nq = len(queries)
        k = max(int(k), 0)
        out_l = np.full((nq, k), -1, dtype=np.int64)
        out_s = np.full((nq, k), -np.inf, dtype=np.float32)
        if self._live == 0 or k == 0 or nq == 0:
            return out_l, out_s
        q = np.ascontiguousarray(queries, dtype=np.float32)
        allowed_rows: npt.NDArray[np.intp] | None = None
        if allowed is not None:
            allowed_rows = np.flatnonzero(
                np.isin(self._labels[: self._n], allowed) & self._alive[: self._n]
            )
            if self.use_exact(len(allowed_rows), self._live):
                return self._exact_rows(allowed_rows, q, k)
        self._ensure_sorted()
        probes = self.p.probes
        if allowed_rows is not None:
            # A filter hides most bucket mates: look into more buckets the rarer it is.
            share = max(len(allowed_rows) / self._live, 1e-6)
            probes = min(len(self._masks), max(2 * probes, int(np.ceil(probes / share))))
        codes = self._probe_codes(q, probes)
        nt, width = self.p.n_tables, codes.shape[2]
        m = self._sorted_n
        lo = np.empty((nq, nt, width), dtype=np.int64)
        hi = np.empty((nq, nt, width), dtype=np.int64)
        for t in range(nt):
            col = self._sorted_codes[t]
            flat = codes[:, t, :].ravel()
            lo[:, t, :] = (np.searchsorted(col, flat, "left") + t * m).reshape(nq, width)
            hi[:, t, :] = (np.searchsorted(col, flat, "right") + t * m).reshape(nq, width)
        sorted_rows = self._sorted_rows.ravel()
        tail_codes = self._codes[m : self._n]
        allowed_mask = None
        if allowed_rows is not None:
            allowed_mask = np.zeros(self._n, dtype=bool)
            allowed_mask[allowed_rows] = True
        alive = self._alive[: self._n]
        sq = self._sq_norms() if self.metric is Metric.L2 else None
        for i in range(nq):
            starts, lens = lo[i].ravel(), (hi[i] - lo[i]).ravel()
            total = int(lens.sum())
            ends = np.cumsum(lens)
            pos = np.repeat(starts - ends + lens, lens) + np.arange(total)
            cand = sorted_rows[pos]
            if len(tail_codes):
                match = (tail_codes[:, :, None] == codes[i][None]).any(axis=(1, 2))
                cand = np.concatenate([cand, m + np.flatnonzero(match)])
            cand = np.unique(cand)
            keep = alive[cand] if allowed_mask is None else allowed_mask[cand]
            cand = cand[keep]
            if allowed_rows is not None and len(cand) < 4 * k:
                cand = allowed_rows  # a starving filter: answer this query exactly
            elif len(cand) < k:
                cand = np.flatnonzero(alive)  # tiny index or k near its size: exact
            if len(cand) == 0:
                continue
            sc = scores(self._vecs[cand], q[i : i + 1], self.metric,
                        sq[cand] if sq is not None else None)
            idx, best = top_k(sc, k)
            kk = idx.shape[1]
            out_l[i, :kk] = self._labels[cand[idx[0]]]
            out_s[i, :kk] = best[0]
        return out_l, out_s

    # ---- persistence -----------------------------------------------------------------------
    def write_body(self, fh: BinaryIO) -> None:
        keep = self._alive[: self._n]
        fh.write(struct.pack("<Q", self._n_at_center))
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
        nb = idx.p.n_tables * idx.p.n_bits
        sizes = (8, 4 * dim, 4 * nb * dim, 8 * n, 4 * n * dim)
        parts = [fh.read(size) for size in sizes]
        if any(len(p) != size for p, size in zip(parts, sizes, strict=True)) or fh.read(1):
            raise IndexFileError("body length does not match the header (truncated or padded)")
        raw = parts[0]
        center = np.frombuffer(parts[1], dtype="<f4")
        planes = np.frombuffer(parts[2], dtype="<f4")
        labels = read_labels(parts[3])
        vecs = np.frombuffer(parts[4], dtype="<f4")
        if not (np.isfinite(center).all() and np.isfinite(planes).all()):
            raise IndexFileError("non-finite hyperplanes")
        idx._n_at_center = struct.unpack("<Q", raw)[0]
        idx._center = center.astype(np.float32)
        idx._planes = planes.reshape(nb, dim).astype(np.float32)
        idx._vecs = vecs.reshape(n, dim).astype(np.float32)
        idx._labels = labels.astype(np.int64)
        idx._alive = np.ones(n, dtype=bool)
        idx._codes = idx._hash(idx._vecs) if n else np.zeros((0, idx.p.n_tables), np.uint32)
        idx._n = idx._live = n
        return idx
