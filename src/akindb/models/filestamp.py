"""SHA-256 of a big file, re-hashed only when the file changed (a stat stamp remembers it).

Every process that loads the model used to hash the 90 MB weights file and the cached ONNX
graph before answering its first query: ~0.6 s of a cold ``akindb search`` on the dev machine.
A stamp file in the cache directory records (path, size, mtime_ns, inode, device, hash) after a
full hash; while the file's stat still matches, the recorded hash is used. A file rewritten in
place gets a new mtime (and usually size), so it is hashed again; what a stamp cannot see is a
file altered with its mtime forged back to the same nanosecond, which is deliberate tampering,
not damage. A missing, unreadable or unwritable stamp costs a full hash, nothing more.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

from akindb.atomic import atomic_write_bytes

log = logging.getLogger(__name__)


def sha256_file(path: str | Path, *, chunk: int = 1 << 22) -> str:
    """Hex SHA-256 of a file, read in 4 MiB chunks (``akindb.models.sources`` re-exports it)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _identity(path: Path) -> list[int | str]:
    st = os.stat(path)
    return [str(path), st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev]


def stamp_path(stamp_dir: Path, path: Path) -> Path:
    """Where the stamp of ``path`` lives (one small JSON file per hashed file).

    >>> stamp_path(Path("/c"), Path("/w/model.safetensors")).parent.as_posix()
    '/c/stamps'
    """
    key = hashlib.sha256(str(path).encode("utf-8")).hexdigest()[:24]
    return stamp_dir / "stamps" / f"{key}.json"


def stamped_sha256(path: str | Path, stamp_dir: Path | None) -> str:
    """SHA-256 of ``path``: the stamped one when the file's stat matches, else a full hash
    (then stamped for the next process). ``stamp_dir`` None: always a full hash."""
    p = Path(path).resolve()
    if stamp_dir is None:
        return sha256_file(p)
    where = stamp_path(stamp_dir, p)
    ident = _identity(p)
    try:
        rec = json.loads(where.read_text(encoding="utf-8"))
        if rec.get("id") == ident and isinstance(rec.get("sha256"), str):
            return str(rec["sha256"])
    except (OSError, ValueError, AttributeError):
        pass
    digest = sha256_file(p)
    if _identity(p) == ident:  # unchanged while we read it: safe to remember
        try:
            atomic_write_bytes(where, json.dumps({"id": ident, "sha256": digest}).encode())
        except OSError as exc:
            log.info("could not write the hash stamp %s: %s", where, exc)
    return digest
