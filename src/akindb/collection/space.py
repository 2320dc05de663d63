"""Getting space back on a full disk from inside akindb (issue 13, item 14).

SQLite needs a little free space for any write, a delete included (its pages go to the
write-ahead log first), so on a full disk the obvious way out, deleting documents, failed too.
What akindb can give back without losing anything:

* the derived index files (``indexes/*``): SQLite holds every vector, so an index file is a
  cache; the running process keeps its index in memory and writes the file again on its next
  save, other processes rebuild it when they open;
* temporary files left by an interrupted atomic write (``.*.tmp``);
* a small reserve file (``RESERVE_NAME``, ``RESERVE_BYTES``) every writable database keeps for
  exactly this moment: index files alone may be too small (a 200-document delete wrote 280 KB
  of log). It is made again once space is back (at the next open or successful delete).

``retry_on_full_disk`` runs a write, and on ``DiskFullError`` frees that space once and runs it
again; if it still fails, the error says what else to do.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TypeVar

from akindb.errors import DiskFullError

log = logging.getLogger(__name__)
T = TypeVar("T")


class DbDir(Protocol):
    """Where a database lives: ``Database`` and ``CollectionParts`` both answer this."""

    @property
    def path(self) -> Path: ...

    @property
    def file(self) -> Path: ...

    @property
    def index_dir(self) -> Path: ...

RESERVE_NAME = "space-reserve"
RESERVE_BYTES = 256 * 1024
"""Disk held back so that a delete can still run on a full disk (about 180 small documents
per call; a bigger delete on a full disk needs space freed by hand, as the error says)."""


def ensure_reserve(path: Path) -> None:
    """Create the reserve file in database directory ``path`` if missing (best effort)."""
    f = path / RESERVE_NAME
    if f.exists():
        return
    try:
        fd = os.open(f, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except OSError:
        return
    try:
        os.posix_fallocate(fd, 0, RESERVE_BYTES)
    except OSError:  # no room (or no fallocate): leave none rather than a partial one
        os.close(fd)
        f.unlink(missing_ok=True)
        return
    os.close(fd)


def free_derived_space(db: DbDir) -> int:
    """Remove the reserve and what can be rebuilt (index files, stale temp files); returns the
    bytes removed. No checkpoint here: on a full disk it would spend the freed space growing
    the database file and then fail to shrink the log."""
    freed = 0
    reserve = db.path / RESERVE_NAME
    if reserve.exists():
        freed += reserve.stat().st_size
        reserve.unlink(missing_ok=True)
    index_dir: Path = db.index_dir
    if index_dir.is_dir():
        for p in index_dir.iterdir():
            if p.is_file():
                try:
                    size = p.stat().st_size
                    p.unlink()
                except OSError as exc:
                    log.warning("could not remove %s to free space: %s", p, exc)
                    continue
                freed += size
    log.warning("disk full: removed %d bytes (reserve, derived index files) to make room", freed)
    return freed


def retry_on_full_disk(db: DbDir, write: Callable[[], T], what: str) -> T:
    """``write()``; on a full disk, free derived space once and retry."""
    try:
        return write()
    except DiskFullError:
        free_derived_space(db)
    try:
        out = write()
    except DiskFullError as exc:
        raise DiskFullError(
            f"the disk holding {db.path} is full and {what} still needs a little space after "
            "akindb removed its derived index files (they are rebuilt on the next open); "
            "nothing was changed. Free some space on that disk (or move the database "
            "directory to a bigger one) and retry"
        ) from exc
    ensure_reserve(db.path)
    return out


def vacuum_needs_space(db: DbDir, exc: DiskFullError) -> DiskFullError:
    """The error for a ``compact`` whose ``VACUUM`` ran out of room (after the index part
    succeeded): VACUUM writes a full copy of the database, so it needs that much free space."""
    size = sum(p.stat().st_size for p in db.path.glob(db.file.name + "*") if p.is_file())
    return DiskFullError(
        f"compact dropped the index tombstones, but VACUUM needs about {size / 1e6:.1f} MB "
        f"free on the disk holding {db.path} (it writes a copy of the database) and the disk "
        "is full. Nothing was lost, and space freed by deletes is reused by later writes; to "
        "shrink the file, free that much space (or copy the directory to a bigger disk) and "
        "run compact again"
    )
