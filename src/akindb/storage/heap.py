"""Give memory back after a VACUUM, so a long-running process stays the size it was.

A VACUUM rewrites the whole database through the connection that runs it: SQLite's page cache
fills with the new file's pages (up to ``sqlite.CACHE_KIB``) and its temporary buffers grow
glibc's heap by several MB. Found by the 10-minute soak (issue 13, session 8): a writer whose
``delete`` triggered the automatic VACUUM (``maintenance.maybe_vacuum``) grew by ~4.5 MB once
and stayed there (2.4 MB still in SQLite's page cache, 2.5 MB free but kept by glibc, in the
middle of the heap where glibc's automatic trim never reaches). VACUUM is rare and costs tens of
milliseconds to seconds, so two cheap calls after it are worth it:

- ``PRAGMA shrink_memory`` frees the connection's unused page-cache pages (they would be read
  again from the memory-mapped file on demand, at no system call);
- glibc's ``malloc_trim(0)`` returns free heap pages, including those in the middle of the heap,
  to the kernel (a no-op where the C library is not glibc).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from functools import cache


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None (musl, macOS, Windows: nothing to call). ``ctypes``
    is imported here, on the first VACUUM, not with the module: ``ctypes.util`` costs ~2 ms
    of every cold ``akindb search`` (issue 14's cold CLI)."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    fn = getattr(libc, "malloc_trim", None)
    if fn is None:
        return None
    fn.argtypes, fn.restype = [ctypes.c_size_t], ctypes.c_int
    return fn  # type: ignore[no-any-return]


def give_back(conn: sqlite3.Connection) -> None:
    """Free ``conn``'s unused page cache and return free heap pages to the kernel."""
    conn.execute("PRAGMA shrink_memory")
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
