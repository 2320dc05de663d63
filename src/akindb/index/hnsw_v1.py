"""HNSW index format 1 (hnswlib's serialised state, written by akindb before faiss), converted
on read into faiss's layout: the same graph (links, levels, entry point and vectors; no rebuild).

The collection saves the converted index as format 2 on that first open, so this module only
ever runs once per old file. Every array is checked against the element count before use, so a
damaged file is refused (``IndexFileError``: the caller rebuilds), never read out of bounds.

Its bytes: docs/format.md ("``hnsw`` body, format 1").
"""

from __future__ import annotations

import json
import struct
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

from akindb.index.base import I64, IndexFileError, IndexHeader
from akindb.index.filemap import array_at, map_file, remaining
from akindb.types import Metric

_V1_ARRAYS = (
    ("label_lookup_external", "<u8"),
    ("label_lookup_internal", "<u4"),
    ("element_levels", "<i4"),
    ("data_level0", "i1"),
    ("link_lists", "i1"),
)
_V1_SER_VERSION = 1
_BLOCK = 65536


def read_v1(
    fh: BinaryIO, header: IndexHeader, *, graph: Any, m: int, metric: Metric
) -> tuple[I64, npt.NDArray[np.bool_]]:
    """Read a format-1 body into ``graph`` (an empty faiss ``IndexHNSWFlat`` made with link
    count ``m``); returns each slot's label and whether it is alive (not a tombstone)."""
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
    space = "l2" if metric is Metric.L2 else "ip"
    if state.get("ser_version") != _V1_SER_VERSION or state.get("space") != space:
        raise IndexFileError("hnsw state of another version or space")
    if state.get("dim") != header.dim:
        raise IndexFileError("hnsw state of another dimension")
    mapped = map_file(fh, populate=True)
    for name, dtype in _V1_ARRAYS:
        head = fh.read(8)
        if len(head) != 8:
            raise IndexFileError("truncated hnsw body")
        (nbytes,) = struct.unpack("<Q", head)
        item = np.dtype(dtype).itemsize
        if nbytes % item or nbytes > remaining(fh):
            raise IndexFileError(f"bad length of {name}")
        state[name] = array_at(fh, mapped, nbytes, dtype, name)
    head = fh.read(8)
    if len(head) != 8:
        raise IndexFileError("truncated tombstone list")
    (ndead,) = struct.unpack("<Q", head)
    if 8 * ndead > remaining(fh):
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
    if int(state.get("max_M0", -1)) != 2 * m or int(state.get("max_M", -1)) != m:
        raise IndexFileError("hnsw link counts differ from the parameters")
    _check_graph(state, n)
    internal = state["label_lookup_internal"].astype(np.int64)
    if len(internal) != n or not _is_permutation(internal):
        raise IndexFileError("hnsw label table is not a permutation")
    labels = np.empty(n, dtype=np.int64)
    labels[internal] = ext.astype(np.int64)
    if n and int(labels.min()) < 0:
        raise IndexFileError("negative label in the index file (damaged)")
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
    _graph_into(graph, state, n, m, header.dim)
    return labels, alive


def _graph_into(f: Any, state: dict[str, Any], n: int, m: int, dim: int) -> None:
    """Copy hnswlib's vectors and links (checked by ``_check_graph``) into the faiss graph ``f``.

    hnswlib keeps, per element, a level-0 row ``[count, 2M links, vector, label]`` and for each
    upper level ``l`` a block ``[count, M links]``; faiss keeps one neighbour array where
    element ``i`` owns ``offsets[i] .. offsets[i+1]``: level 0's 2M slots, then M per upper
    level, unused ones -1. Element numbers are the same in both.
    """
    if n == 0:
        return
    import faiss  # the caller made the graph, so the extra is installed

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
