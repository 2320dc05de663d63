"""HNSW (hierarchical navigable small-world graph) from hnswlib, behind ``VectorIndex``.

The engine was chosen by ``bench/ann.py`` (see docs/benchmarks.md, "ANN indexes"): on real
MiniLM vectors hnswlib answered more queries per second at recall@10 >= 0.95 than faiss's
HNSW and usearch, single query and batch. hnswlib is imported only when an HNSW index is made
(``pip install 'akindb[ann]'``).

Metrics: cosine runs on unit-normalised vectors in hnswlib's inner-product space (score =
cosine), dot in the same space (score = dot), l2 in its squared-L2 space (score = -distance).

Deletes are tombstones (hnswlib ``mark_deleted``): the graph still routes through them, they
never come back as answers, and ``deleted_fraction`` says how much of the index they hold.
``compact()`` rebuilds from the live vectors, returning their memory (``Collection.compact``
also does this automatically past a threshold).

Filters: see ``akindb.index.approx``. A selective filter is answered exactly over the allowed
vectors; otherwise hnswlib's filter predicate runs inside the graph search, which keeps
looking until ``ef`` allowed neighbours are found, with a search width widened for rarer
filters.

Body format (little-endian), after the envelope: a u32 length and a JSON object (hnswlib's
scalar state: ``ser_version``, ``space``, ``cur_element_count``, sizes, entry point, ...), then
each array of hnswlib's state as ``name`` in JSON order ``label_lookup_external`` u64,
``label_lookup_internal`` u32, ``element_levels`` i32, ``data_level0`` i8, ``link_lists`` i8,
each preceded by its u64 byte length, then our tombstone list (u64 count, i64 labels). The
state layout is hnswlib's ``ser_version`` 1; another version is reported and rebuilt.
"""

from __future__ import annotations

import json
import math
import mmap
import struct
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar

import numpy as np
import numpy.typing as npt

from akindb.errors import InvalidArgumentError, MissingExtraError
from akindb.index.approx import ApproxIndex, DictParams, check_range, exact_search
from akindb.index.base import F32, I64, IndexFileError, IndexHeader
from akindb.types import Metric

if TYPE_CHECKING:
    import hnswlib

_ARRAYS = (
    ("label_lookup_external", "<u8"),
    ("label_lookup_internal", "<u4"),
    ("element_levels", "<i4"),
    ("data_level0", "i1"),
    ("link_lists", "i1"),
)
_SER_VERSION = 1
_MIN_CAPACITY = 1024


def _hnswlib() -> Any:
    try:
        import hnswlib
    except ImportError:
        raise MissingExtraError("ann", "the 'hnsw' index") from None
    return hnswlib


@dataclass(frozen=True, slots=True)
class HnswParams(DictParams):
    """HNSW knobs, each a trade-off.

    * ``M`` (2-100, default 16): links per node. Higher M raises the recall reachable at a given
      ``ef_search`` and helps high-dimensional or clustered data; costs memory
      (about ``8 * M`` bytes per vector on top of the ``4 * dim`` of the vector) and build time,
      and each query step reads more links. Fixed at build: changing it rebuilds the index.
    * ``ef_construction`` (M-4096, default 200): candidates kept while inserting. Higher builds a
      better graph (more recall at the same ``ef_search``); costs build/insert time roughly
      linearly, no memory. Fixed at build: changing it rebuilds the index.
    * ``ef_search`` (1-32768, default 40): candidates kept while searching (at least ``k`` is
      used). Higher raises recall; costs query time roughly linearly, no memory. Changeable any
      time (``Collection.tune`` picks the smallest value that meets a recall target).
    * ``seed`` (default 100): the level generator; the same data in the same order builds the
      same graph.
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


class HnswIndex(ApproxIndex):
    """hnswlib's HNSW graph with tombstones, filters and our persistence envelope."""

    kind = "hnsw"
    knob = "ef_search"
    params_cls = HnswParams
    build_params = ("M", "ef_construction", "seed")

    @classmethod
    def require(cls) -> None:
        _hnswlib()

    def __init__(self, dim: int, metric: Metric, **params: Any) -> None:
        super().__init__(dim, metric)
        self.p = HnswParams.from_dict(params)
        lib = _hnswlib()
        self._space = "l2" if metric is Metric.L2 else "ip"
        self._h: hnswlib.Index = lib.Index(space=self._space, dim=dim)
        self._h.init_index(
            max_elements=_MIN_CAPACITY, M=self.p.M, ef_construction=self.p.ef_construction,
            random_seed=self.p.seed,
        )
        self._h.set_ef(self.p.ef_search)
        # Our own bookkeeping: hnswlib labels in insertion order, and which are tombstoned.
        self._labels: I64 = np.zeros(0, dtype=np.int64)
        self._alive = np.zeros(0, dtype=bool)
        self._n = 0
        self._live = 0

    # ---- knob ------------------------------------------------------------------------------
    def params(self) -> dict[str, Any]:
        return asdict(self.p)

    def knob_value(self) -> int:
        return self.p.ef_search

    def set_knob(self, value: int) -> None:
        self.p = HnswParams(**{**asdict(self.p), "ef_search": value})
        self._h.set_ef(value)

    def knob_sweep(self, k: int) -> list[int]:
        base = [10, 16, 24, 32, 40, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 2048]
        return sorted({max(v, k) for v in base})

    # ---- writes ----------------------------------------------------------------------------
    def add(self, labels: I64, vectors: F32) -> None:
        m = len(labels)
        if m == 0:
            return
        labels = np.asarray(labels, dtype=np.int64)
        # A label tombstoned earlier and added again: hnswlib revives and updates it in place.
        again = np.isin(labels, self._labels[: self._n])
        fresh = labels[~again]
        need = self._h.get_current_count() + len(fresh)
        cap = self._h.get_max_elements()
        if need > cap:
            self._h.resize_index(max(need, int(cap * 1.5)))
        if need > len(self._labels):
            grow = max(need, int(len(self._labels) * 1.5) + _MIN_CAPACITY)
            labs = np.empty(grow, dtype=np.int64)
            alive = np.zeros(grow, dtype=bool)
            labs[: self._n] = self._labels[: self._n]
            alive[: self._n] = self._alive[: self._n]
            self._labels, self._alive = labs, alive
        self._h.add_items(np.ascontiguousarray(vectors, dtype=np.float32), labels, num_threads=-1)
        if again.any():
            rows = np.flatnonzero(np.isin(self._labels[: self._n], labels[again]))
            self._live += int((~self._alive[rows]).sum())
            self._alive[rows] = True
        self._labels[self._n : self._n + len(fresh)] = fresh
        self._alive[self._n : self._n + len(fresh)] = True
        self._n += len(fresh)
        self._live += len(fresh)

    def remove(self, labels: I64) -> None:
        if len(labels) == 0 or self._live == 0:
            return
        rows = np.flatnonzero(np.isin(self._labels[: self._n], labels) & self._alive[: self._n])
        for lab in self._labels[rows].tolist():
            self._h.mark_deleted(lab)
        self._alive[rows] = False
        self._live -= len(rows)

    def vectors_of(self, labels: I64) -> F32:
        """Stored (for cosine: normalised) vectors of live labels, in the given order."""
        if len(labels) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = self._h.get_items(np.asarray(labels, dtype=np.int64), return_type="numpy")
        return np.ascontiguousarray(out, dtype=np.float32)

    def compact(self) -> None:
        """Rebuild from the live vectors so tombstones stop costing memory and search time."""
        if self.deleted_count() == 0:
            return
        labels = self.labels()
        vecs = self.vectors_of(labels)
        fresh = HnswIndex(self.dim, self.metric, **asdict(self.p))
        fresh.add(labels, vecs)
        self.__dict__.update(fresh.__dict__)

    # ---- search ----------------------------------------------------------------------------
    def _to_scores(self, dist: F32) -> F32:
        if self.metric is Metric.L2:
            return -np.sqrt(np.maximum(dist, 0.0)).astype(np.float32)
        return (1.0 - dist).astype(np.float32)

    def search(self, queries: F32, k: int, allowed: I64 | None = None) -> tuple[I64, F32]:
        nq = len(queries)
        k = max(int(k), 0)
        out_l = np.full((nq, k), -1, dtype=np.int64)
        out_s = np.full((nq, k), -np.inf, dtype=np.float32)
        if self._live == 0 or k == 0 or nq == 0:
            return out_l, out_s
        q = np.ascontiguousarray(queries, dtype=np.float32)
        if allowed is None:
            kk = min(k, self._live)
            labels, dist = self._h.knn_query(q, k=kk, num_threads=-1)
            out_l[:, :kk] = labels.astype(np.int64)
            out_s[:, :kk] = self._to_scores(dist)
            return out_l, out_s
        keep = np.isin(self._labels[: self._n], allowed) & self._alive[: self._n]
        live_allowed = self._labels[: self._n][keep]
        if self.use_exact(len(live_allowed), self._live):
            return exact_search(self.vectors_of(live_allowed), live_allowed, q, k, self.metric)
        return self._filtered(q, k, live_allowed, out_l, out_s)

    def _filtered(
        self, q: F32, k: int, live_allowed: I64, out_l: I64, out_s: F32
    ) -> tuple[I64, F32]:
        """Graph search with hnswlib's filter predicate and a width widened for rare filters."""
        allowed_set = set(live_allowed.tolist())
        selectivity = len(live_allowed) / self._live
        ef = max(self.p.ef_search, k)
        widened = min(math.ceil(ef / math.sqrt(selectivity)), max(4 * ef, 512))
        kk = min(k, len(live_allowed))
        self._h.set_ef(widened)
        try:
            labels, dist = self._h.knn_query(
                q, k=kk, num_threads=1, filter=allowed_set.__contains__
            )
        except RuntimeError:
            # hnswlib could not gather kk answers through the filter: answer exactly instead.
            return exact_search(self.vectors_of(live_allowed), live_allowed, q, k, self.metric)
        finally:
            self._h.set_ef(self.p.ef_search)
        out_l[:, :kk] = labels.astype(np.int64)
        out_s[:, :kk] = self._to_scores(dist)
        return out_l, out_s

    # ---- persistence -----------------------------------------------------------------------
    def write_body(self, fh: BinaryIO) -> None:
        state = dict(self._h.__getstate__()[0])
        arrays = {name: state.pop(name) for name, _ in _ARRAYS}
        blob = json.dumps(state, sort_keys=True).encode("utf-8")
        fh.write(struct.pack("<I", len(blob)))
        fh.write(blob)
        for name, dtype in _ARRAYS:
            raw = np.ascontiguousarray(arrays[name], dtype=dtype).tobytes()
            fh.write(struct.pack("<Q", len(raw)))
            fh.write(raw)
        dead = self._labels[: self._n][~self._alive[: self._n]]
        fh.write(struct.pack("<Q", len(dead)))
        fh.write(np.ascontiguousarray(dead, dtype="<i8").tobytes())

    @classmethod
    def read_body(cls, fh: BinaryIO, header: IndexHeader) -> HnswIndex:
        if header.count < 0 or header.dim <= 0:
            raise IndexFileError("bad count or dim")
        try:
            idx = cls(header.dim, Metric.parse(header.metric), **header.params)
        except (InvalidArgumentError, TypeError) as exc:
            raise IndexFileError(f"bad hnsw parameters: {exc}") from None
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
        if state.get("ser_version") != _SER_VERSION or state.get("space") != idx._space:
            raise IndexFileError("hnsw state of another version or space")
        if state.get("dim") != header.dim:
            raise IndexFileError("hnsw state of another dimension")
        mapped = _map_file(fh)
        for name, dtype in _ARRAYS:
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
        _check_graph(state, n)
        internal = state["label_lookup_internal"].astype(np.int64)
        if len(internal) != n or not _is_permutation(internal):
            raise IndexFileError("hnsw label table is not a permutation")
        idx_labels = np.empty(n, dtype=np.int64)
        idx_labels[internal] = ext.astype(np.int64)
        ordered = np.sort(idx_labels)
        if n > 1 and (ordered[1:] == ordered[:-1]).any():
            raise IndexFileError("hnsw labels repeat")
        dead = np.frombuffer(dead_raw, dtype="<i8").astype(np.int64)
        if n:
            size, lo = int(state["size_data_per_element"]), int(state["label_offset"])
            if not 0 <= lo <= size - 8:
                raise IndexFileError("hnsw label offset out of range")
            rows = state["data_level0"].reshape(n, size)
            stored = np.ascontiguousarray(rows[:, lo : lo + 8]).view("<u8").ravel()
            if not np.array_equal(stored.astype(np.int64), idx_labels):
                raise IndexFileError("hnsw labels in the graph differ from its label table")
            flagged = (rows[:, 2].view(np.uint8) & 1).astype(bool)
            is_dead = np.isin(idx_labels, dead) if len(dead) else np.zeros(n, dtype=bool)
            if not np.array_equal(flagged, is_dead):
                raise IndexFileError("hnsw deleted marks differ from the tombstone list")
        state["num_threads"] = 1
        state["ef"] = idx.p.ef_search
        try:
            h = _hnswlib().Index(state)
        except (RuntimeError, ValueError, TypeError) as exc:
            raise IndexFileError(f"hnswlib refused the state: {exc}") from None
        # Rows in hnswlib's internal order, so _labels matches the graph's insertion order.
        labels = idx_labels
        idx._h = h
        idx._labels = labels
        idx._alive = ~np.isin(labels, dead)
        idx._n = n
        idx._live = int(idx._alive.sum())
        if idx._live != header.count:
            raise IndexFileError("tombstones do not match the header")
        h.set_ef(idx.p.ef_search)
        return idx


def _map_file(fh: BinaryIO) -> mmap.mmap | None:
    """The whole file memory-mapped read-only and pre-faulted, or None for a non-file stream.

    hnswlib copies the arrays into its own memory when it takes the state, so reading them
    into numpy first would copy a 1M-vector graph (1.7 GB) twice; from the map it is copied
    once, straight from the page cache (measured: the cold-open goal, docs/benchmarks.md).
    """
    try:
        fileno = fh.fileno()
    except (OSError, AttributeError, ValueError):
        return None
    flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
    try:
        return mmap.mmap(fileno, 0, flags=flags, prot=mmap.PROT_READ)
    except (OSError, ValueError):
        return None


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
