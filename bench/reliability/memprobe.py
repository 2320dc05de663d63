"""Where does a process's memory go? Cheap readings for the soak's RSS curve (issue 13).

RSS alone cannot tell a leak from a cache filling or from the allocator keeping freed memory,
so each reading splits it: the kernel's view (``/proc/self/status``: anonymous and
file-backed resident pages), glibc's view (``mallinfo2``: bytes in use and bytes free but
kept), SQLite's own allocations (``sqlite3_status64``: page cache and statements, this
process's connections together), Python's object allocator (``sys.getallocatedblocks``) and,
for a collection, the sizes of its in-memory structures (index slots and tombstones, row
cache rows). Each costs microseconds, so the soak takes one per RSS sample.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import sys
from pathlib import Path
from typing import Any

import numpy as np


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def _lib(name: str) -> Any:
    found = ctypes.util.find_library(name)
    try:
        return ctypes.CDLL(found) if found else None
    except OSError:
        return None


_LIBC = _lib("c")
_SQLITE = _lib("sqlite3")
if _LIBC is not None and hasattr(_LIBC, "mallinfo2"):
    _LIBC.mallinfo2.restype = _Mallinfo2


def malloc_trim() -> None:
    """Give glibc's free heap pages back to the kernel (a no-op off glibc)."""
    if _LIBC is not None and hasattr(_LIBC, "malloc_trim"):
        _LIBC.malloc_trim(0)


def status_kb() -> dict[str, int]:
    """RssAnon, RssFile and RssShmem in kB (the kernel's split of resident memory)."""
    out: dict[str, int] = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            key, _, rest = line.partition(":")
            if key in ("RssAnon", "RssFile", "RssShmem", "VmRSS"):
                out[key] = int(rest.split()[0])
    return out


def malloc_kb() -> dict[str, int]:
    """glibc heap: ``used`` (allocated, incl. mmapped chunks), ``free`` (kept by the
    allocator, not returned), ``arena`` (brk/arena bytes) in kB; empty off glibc."""
    if _LIBC is None or not hasattr(_LIBC, "mallinfo2"):
        return {}
    m = _LIBC.mallinfo2()
    return {"used": (m.uordblks + m.hblkhd) // 1024, "free": m.fordblks // 1024,
            "arena": m.arena // 1024}


def sqlite_kb() -> int:
    """Bytes SQLite has allocated in this process (all connections), in kB; -1 unknown."""
    if _SQLITE is None:
        return -1
    cur, high = ctypes.c_int64(), ctypes.c_int64()
    if _SQLITE.sqlite3_status64(0, ctypes.byref(cur), ctypes.byref(high), 0) != 0:
        return -1
    return cur.value // 1024


def _handle(conn: Any) -> int:
    """The ``sqlite3 *`` of a Python connection: CPython's ``pysqlite_Connection`` keeps it as
    its first field after the object header (3.11: refcount and type, 16 bytes)."""
    return ctypes.c_void_p.from_address(id(conn) + 16).value or 0


def connection_kb(conn: Any) -> dict[str, int]:
    """One connection's page cache, schema and prepared statements (``sqlite3_db_status``),
    in kB; empty when SQLite's library is not found."""
    if _SQLITE is None or sys.version_info[:2] != (3, 11):
        return {}
    db = ctypes.c_void_p(_handle(conn))
    out = {}
    for name, op in (("cache", 1), ("schema", 2), ("stmt", 3)):
        cur, high = ctypes.c_int(), ctypes.c_int()
        if _SQLITE.sqlite3_db_status(db, op, ctypes.byref(cur), ctypes.byref(high), 0) == 0:
            out[f"sq_{name}"] = cur.value // 1024
    return out


def collection_sizes(col: Any) -> dict[str, int]:
    """In-memory structures of one collection: index slots (live + tombstones), live vectors,
    row cache rows, whether an exact index is kept beside the approximate one, its
    connection's SQLite memory, and the sizes of the database file and its WAL (the data:
    the memory map of the file is resident as the file is read)."""
    live = col.parts.live
    index = live._index  # a diagnostic: reads private fields, changes nothing
    out = {"rows": len(col.parts.rows), "exact": int(live._exact is not None)}
    if index is not None:
        out["slots"] = int(getattr(index, "_n", len(index)))
        out["live"] = len(index)
    out.update(connection_kb(col.parts.store.conn))
    db_file = Path(col.parts.db_file)
    for key, f in (("db_kb", db_file), ("wal_kb", db_file.with_name(db_file.name + "-wal"))):
        with contextlib.suppress(OSError):
            out[key] = f.stat().st_size // 1024
    return out


def reading(col: Any = None) -> dict[str, int]:
    """One reading of everything above, flat (kB unless named otherwise)."""
    out: dict[str, int] = {}
    st = status_kb()
    out["anon"], out["file"] = st.get("RssAnon", 0), st.get("RssFile", 0)
    out["vmrss"] = st.get("VmRSS", 0)
    out.update({f"malloc_{k}": v for k, v in malloc_kb().items()})
    out["sqlite"] = sqlite_kb()
    out["py_blocks"] = sys.getallocatedblocks()
    if col is not None:
        out.update(collection_sizes(col))
    return out


FIELDS = ("t_ms", "rss", "anon", "file", "malloc_used", "malloc_free", "malloc_arena", "sqlite",
          "sq_cache", "sq_schema", "sq_stmt", "py_blocks", "rows", "exact", "slots", "live",
          "acks", "db_kb", "wal_kb")


class Sampler:
    """Readings kept in one array allocated up front, so that sampling for ten minutes does
    not itself grow the process it measures (a list of dicts would: ~1 KB a sample)."""

    def __init__(self, seconds: float, every: float) -> None:
        self.every = every
        self.data = np.full((int(seconds / every) + 16, len(FIELDS)), -1, dtype=np.int64)
        self.n = 0
        self.last = -1e9

    def due(self, now: float) -> bool:
        return now - self.last >= self.every and self.n < len(self.data)

    def take(self, now: float, t: float, col: Any = None, **extra: int) -> None:
        r = reading(col)
        r.update(extra)
        r["t_ms"], r["rss"] = int(t * 1000), r.get("vmrss", 0)
        row = self.data[self.n]
        for j, key in enumerate(FIELDS):
            row[j] = r.get(key, -1)
        self.n += 1
        self.last = now

    def rows(self) -> list[tuple[float, int, int, dict[str, int]]]:
        """(seconds, RSS bytes, anonymous RSS bytes, every field) per reading."""
        out = []
        for row in self.data[: self.n].tolist():
            d = dict(zip(FIELDS, row, strict=True))
            out.append((d["t_ms"] / 1000, d["rss"] * 1024, d["anon"] * 1024, d))
        return out


def _statm_rss_kb() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4


def sqlite_high_kb(reset: bool) -> int:
    """SQLite's peak allocation since the last reset, in kB (-1 unknown)."""
    if _SQLITE is None:
        return -1
    cur, high = ctypes.c_int64(), ctypes.c_int64()
    if _SQLITE.sqlite3_status64(0, ctypes.byref(cur), ctypes.byref(high), int(reset)) != 0:
        return -1
    return high.value // 1024


class StepLog:
    """Which call grew the process (a diagnostic for the writers' one-time RSS step): around
    every call, RSS, glibc's heap size and SQLite's peak; a call that grew RSS or the heap by
    ``min_kb`` or more is written as one JSON line (what, when, before and after)."""

    def __init__(self, path: Path, min_kb: int = 256) -> None:
        self.path, self.min_kb = path, min_kb
        self.fh = open(path, "a", buffering=1)  # noqa: SIM115 (kept open for the run)
        self.before: dict[str, int] = {}

    def trace_sql(self, col: Any) -> None:
        """Also note the SQL each call runs, and write every call that ran a statement this
        process never ran before (the first time a rare code path is taken)."""
        import re
        norm = re.compile(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b|X'[0-9A-Fa-f]*'")
        self.seen: set[str] = set()
        self.sql: list[str] = []

        def note(text: str) -> None:
            self.sql.append(norm.sub("?", text)[:300])
        conns = {id(col.parts.store.conn): col.parts.store.conn}
        for c in conns.values():
            c.set_trace_callback(note)

    def start(self) -> None:
        if hasattr(self, "sql"):
            self.sql.clear()
        sqlite_high_kb(reset=True)
        m = malloc_kb()
        self.before = {"rss": _statm_rss_kb(), "arena": m.get("arena", 0),
                       "used": m.get("used", 0), "free": m.get("free", 0)}

    def stop(self, t: float, what: str, **extra: Any) -> None:
        m = malloc_kb()
        after = {"rss": _statm_rss_kb(), "arena": m.get("arena", 0), "used": m.get("used", 0),
                 "free": m.get("free", 0)}
        b = self.before
        new = []
        if hasattr(self, "sql"):
            new = sorted({q for q in self.sql if q not in self.seen})
            self.seen.update(new)
        if (after["rss"] - b["rss"] >= 4 * self.min_kb
                or abs(after["arena"] - b["arena"]) >= self.min_kb or new):
            import json
            self.fh.write(json.dumps({"t": round(t, 2), "what": what, "before": b,
                                      "after": after, "sqlite_peak": sqlite_high_kb(False),
                                      "sqlite_now": sqlite_kb(), "new_sql": new,
                                      **extra}) + "\n")
