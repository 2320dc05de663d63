"""A checksum beside each derived index file, so a damaged file is rebuilt, never trusted.

Index files carry a header (magic, version, collection, log position) that catches a wrong or
truncated file, but not a flipped bit in the body: issue 13's fuzzing loaded bit-flipped
flat, LSH and quantized files with different labels than were saved. The index is derived, so
the cure is cheap: ``<index file>.crc`` holds the CRC-32 and size of the file, written
atomically after the file; on open a missing or different checksum means "rebuild from SQLite".
A crash between the two renames leaves a mismatch, which also means rebuild: it fails closed.

Cost: one sequential read of the file on open (CRC-32 runs at over 1 GB/s; the pages it reads
are then in the page cache for the index's own memory map).
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

from akindb.storage.atomic import atomic_write_bytes

SUFFIX = ".crc"
_CHUNK = 1 << 22


def sidecar(path: Path) -> Path:
    return path.with_name(path.name + SUFFIX)


def crc_of(path: Path) -> tuple[int, int]:
    """(CRC-32, size) of a file, read in 4 MiB pieces."""
    crc, size = 0, 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
    return crc, size


def write_checksum(path: Path) -> None:
    """Record ``path``'s checksum beside it (atomically)."""
    crc, size = crc_of(path)
    atomic_write_bytes(sidecar(path), json.dumps({"crc32": crc, "size": size}).encode())


def checksum_problem(path: Path) -> str | None:
    """Why ``path`` must not be trusted, or ``None`` when it matches its recorded checksum.

    >>> import tempfile; d = Path(tempfile.mkdtemp()); f = d / "x.idx"
    >>> _ = f.write_bytes(b"index"); write_checksum(f); checksum_problem(f) is None
    True
    >>> _ = f.write_bytes(b"indey"); checksum_problem(f)
    'does not match its checksum (damaged or replaced)'
    """
    try:
        rec = json.loads(sidecar(path).read_bytes())
        want = (int(rec["crc32"]), int(rec["size"]))
    except FileNotFoundError:
        return "has no checksum file (written by an older akindb, or the save was interrupted)"
    except (OSError, ValueError, KeyError, TypeError):
        return "has an unreadable checksum file"
    if crc_of(path) != want:
        return "does not match its checksum (damaged or replaced)"
    return None
