"""A checksum beside each derived index file, so a damaged file is rebuilt, never trusted.

Index files carry a header (magic, version, collection, log position) that catches a wrong or
truncated file, but not a flipped bit in the body: issue 13's fuzzing loaded bit-flipped
flat, LSH and quantized files with different labels than were saved. The index is derived, so
the cure is cheap: ``<index file>.crc`` holds the CRC-32 and size of the file; on open a missing
or different checksum means "rebuild from SQLite".

The file and its checksum change as one unit (``publish``, ``load_checked``). The soak once
found a new index file beside the old checksum (written after the file, so a reader in another
process could look in between): rejected and rebuilt, but needlessly. Now the checksum file is
written first and names both the new file's checksum and the one it replaces (``previous``),
then the new file is renamed into place: at every moment the file at the path matches one of
the two. A reader checks the file it has open, reads the checksum file after, loads, and makes
sure the path still names the file it checked (another process may save in between; then it
looks again). A crash between the two renames leaves the old file, still valid.

Cost: one sequential read of the file on open (CRC-32 runs at over 1 GB/s; the pages it reads
are then in the page cache for the index's own memory map).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import zlib
from collections.abc import Callable, Iterator
from io import BufferedReader
from pathlib import Path
from typing import TypeVar

from akindb.storage.atomic import atomic_write_bytes, fsync_dir

T = TypeVar("T")

SUFFIX = ".crc"
_CHUNK = 1 << 16
"""Checksums read 64 KiB at a time into one reused buffer. Not bigger: glibc serves a block
over its mmap threshold (128 KiB at start) with mmap, and freeing one raises the threshold to
its size, so the next 4 MiB read buffer came from the heap and stayed there when freed: every
long-lived writer's RSS stepped up by ~4.5 MB once, at its first index save after the file
passed 4 MiB (issue 13's soak, session 7: RSS +10.7 % against a ±10 % goal, bytes in use flat).
"""


def sidecar(path: Path) -> Path:
    return path.with_name(path.name + SUFFIX)


class ChecksumMismatch(ValueError):
    """The index file does not match its checksum (callers rebuild)."""


def crc_of(path: Path) -> tuple[int, int]:
    """(CRC-32, size) of a file, read in ``_CHUNK`` pieces."""
    with open(path, "rb") as fh:
        return _crc_of_open(fh)


def _crc_of_open(fh: BufferedReader) -> tuple[int, int]:
    crc, size = 0, 0
    buf = bytearray(_CHUNK)
    view = memoryview(buf)
    while n := fh.readinto(buf):
        crc = zlib.crc32(view[:n], crc)
        size += n
    return crc, size


def _recorded(path: Path) -> list[tuple[int, int]]:
    """The (CRC-32, size) pairs the checksum file accepts: the current file's, then the ones
    it replaced (``publish``). Raises ``FileNotFoundError``, ``ValueError``..."""
    rec = json.loads(sidecar(path).read_bytes())
    out = [(int(rec["crc32"]), int(rec["size"]))]
    for crc, size in rec.get("previous") or ():
        out.append((int(crc), int(size)))
    return out


KEEP_PREVIOUS = 3
"""Checksums of replaced files still accepted: the file at the path is the last published one
unless a save died between its two renames (then an earlier one), so a few suffice."""


def write_checksum(path: Path) -> None:
    """Record ``path``'s checksum beside it (atomically)."""
    crc, size = crc_of(path)
    atomic_write_bytes(sidecar(path), json.dumps({"crc32": crc, "size": size}).encode())


def publish(tmp: Path, path: Path) -> None:
    """Make the complete index file ``tmp`` the file at ``path``, checksum first: the checksum
    file is rewritten to accept the new file and still the one at ``path`` now, then ``tmp``
    is renamed over ``path``. No reader can see a file its checksum file does not accept.
    Saves from several processes take turns (a ``flock`` on the directory) so that each
    checksum file carries on from the last."""
    crc, size = crc_of(tmp)
    with _directory_lock(path.parent):
        accepted: list[tuple[int, int]] = []
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            accepted = _recorded(path)
        rec = {"crc32": crc, "size": size, "previous": accepted[:KEEP_PREVIOUS]}
        atomic_write_bytes(sidecar(path), json.dumps(rec).encode())
        os.replace(tmp, path)
    fsync_dir(path.parent)


@contextlib.contextmanager
def _directory_lock(folder: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``folder`` itself (no extra file); where the filesystem has
    none, saves go on unordered (a reader may then rebuild needlessly, never trust a bad file).
    """
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        yield
        return
    try:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def load_checked(path: Path, load: Callable[[Path], T], tries: int = 3) -> T:
    """``load(path)`` for a file that matches its checksum, and sure to be the file checked:
    another process may replace it (``publish``) while this one reads, then the new file is
    checked. Raises ``ChecksumMismatch`` (or ``OSError``) when it must be rebuilt."""
    for _ in range(tries):
        with open(path, "rb") as fh:
            ino = os.fstat(fh.fileno()).st_ino
            problem = _problem_of_open(fh, path)  # the checksum file is read after the file
            if problem is None:
                out = load(path)
                if _ino(path) == ino:
                    return out
            elif _ino(path) == ino:
                raise ChecksumMismatch(f"{path.name} {problem}")
    raise ChecksumMismatch(f"{path.name} kept being replaced while it was read")


def _ino(path: Path) -> int | None:
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return None


def checksum_problem(path: Path) -> str | None:
    """Why ``path`` must not be trusted, or ``None`` when it matches its recorded checksum.

    >>> import tempfile; d = Path(tempfile.mkdtemp()); f = d / "x.idx"
    >>> _ = f.write_bytes(b"index"); write_checksum(f); checksum_problem(f) is None
    True
    >>> _ = f.write_bytes(b"indey"); checksum_problem(f)
    'does not match its checksum (damaged or replaced)'
    """
    with open(path, "rb") as fh:
        return _problem_of_open(fh, path)


def _problem_of_open(fh: BufferedReader, path: Path) -> str | None:
    have = _crc_of_open(fh)
    try:
        want = _recorded(path)
    except FileNotFoundError:
        return "has no checksum file (written by an older akindb, or the save was interrupted)"
    except (OSError, ValueError, KeyError, TypeError):
        return "has an unreadable checksum file"
    if have not in want:
        return "does not match its checksum (damaged or replaced)"
    return None
