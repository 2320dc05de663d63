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
graph is converted to faiss's layout (links, levels, entry point and vectors; no rebuild) and
the collection saves it as format 2 on that first open.
"""

from __future__ import annotations

import json
import math
import mmap
import struct
from dataclasses import asdict, dataclass
from typing import Any, BinaryIO, ClassVar

import numpy as np
import numpy.typing as npt

from akindb.errors import InvalidArgumentError, MissingExtraError
from akindb.index.approx import ApproxIndex, DictParams, check_range, exact_search
from akindb.index.base import F32, I64, IndexFileError, IndexHeader
from akindb.types import Metric

_V1_ARRAYS = (
    ("label_lookup_external", "<u8"),
    ("label_lookup_internal", "<u4"),
    ("element_levels", "<i4"),
    ("data_level0", "i1"),
    ("link_lists", "i1"),
)
_V1_SER_VERSION = 1
_BODY = struct.Struct("<QQ")
_BLOCK = 65536


def _faiss() -> Any:
    try:
        import faiss
    except ImportError:
        raise MissingExtraError("ann", "the 'hnsw' index") from None
    return faiss


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

        f = faiss.read_index(faiss.PyCallbackIOReader(read, 1 << 24))
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
        k = max(int(k), 0)
        out_l = np.full((nq, k), -1, dtype=np.int64)
        out_s = np.full((nq, k), -np.inf, dtype=np.float32)
        if self._live == 0 or k == 0 or nq == 0:
            return out_l, out_s
        q = np.ascontiguousarray(queries, dtype=np.float32)
        n = self._n
        if allowed is None:
            if self._live == n:
                params = None
            else:
                if self._live_params is None:
                    self._live_params = self._search_params(self.p.ef_search, self._alive[:n])
                params = self._live_params
            return self._graph(q, min(k, self._live), params, None, out_l, out_s)
        keep = np.isin(self._labels[:n], allowed) & self._alive[:n]
        n_allowed = int(keep.sum())
        if n_allowed == 0:
            return out_l, out_s
        if self.use_exact(n_allowed, self._live):
            return self._exact_over(np.flatnonzero(keep), q, k)
        # faiss walks the whole graph but keeps only allowed slots: the rarer they are, the
        # wider the walk must be to meet enough of them (ef / selectivity^0.75, measured on the
        # conformance data: recall >= 0.95 at every selectivity; never wider than the index).
        ef = max(self.p.ef_search, k)
        widened = math.ceil(ef / (n_allowed / self._live) ** 0.75)
        widened = min(widened, max(ef, self._live), 32768)
        params = self._search_params(widened, keep)
        return self._graph(q, min(k, n_allowed), params, keep, out_l, out_s)

    def _graph(
        self, q: F32, kk: int, params: Any, keep: npt.NDArray[np.bool_] | None,
        out_l: I64, out_s: F32,
    ) -> tuple[I64, F32]:
        """Graph search for ``kk`` answers; a row the graph could not fill (its live or allowed
        neighbours were too few within the search width) is answered exactly instead."""
        dist, slots = self._f.search(q, kk, params=params)
        missing = slots < 0
        if not missing.any() and kk == out_l.shape[1]:
            return self._labels[slots], self._to_scores(dist)  # the common case, no copies
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
            _read_v1(idx, fh, header)
            return idx
        raw = fh.read(_BODY.size)
        if len(raw) != _BODY.size:
            raise IndexFileError("truncated hnsw body")
        n, blen = _BODY.unpack(raw)
        if 9 * n + blen > _remaining(fh):
            raise IndexFileError("hnsw body longer than the file (truncated)")
        labels = np.frombuffer(fh.read(8 * n), dtype="<i8").astype(np.int64)
        flags = np.frombuffer(fh.read(n), dtype=np.uint8)
        if (flags > 1).any():
            raise IndexFileError("hnsw alive flags are not 0/1")
        alive = flags.astype(bool)
        fh.seek((-fh.tell()) % 64, 1)
        if _remaining(fh) != blen:
            raise IndexFileError("hnsw graph length does not match the file (truncated or padded)")
        faiss = _faiss()
        mapped = _map_file(fh)
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
        live = labels[alive]
        ordered = np.sort(live)
        if len(ordered) > 1 and (ordered[1:] == ordered[:-1]).any():
            raise IndexFileError("hnsw live labels repeat")
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


def _read_v1(idx: HnswIndex, fh: BinaryIO, header: IndexHeader) -> None:
    """Read format 1 (hnswlib's state) into ``idx``: the same graph in faiss's layout."""
    raw = fh.read(4)
    if len(raw) != 4:
        raise IndexFileError("truncated hnsw body")
    (blen,) = struct.unpack("<I", raw)
    if blen > 1 << 20:
        raise IndexFileError("implausible hnsw state length")
    try:
        state: dict[str, Any] = json.loads(fh.read(blen).decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise IndexFileError("unreadable hnsw state") from None
    space = "l2" if idx.metric is Metric.L2 else "ip"
    if state.get("ser_version") != _V1_SER_VERSION or state.get("space") != space:
        raise IndexFileError("hnsw state of another version or space")
    if state.get("dim") != header.dim:
        raise IndexFileError("hnsw state of another dimension")
    mapped = _map_file(fh, populate=True)
    for name, dtype in _V1_ARRAYS:
        head = fh.read(8)
        if len(head) != 8:
            raise IndexFileError("truncated hnsw body")
        (nbytes,) = struct.unpack("<Q", head)
        item = np.dtype(dtype).itemsize
        if nbytes % item or nbytes > _remaining(fh):
            raise IndexFileError(f"bad length of {name}")
        state[name] = _array_at(fh, mapped, nbytes, dtype, name)
    head = fh.read(8)
    if len(head) != 8:
        raise IndexFileError("truncated tombstone list")
    (ndead,) = struct.unpack("<Q", head)
    if 8 * ndead > _remaining(fh):
        raise IndexFileError("bad tombstone count")
    dead_raw = fh.read(8 * ndead)
    if len(dead_raw) != 8 * ndead or fh.read(1):
        raise IndexFileError("body length does not match (truncated or padded)")
    n = int(state.get("cur_element_count", -1))
    ext = state["label_lookup_external"]
    if n != len(ext) or n - ndead != header.count or n > int(state.get("max_elements", 0)):
        raise IndexFileError("hnsw element counts do not match the header")
    if len(state["data_level0"]) != n * int(state.get("size_data_per_element", -1)):
        raise IndexFileError("hnsw level-0 data of the wrong size")
    if len(state["element_levels"]) != int(state["max_elements"]):
        raise IndexFileError("hnsw level table of the wrong size")
    if int(state.get("max_M0", -1)) != 2 * idx.p.M or int(state.get("max_M", -1)) != idx.p.M:
        raise IndexFileError("hnsw link counts differ from the parameters")
    _check_graph(state, n)
    internal = state["label_lookup_internal"].astype(np.int64)
    if len(internal) != n or not _is_permutation(internal):
        raise IndexFileError("hnsw label table is not a permutation")
    labels = np.empty(n, dtype=np.int64)
    labels[internal] = ext.astype(np.int64)
    ordered = np.sort(labels)
    if n > 1 and (ordered[1:] == ordered[:-1]).any():
        raise IndexFileError("hnsw labels repeat")
    dead = np.frombuffer(dead_raw, dtype="<i8").astype(np.int64)
    is_dead = np.isin(labels, dead) if len(dead) else np.zeros(n, dtype=bool)
    size, lo = int(state["size_data_per_element"]), int(state["label_offset"])
    od = int(state["offset_data"])
    if n:
        if not od + 4 * header.dim <= lo <= size - 8:
            raise IndexFileError("hnsw label offset out of range")
        rows = state["data_level0"].reshape(n, size)
        stored = np.ascontiguousarray(rows[:, lo : lo + 8]).view("<u8").ravel()
        if not np.array_equal(stored.astype(np.int64), labels):
            raise IndexFileError("hnsw labels in the graph differ from its label table")
        flagged = (rows[:, 2].view(np.uint8) & 1).astype(bool)
        if not np.array_equal(flagged, is_dead):
            raise IndexFileError("hnsw deleted marks differ from the tombstone list")
    alive = ~is_dead
    if int(alive.sum()) != header.count:
        raise IndexFileError("tombstones do not match the header")
    _v1_graph_into(idx, state, n)
    idx._labels, idx._alive = labels, alive
    idx._n, idx._live = n, int(alive.sum())


def _v1_graph_into(idx: HnswIndex, state: dict[str, Any], n: int) -> None:
    """Copy hnswlib's vectors and links (checked by ``_check_graph``) into ``idx._f``.

    hnswlib keeps, per element, a level-0 row ``[count, 2M links, vector, label]`` and for each
    upper level ``l`` a block ``[count, M links]``; faiss keeps one neighbour array where
    element ``i`` owns ``offsets[i] .. offsets[i+1]``: level 0's 2M slots, then M per upper
    level, unused ones -1. Element numbers are the same in both.
    """
    if n == 0:
        return
    faiss = _faiss()
    f, m, dim = idx._f, idx.p.M, idx.dim
    size, od = int(state["size_data_per_element"]), int(state["offset_data"])
    words = state["data_level0"].view("<u4").reshape(n, size // 4)
    vecs = np.ascontiguousarray(words[:, od // 4 : od // 4 + dim]).view("<f4")
    faiss.downcast_index(f.storage).add(np.ascontiguousarray(vecs, dtype=np.float32))
    f.ntotal = n
    lv = state["element_levels"][:n].astype(np.int64)
    cum_vec = f.hnsw.cum_nneighbor_per_level
    while cum_vec.size() <= int(lv.max()) + 1:
        cum_vec.push_back(int(cum_vec.at(cum_vec.size() - 1)) + m)
    cum = faiss.vector_to_array(cum_vec).astype(np.int64)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(cum[lv + 1], out=offsets[1:])
    neighbors = np.full(int(offsets[-1]), -1, dtype=np.int32)
    slot0 = np.arange(2 * m)
    for lo in range(0, n, _BLOCK):
        part = words[lo : lo + _BLOCK]
        used = slot0[None, :] < (part[:, 0] & 0xFFFF)[:, None]
        dest = offsets[lo : lo + len(part), None] + slot0[None, :]
        neighbors[dest[used]] = part[:, 1 : 2 * m + 1][used].astype(np.int32)
    upper = np.flatnonzero(lv > 0)
    if len(upper):
        blocks = state["link_lists"].view("<u4").reshape(-1, m + 1)
        owner = np.repeat(upper, lv[upper])
        first = np.repeat(np.cumsum(lv[upper]) - lv[upper], lv[upper])
        level = np.arange(len(owner)) - first + 1
        slot = np.arange(m)
        used = slot[None, :] < (blocks[:, 0] & 0xFFFF)[:, None]
        dest = (offsets[owner] + cum[level])[:, None] + slot[None, :]
        neighbors[dest[used]] = blocks[:, 1:][used].astype(np.int32)
    faiss.copy_array_to_vector((lv + 1).astype(np.int32), f.hnsw.levels)
    faiss.copy_array_to_vector(offsets.astype(np.uint64), f.hnsw.offsets)
    faiss.copy_array_to_vector(neighbors, f.hnsw.neighbors)
    f.hnsw.entry_point = int(state["enterpoint_node"])
    f.hnsw.max_level = int(state["max_level"])


def _map_file(fh: BinaryIO, *, populate: bool = False) -> mmap.mmap | None:
    """The whole file memory-mapped read-only, or None for a non-file stream.

    Format 2 searches its vectors straight from this map (zero-copy): only the pages a query
    touches are faulted in, and the kernel is asked to read the rest ahead in the background.
    Format 1 is converted from it, so it is pre-faulted in one go (``populate``).
    """
    try:
        fileno = fh.fileno()
    except (OSError, AttributeError, ValueError):
        return None
    try:
        flags = mmap.MAP_SHARED | (getattr(mmap, "MAP_POPULATE", 0) if populate else 0)
        mapped = mmap.mmap(fileno, 0, flags=flags, prot=mmap.PROT_READ)
    except (OSError, ValueError, AttributeError, TypeError):
        return None  # no POSIX mmap here (or an empty file): the caller reads instead
    if not populate and hasattr(mapped, "madvise") and hasattr(mmap, "MADV_WILLNEED"):
        mapped.madvise(mmap.MADV_WILLNEED)
    return mapped


def _array_at(
    fh: BinaryIO, mapped: mmap.mmap | None, nbytes: int, dtype: str, name: str
) -> npt.NDArray[Any]:
    """``nbytes`` of ``dtype`` at the stream position (a view of the map when there is one);
    the stream moves past them."""
    item = np.dtype(dtype).itemsize
    pos = fh.tell()
    if mapped is not None:
        if pos + nbytes > len(mapped):
            raise IndexFileError(f"truncated {name}")
        fh.seek(pos + nbytes)
        return np.frombuffer(mapped, dtype=dtype, count=nbytes // item, offset=pos)
    arr = np.empty(nbytes // item, dtype=np.dtype(dtype).newbyteorder("="))
    if fh.readinto(arr.view(np.uint8).data) != nbytes:  # type: ignore[attr-defined]
        raise IndexFileError(f"truncated {name}")
    return arr


def _is_permutation(values: I64) -> bool:
    """Whether ``values`` holds each of ``0 .. len-1`` exactly once (O(n), no sort)."""
    n = len(values)
    if n == 0:
        return True
    if values.min() < 0 or values.max() >= n:
        return False
    seen = np.zeros(n, dtype=bool)
    seen[values] = True
    return bool(seen.all())


def _remaining(fh: BinaryIO) -> int:
    """Bytes left in ``fh`` (so a corrupt length never allocates more than the file holds)."""
    try:
        pos = fh.tell()
        end = fh.seek(0, 2)
        fh.seek(pos)
        return int(end - pos)
    except (OSError, ValueError):
        return 1 << 40


def _check_graph(state: dict[str, Any], n: int) -> None:
    """Refuse a graph whose links point outside it (hnswlib would read out of bounds)."""
    size = int(state["size_data_per_element"])
    max_m0 = int(state["max_M0"])
    if int(state["offset_data"]) != 4 * (max_m0 + 1) or size % 4:
        raise IndexFileError("hnsw level-0 layout not understood")
    if n == 0:
        return
    words = state["data_level0"].view("<u4").reshape(n, size // 4)
    counts = words[:, 0] & 0xFFFF
    if (counts > max_m0).any():
        raise IndexFileError("hnsw level-0 link count out of range")
    # In blocks of rows, without gathering the used links into a copy (1M rows: ~0.1 s).
    slot = np.arange(max_m0)[None, :]
    for lo in range(0, n, 65536):
        links = words[lo : lo + 65536, 1 : max_m0 + 1]
        used = slot < counts[lo : lo + 65536, None]
        if ((links >= n) & used).any():
            raise IndexFileError("hnsw level-0 link out of range")
    if state["element_levels"][n:].any():
        raise IndexFileError("hnsw levels set beyond the element count")
    levels = state["element_levels"][:n].astype(np.int64)
    max_level = int(state["max_level"])
    if (levels < 0).any() or (levels > max_level).any():
        raise IndexFileError("hnsw element level out of range")
    upper = levels[levels > 0]
    want = int(upper.sum()) * int(state["size_links_per_element"])
    if want != len(state["link_lists"]):
        raise IndexFileError("hnsw upper-level links of the wrong size")
    max_m = int(state["max_M"])
    if int(state["size_links_per_element"]) != 4 * (max_m + 1):
        raise IndexFileError("hnsw upper-level layout not understood")
    blocks = state["link_lists"].view("<u4").reshape(-1, max_m + 1)
    ucounts = blocks[:, 0] & 0xFFFF
    uused = np.arange(max_m)[None, :] < ucounts[:, None]
    if (ucounts > max_m).any() or (blocks[:, 1:][uused] >= n).any():
        raise IndexFileError("hnsw upper-level link out of range")
    if not 0 <= int(state["enterpoint_node"]) < n:
        raise IndexFileError("hnsw entry point out of range")
