"""Has any connection, in any process, committed to the database since we last looked?

Every search reads the operations log's head (``CollectionStore.head_seq``) to learn whether
another process or thread wrote since the index was caught up. As a SQL statement that costs
a read transaction: SQLite takes and drops shared-memory read locks (``fcntl`` system calls)
and walks the log's B-tree, 5-8 µs on a quiet machine and 20-40 µs on a busy one, which is
10-15 % of a whole HNSW search (issue 14). Nearly always the answer is "nothing changed".

SQLite knows that answer already: in WAL mode the first 48 bytes of the ``-shm`` file are the
WAL-index header (https://www.sqlite.org/walformat.html, "the WAL-index header"), which the
committing connection rewrites on **every** commit (``iChange`` is a per-transaction counter;
``mxFrame``, salts and checksums move with it), whichever connection or process commits,
and which a checkpoint that restarts the log rewrites too. Reading it is a 48-byte copy out
of a read-only map of the file's first page (a ``pread`` where no map can be made). The rule
built on it is one-sided: a header equal to the one seen before the last head query means no
commit since, so the head read then is still the head; any difference, however harmless (a
checkpoint, a write to another collection), only costs one real query.

Why it stays right:

* the header bytes are read **before** the head query they vouch for, so a commit that lands
  between the two makes the next look differ, never the other way round;
* SQLite writes the header after the commit's frames and copy 0 (read here) last, and a
  committing call returns only after that: a commit acknowledged to anyone is visible;
* inside a transaction on our own connection (a write, or ``read_snapshot``), the header says
  nothing about our own uncommitted changes: ``CollectionStore.head_seq`` then always queries;
* the ``-shm`` file is never truncated or replaced while a connection (ours) has the database
  open (SQLite reinitialises it only when no connection holds its dead-man-switch lock), and
  even then it is cut to 3 bytes, not 0: the mapped first page stays inside the file, so
  reading the map cannot fault (a page wholly past the end of a file would);
* where the header cannot be read or is not in the documented format (no WAL, a read-only
  open, another SQLite version's layout), ``stamp()`` returns None and every head read is a
  query, as before.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import sys
import weakref
from pathlib import Path

HEADER_BYTES = 48
"""One copy of the WAL-index header (``WalIndexHdr``)."""
_WAL_INDEX_VERSION = 3007000
"""``iVersion`` of the WAL-index header format (unchanged since SQLite 3.7.0)."""


class CommitWatch:
    """Reads the WAL-index header of one database file (``stamp``); one per connection."""

    def __init__(self, db_file: Path) -> None:
        self._fd = -1
        self.header_map: mmap.mmap | None = None
        """The read-only map ``stamp`` reads (None: ``pread``, or no watch). Public for
        ``CollectionStore.header_map``: ``header_map[:HEADER_BYTES]`` is ``stamp()`` without
        a call; it raises ValueError once ``close`` has closed the map."""
        if not hasattr(os, "pread"):  # not on Windows: every head read is a query there
            return
        try:
            fd = os.open(f"{db_file}-shm", os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            return
        self._finalizer = weakref.finalize(self, os.close, fd)
        self._fd = fd
        head = self._pread()
        if head is None or not _looks_valid(head):
            self.close()
            return
        with contextlib.suppress(OSError, ValueError):  # then pread, one system call a look
            self.header_map = mmap.mmap(fd, HEADER_BYTES, prot=mmap.PROT_READ)

    @property
    def active(self) -> bool:
        return self._fd >= 0

    def stamp(self) -> bytes | None:
        """The header's bytes now, or None when they cannot be read (then query).

        Read from a read-only map of the file's first page where the system allows one: no
        system call (a ``pread`` cost 4-5 µs of a lean single query on the loaded test VM,
        bench/latency.py). The map cannot fault: SQLite shrinks a ``-shm`` file only when a
        connection attaches while no connection (ours included) holds it, and then to 3
        bytes, never 0 (``unixLockSharedMemory``), so the mapped first page stays inside the
        file; its bytes are the page cache's, the ones ``pread`` returns."""
        m = self.header_map
        if m is not None:
            try:
                return m[:HEADER_BYTES]
            except ValueError:  # closed meanwhile by another thread
                return None
        return self._pread()

    def _pread(self) -> bytes | None:
        if self._fd < 0:
            return None
        try:
            raw = os.pread(self._fd, HEADER_BYTES, 0)
        except OSError:
            return None
        return raw if len(raw) == HEADER_BYTES else None

    def close(self) -> None:
        m, self.header_map = self.header_map, None
        if m is not None:
            m.close()
        if self._fd >= 0:
            self._fd = -1
            self._finalizer()


def _looks_valid(header: bytes) -> bool:
    """The documented layout: ``iVersion`` (native byte order) and ``isInit`` set."""
    version = int.from_bytes(header[0:4], sys.byteorder)
    return version == _WAL_INDEX_VERSION and header[12] == 1
