"""HNSW (hierarchical navigable small-world graph) from faiss, behind ``VectorIndex``.

The engine was chosen by measurement (``bench/ann.py``; docs/benchmarks.md, "ANN indexes"): on
real MiniLM vectors faiss's ``IndexHNSWFlat`` answered more single queries per second at
recall@10 >= 0.95 than hnswlib (the first engine) and usearch, and it can search a graph whose
vectors stay in the page cache: an index file opens zero-copy through a memory map, so a
million-vector collection is searchable in a fraction of a second instead of after copying
1.7 GB (the cold-open goal). faiss is imported only when an HNSW index is made
(``pip install 'akindb[ann]'``).

Metrics: cosine runs on unit-normalised vectors in faiss's inner-product metric (score =
cosine), dot in the same metric (score = dot), l2 in its squared-L2 metric (score = -distance).

Slots and labels: faiss numbers vectors 0, 1, 2, ... in insertion order (the slot); slot ``i``
holds label ``_labels[i]``. Deletes are tombstones (``_alive[i]`` false): the graph still routes
through them, a faiss ``IDSelectorBitmap`` of the live slots keeps them out of the answers, and
``deleted_fraction`` says how much of the index they hold. An update is a tombstone plus a new
slot. ``compact()`` rebuilds from the live vectors, returning their memory
(``Collection.compact`` also does this automatically past a threshold).

Filters: see ``akindb.index.approx``. A selective filter is answered exactly over the allowed
vectors; otherwise the allowed slots become a bitmap selector inside the graph search, with a
search width widened for rarer filters (per call: nothing shared changes, so filtered searches
run in parallel like the others).

Body format 2 (little-endian), after the envelope: u64 slot count ``n``, u64 length ``b`` of the
faiss blob, ``n`` i64 labels, ``n`` u8 alive flags (0/1), zero padding to a multiple of 64 bytes
from the file start, then ``b`` bytes written by ``faiss.write_index`` (an ``IndexHNSWFlat``),
ending the file. Loading checks every graph array against the slot count before the first
search, so a damaged file is refused (rebuilt), never searched out of bounds.

Format 1 (hnswlib's serialised state, written by akindb before faiss) is still read: the same
graph is converted to faiss's layout by ``akindb.index.hnsw_v1`` (no rebuild) and the
collection saves it as format 2 on that first open.
"""

from __future__ import annotations

import math
import struct
from dataclasses import asdict, dataclass
from typing import Any, BinaryIO, ClassVar

import numpy as np
import numpy.typing as npt

from akindb.errors import InvalidArgumentError, MissingExtraError
from akindb.index.approx import ApproxIndex, DictParams, check_range, exact_search
from akindb.index.base import F32, I64, IndexFileError, IndexHeader, read_labels
from akindb.index.filemap import map_file, remaining
from akindb.index.hnsw_v1 import read_v1
from akindb.types import Metric

_BODY = struct.Struct("<QQ")


def _faiss() -> Any:
    global _swig_ptr
    try:
        import faiss
    except ImportError:
        raise MissingExtraError("ann", "the 'hnsw' index") from None
    # the C entry point the Python ``search`` wraps (faiss's class wrappers keep it there)
    _swig_ptr = faiss.swig_ptr if hasattr(faiss.IndexHNSWFlat, "search_c") else None
    return faiss


_swig_ptr: Any = None
"""``faiss.swig_ptr`` once faiss is imported (every ``HnswIndex`` was made through
``_faiss()``): the one-query search calls the engine's C entry point (``search_c``) with it;
None where this faiss has no ``search_c`` (then its Python ``search``, as for a batch)."""
_F32 = np.dtype(np.float32)


@dataclass(frozen=True, slots=True)
class HnswParams(DictParams):
    """HNSW knobs, each a trade-off.

    * ``M`` (2-100, default 16): links per node (2 * M on the bottom layer). Higher M raises the
      recall reachable at a given ``ef_search`` and helps high-dimensional or clustered data;
      costs memory (about ``8 * M`` bytes of links per vector beside its ``4 * dim`` bytes)
      and build time, and each query step reads more links. Fixed at build: changing it
      rebuilds the index.
    * ``ef_construction`` (M-4096, default 200): candidates kept while inserting. Higher builds a
      better graph (more recall at the same ``ef_search``); costs build/insert time roughly
      linearly, no memory. Fixed at build: changing it rebuilds the index.
    * ``ef_search`` (1-32768, default 40): candidates kept while searching (at least ``k`` is
      used). Higher raises recall; costs query time roughly linearly, no memory. Changeable any
      time (``Collection.tune`` picks the smallest value that meets a recall target).
    * ``seed`` (default 100): the level generator's seed.
    """

    kind_name: ClassVar[str] = "hnsw"

    M: int = 16
    ef_construction: int = 200
    ef_search: int = 40
    seed: int = 100

    def __post_init__(self) -> None:
        check_range("M", self.M, 2, 100)
        check_range("ef_construction", self.ef_construction, max(self.M, 1), 4096)
        check_range("ef_search", self.ef_search, 1, 32768)
        check_range("seed", self.seed, 0, 2**31 - 1)


def _empty(nq: int, k: int) -> tuple[I64, F32]:
    """(labels, scores) of ``nq`` rows with no answer yet: -1 and -inf."""
    return np.full((nq, k), -1, dtype=np.int64), np.full((nq, k), -np.inf, dtype=np.float32)


def _new_graph(dim: int, metric: Metric, p: HnswParams) -> Any:
    faiss = _faiss()
    kind = faiss.METRIC_L2 if metric is Metric.L2 else faiss.METRIC_INNER_PRODUCT
    f = faiss.IndexHNSWFlat(dim, p.M, kind)
    f.hnsw.efConstruction = p.ef_construction
    f.hnsw.efSearch = p.ef_search
    f.hnsw.rng = faiss.RandomGenerator(p.seed)
    return f


class HnswIndex(ApproxIndex):
    """faiss's HNSW graph with tombstones, filters and our persistence envelope."""

    kind = "hnsw"
    format_version = 2
    knob = "ef_search"
    params_cls = HnswParams
    build_params = ("M", "ef_construction", "seed")

    @classmethod
    def require(cls) -> None:
        _faiss()

    def __init__(self, dim: int, metric: Metric, **params: Any) -> None:
        super().__init__(dim, metric)
        self.p = HnswParams.from_dict(params)
        self._f: Any = _new_graph(dim, metric, self.p)
        # Bookkeeping: slot i holds label _labels[i]; tombstoned slots have _alive[i] False.
        self._labels: I64 = np.zeros(0, dtype=np.int64)
        self._alive = np.zeros(0, dtype=bool)
        self._n = 0
        self._live = 0
        # A graph opened zero-copy reads its vectors from this view of the index file's map
        # (or of the bytes read); the first write copies it into memory (``_own``).
        self._blob: npt.NDArray[np.uint8] | None = None
        self._live_params: Any = None  # cached search parameters excluding tombstones

    # ---- knob ------------------------------------------------------------------------------
    def params(self) -> dict[str, Any]:
        return asdict(self.p)

    def knob_value(self) -> int:
        return self.p.ef_search

    def set_knob(self, value: int) -> None:
        self.p = HnswParams(**{**asdict(self.p), "ef_search": value})
        self._f.hnsw.efSearch = value
        self._live_params = None

    def knob_sweep(self, k: int) -> list[int]:
        base = [10, 16, 24, 32, 40, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 2048]
        return sorted({max(v, k) for v in base})

    # ---- writes ----------------------------------------------------------------------------
    def _own(self) -> None:
        """Copy a zero-copy graph into memory so it can grow (the file map stays read-only)."""
        if self._blob is None:
            return
        faiss = _faiss()
        # A copying reader: faiss's zero-copy reader leaves the vectors a view even unflagged.
        view, at = self._blob.data, 0

        def read(size: int) -> bytes:
            nonlocal at
            chunk = view[at : at + size].tobytes()
            at += len(chunk)
            return chunk

        # 64 KiB pieces, not the whole vector array at once: a multi-MB bytes object is
        # served by mmap, and freeing it raises glibc's mmap threshold, so the next one stays
        # on the heap: each soak writer's RSS stepped up ~4.4 MB once (issue 13, session 7).
        f = faiss.read_index(faiss.PyCallbackIOReader(read, 1 << 16))
        f.hnsw.efSearch = self.p.ef_search
        f.hnsw.efConstruction = self.p.ef_construction
        self._f = f
        self._blob = None

    def add(self, labels: I64, vectors: F32) -> None:
        m = len(labels)
        if m == 0:
            return
        labels = np.asarray(labels, dtype=np.int64)  # new labels (LiveIndex removes old ones)
        self._own()
        need = self._n + m
        self._grow_slots(need)
        self._f.add(np.ascontiguousarray(vectors, dtype=np.float32))
        self._labels[self._n : need] = labels
        self._alive[self._n : need] = True
        self._n = need
        self._live += m
        self._live_params = None

    def remove(self, labels: I64) -> None:
        if len(labels) == 0 or self._live == 0:
            return
        rows = np.flatnonzero(np.isin(self._labels[: self._n], labels) & self._alive[: self._n])
        if len(rows) == 0:
            return
        self._alive[rows] = False
        self._live -= len(rows)
        self._live_params = None

    def _vectors(self) -> F32:
        """All slots' stored vectors, a view of faiss's storage (valid until the next add)."""
        if self._n == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        faiss = _faiss()
        storage = faiss.downcast_index(self._f.storage)
        flat = faiss.rev_swig_ptr(storage.get_xb(), self._n * self.dim)
        return np.asarray(flat).reshape(self._n, self.dim)

    def _exact_over(self, slots: npt.NDArray[np.intp], q: F32, k: int) -> tuple[I64, F32]:
        """Exact top-``k`` over the given slots (a selective filter, or a row the graph could
        not fill)."""
        vecs = np.ascontiguousarray(self._vectors()[slots])
        return exact_search(vecs, self._labels[slots], q, k, self.metric)

    def vectors_of(self, labels: I64) -> F32:
        """Stored (for cosine: normalised) vectors of live labels, in the given order."""
        if len(labels) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.ascontiguousarray(self._vectors()[self.live_slots(np.asarray(labels))])

    def compact(self) -> None:
        """Rebuild from the live vectors so tombstones stop costing memory and search time."""
        if self.deleted_count() == 0:
            return
        rows = np.flatnonzero(self._alive[: self._n])
        labels = self._labels[rows].copy()
        vecs = np.ascontiguousarray(self._vectors()[rows])
        fresh = HnswIndex(self.dim, self.metric, **asdict(self.p))
        fresh.add(labels, vecs)
        self.__dict__.update(fresh.__dict__)

    # ---- search ----------------------------------------------------------------------------
    def ready(self) -> None:
        if self._live != self._n and self._live_params is None:
            self._live_params = self._search_params(self.p.ef_search, self._alive[: self._n])

    def _to_scores(self, dist: F32) -> F32:
        if self.metric is Metric.L2:
            return -np.sqrt(np.maximum(dist, 0.0)).astype(np.float32)
        return dist.astype(np.float32, copy=False)

    def _search_params(self, ef: int, mask: npt.NDArray[np.bool_] | None) -> Any:
        """faiss search parameters: width ``ef`` and, with a ``mask``, only those slots."""
        faiss = _faiss()
        sp = faiss.SearchParametersHNSW()
        sp.efSearch = ef
        if mask is not None:
            bits = np.packbits(mask, bitorder="little")
            sp.sel = faiss.IDSelectorBitmap(len(bits), faiss.swig_ptr(bits))
            sp._keep = bits  # the selector reads this buffer; it must live as long
        return sp

    def search(self, queries: F32, k: int, allowed: I64 | None = None) -> tuple[I64, F32]:
        nq = len(queries)
        if (nq == 1 and allowed is None and 0 < k <= self._live == self._n
                and queries.dtype is _F32 and queries.shape[1] == self.dim
                and queries.strides[1] == 4 and _swig_ptr is not None):
            # One contiguous float32 query, no tombstones (every lean single query), and
            # nothing around the graph walk (bench/latency.py, on the loaded 2-core VM): faiss's
            # C entry point directly (its Python wrapper's checks and conversions cost ~3 µs
            # right after a walk); a row it could not fill (slot -1, rare) is looked for in a
            # 10-element list, not with ``slots.min()`` (a Python-level numpy wrapper, ~5 µs).
            # Such a row takes the full path below.
            dist = np.empty((1, k), np.float32)
            slots = np.empty((1, k), np.int64)
            sp = _swig_ptr
            self._f.search_c(1, sp(queries), k, sp(dist), sp(slots), None)
            if -1 not in slots.tolist()[0]:
                scores = self._to_scores(dist) if self.metric is Metric.L2 else dist
                return self._labels[slots], scores
        k = max(int(k), 0)
        if self._live == 0 or k == 0 or nq == 0:
            return _empty(nq, k)
        q = np.ascontiguousarray(queries, dtype=np.float32)
        n = self._n
        if allowed is None:
            if self._live == n:
                params = None
            else:
                if self._live_params is None:
                    self._live_params = self._search_params(self.p.ef_search, self._alive[:n])
                params = self._live_params
            return self._graph(q, k, min(k, self._live), params, None)
        keep = np.isin(self._labels[:n], allowed) & self._alive[:n]
        n_allowed = int(keep.sum())
        if n_allowed == 0:
            return _empty(nq, k)
        if self.use_exact(n_allowed, self._live):
            return self._exact_over(np.flatnonzero(keep), q, k)
        # faiss walks the whole graph but keeps only allowed slots: the rarer they are, the
        # wider the walk must be to meet enough of them (ef / selectivity^0.75, measured on the
        # conformance data: recall >= 0.95 at every selectivity; never wider than the index).
        ef = max(self.p.ef_search, k)
        widened = math.ceil(ef / (n_allowed / self._live) ** 0.75)
        widened = min(widened, max(ef, self._live), 32768)
        params = self._search_params(widened, keep)
        return self._graph(q, k, min(k, n_allowed), params, keep)

    def _graph(
        self, q: F32, k: int, kk: int, params: Any, keep: npt.NDArray[np.bool_] | None,
    ) -> tuple[I64, F32]:
        """Graph search for ``kk`` of ``k`` answers; a row the graph could not fill (its live or
        allowed neighbours were too few within the search width) is answered exactly instead."""
        dist, slots = self._f.search(q, kk, params=params)
        if kk == k and slots.min() >= 0:
            return self._labels[slots], self._to_scores(dist)  # the common case, no copies
        missing = slots < 0
        out_l, out_s = _empty(len(q), k)
        short = missing.any(axis=1)
        out_l[:, :kk] = np.where(missing, -1, self._labels[: self._n][slots])
        out_s[:, :kk] = np.where(missing, -np.inf, self._to_scores(dist))
        if short.any():
            mask = self._alive[: self._n] if keep is None else keep
            out_l[short], out_s[short] = self._exact_over(
                np.flatnonzero(mask), q[short], out_l.shape[1]
            )
        return out_l, out_s

    # ---- persistence -----------------------------------------------------------------------
    def write_body(self, fh: BinaryIO) -> None:
        faiss = _faiss()
        n = self._n
        start = fh.tell()
        fh.write(_BODY.pack(n, 0))
        fh.write(np.ascontiguousarray(self._labels[:n], dtype="<i8").tobytes())
        fh.write(self._alive[:n].astype(np.uint8).tobytes())
        fh.write(b"\x00" * ((-fh.tell()) % 64))
        blob_at = fh.tell()
        faiss.write_index(self._f, faiss.PyCallbackIOWriter(fh.write))
        end = fh.tell()
        fh.seek(start)
        fh.write(_BODY.pack(n, end - blob_at))
        fh.seek(end)

    @classmethod
    def read_body(cls, fh: BinaryIO, header: IndexHeader) -> HnswIndex:
        if header.count < 0 or header.dim <= 0:
            raise IndexFileError("bad count or dim")
        try:
            idx = cls(header.dim, Metric.parse(header.metric), **header.params)
        except (InvalidArgumentError, TypeError) as exc:
            raise IndexFileError(f"bad hnsw parameters: {exc}") from None
        if header.format == 1:
            labels, alive = read_v1(fh, header, graph=idx._f, m=idx.p.M, metric=idx.metric)
            idx._labels, idx._alive = labels, alive
            idx._n, idx._live = len(labels), int(alive.sum())
            return idx
        raw = fh.read(_BODY.size)
        if len(raw) != _BODY.size:
            raise IndexFileError("truncated hnsw body")
        n, blen = _BODY.unpack(raw)
        if 9 * n + blen > remaining(fh):
            raise IndexFileError("hnsw body longer than the file (truncated)")
        raw_labels = fh.read(8 * n)
        flags = np.frombuffer(fh.read(n), dtype=np.uint8)
        if (flags > 1).any():
            raise IndexFileError("hnsw alive flags are not 0/1")
        alive = flags.astype(bool)
        labels = read_labels(raw_labels, alive)
        fh.seek((-fh.tell()) % 64, 1)
        if remaining(fh) != blen:
            raise IndexFileError("hnsw graph length does not match the file (truncated or padded)")
        faiss = _faiss()
        mapped = map_file(fh)
        if mapped is not None:
            blob = np.frombuffer(mapped, dtype=np.uint8, count=blen, offset=fh.tell())
            flags_io = faiss.IO_FLAG_MMAP_IFC
        else:
            blob = np.frombuffer(fh.read(blen), dtype=np.uint8)
            flags_io = 0
        reader = faiss.ZeroCopyIOReader(faiss.swig_ptr(blob), blen)
        try:
            f = faiss.read_index(reader, flags_io)
        except (RuntimeError, MemoryError, TypeError) as exc:
            raise IndexFileError(f"faiss could not read the hnsw graph: {exc}") from None
        if int(reader.rp_) != blen:
            raise IndexFileError("hnsw graph shorter than its recorded length")
        _check_faiss(f, n, idx)
        live = labels[alive]  # read_labels refused repeats among them
        if len(live) != header.count:
            raise IndexFileError("live slots do not match the header count")
        f.hnsw.efSearch = idx.p.ef_search
        f.hnsw.efConstruction = idx.p.ef_construction
        idx._f = f
        idx._blob = blob
        idx._labels, idx._alive = labels, alive.copy()
        idx._n, idx._live = n, len(live)
        return idx


def _check_faiss(f: Any, n: int, idx: HnswIndex) -> None:
    """Refuse a graph that does not fit its slots (faiss would search out of bounds)."""
    faiss = _faiss()
    want = faiss.METRIC_L2 if idx.metric is Metric.L2 else faiss.METRIC_INNER_PRODUCT
    if not isinstance(f, faiss.IndexHNSWFlat):
        raise IndexFileError("hnsw graph of another faiss index type")
    if int(f.d) != idx.dim or int(f.metric_type) != want or int(f.ntotal) != n:
        raise IndexFileError("hnsw graph of another dimension, metric or size")
    storage = faiss.downcast_index(f.storage)
    if (
        not isinstance(storage, faiss.IndexFlat)
        or int(storage.ntotal) != n
        or int(storage.d) != idx.dim
        or int(storage.code_size) != 4 * idx.dim
        or int(storage.codes.size()) != 4 * idx.dim * n
    ):
        raise IndexFileError("hnsw vectors do not match the graph")
    h = f.hnsw
    m = idx.p.M
    cum = faiss.vector_to_array(h.cum_nneighbor_per_level).astype(np.int64)
    if len(cum) < 2 or cum[0] != 0 or cum[1] != 2 * m or (np.diff(cum[1:]) != m).any():
        raise IndexFileError("hnsw neighbour layout not understood")
    levels = faiss.vector_to_array(h.levels).astype(np.int64)
    offsets = faiss.vector_to_array(h.offsets).astype(np.int64)
    if len(levels) != n or len(offsets) != n + 1 or offsets[0] != 0:
        raise IndexFileError("hnsw level tables of the wrong size")
    if n and (levels.min() < 1 or levels.max() >= len(cum)):
        raise IndexFileError("hnsw level out of range")
    if n and not np.array_equal(np.diff(offsets), cum[levels]):
        raise IndexFileError("hnsw neighbour offsets do not match the levels")
    if int(h.neighbors.size()) != int(offsets[-1]):
        raise IndexFileError("hnsw neighbour list of the wrong size")
    neighbors = faiss.vector_to_array(h.neighbors)
    for lo in range(0, len(neighbors), 1 << 24):
        part = neighbors[lo : lo + (1 << 24)]
        if len(part) and (part.min() < -1 or part.max() >= n):
            raise IndexFileError("hnsw link out of range")
    ep, top = int(h.entry_point), int(h.max_level)
    if n == 0:
        if ep != -1:
            raise IndexFileError("empty hnsw graph with an entry point")
    elif not 0 <= ep < n or top != levels[ep] - 1 or top != levels.max() - 1:
        raise IndexFileError("hnsw entry point out of range")


