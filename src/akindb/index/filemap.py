"""Reading index files through a memory map: map the whole file, view an array inside it, and
how many bytes are left (so a corrupt length never allocates more than the file holds).

Used by the HNSW index (its format-2 graph is searched straight from the map, zero-copy) and by
its format-1 converter.
"""

from __future__ import annotations

import mmap
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

from akindb.index.base import IndexFileError


def map_file(fh: BinaryIO, *, populate: bool = False) -> mmap.mmap | None:
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


def array_at(
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


def remaining(fh: BinaryIO) -> int:
    """Bytes left in ``fh`` (so a corrupt length never allocates more than the file holds)."""
    try:
        pos = fh.tell()
        end = fh.seek(0, 2)
        fh.seek(pos)
        return int(end - pos)
    except (OSError, ValueError):
        return 1 << 40
