"""``add_files`` over HTTP: walk and read files on this machine, upload their contents.

The server never opens a path it is sent (a write key would otherwise read whatever the server
process can); the client reads the files and sends ``{name, content_base64}`` in requests of
about ``UPLOAD_BATCH_BYTES``. Document ids are the resolved local paths, as embedded; files
that are not text are counted in ``skipped`` without being uploaded (the server would skip
them too); the server skips unchanged files by the hash of their bytes. Exact duplicates are
found here (sha256 of the bytes; ``skip_duplicates`` leaves them out). With ``prune`` a last
request names the folders walked and every file found in them, and the server removes the
documents under those folders that are not in the list (``akindb.collection.prune``), as
embedded. Shared by the sync client and the async one (``send`` does the request).
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from akindb.collection.ingest import IngestProgress, IngestReport
from akindb.text.loaders import iter_files, load_bytes

UPLOAD_BATCH_BYTES = 4 * 1024 * 1024
"""Files are uploaded in requests of about this many bytes (base64 adds a third)."""
UPLOAD_BATCH_FILES = 256

Send = Callable[..., Mapping[str, Any]]
"""``send(batch, extra=None)`` uploads one batch of ``{name, content_base64}`` (``extra``: more
body fields, the prune request); returns the server's ``IngestReport``."""


def iter_batches(
    paths: Sequence[str | Path], report: IngestReport, present: set[str] | None = None,
    skip_duplicates: bool = False,
) -> Iterator[tuple[int, list[dict[str, str]]]]:
    """The text files under ``paths`` as upload batches ``(files done after it, batch)``,
    read one batch at a time; unreadable and non-text files are counted in ``report.skipped``
    and ``report.files`` is set. The last batch may be empty. ``present`` collects the names
    of the files walked (less skipped duplicates): what pruning keeps."""
    files = [p.resolve() for p in iter_files(paths)]
    report.files = len(files)
    if present is not None:
        present.update(str(p) for p in files)
    first_with: dict[str, str] = {}
    batch: list[dict[str, str]] = []
    size = done = 0
    for path in files:
        done += 1
        try:
            raw = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            report.skipped["vanished"] += 1
            if present is not None:
                present.discard(str(path))
            continue
        except OSError:
            report.skipped["unreadable"] += 1
            continue
        loaded = load_bytes(path, raw)
        first = first_with.setdefault(hashlib.sha256(raw).hexdigest(), str(path))
        if loaded.text is not None and first != str(path):
            report.duplicates.append((str(path), first))
            if skip_duplicates:
                report.skipped["duplicate"] += 1
                if present is not None:
                    present.discard(str(path))
                continue
        if loaded.text is None:  # not text (any more): a stored version is pruned
            report.skipped[loaded.skipped or "unreadable"] += 1
            if present is not None:
                present.discard(str(path))
            continue
        batch.append({"name": str(path), "content_base64": base64.b64encode(raw).decode("ascii")})
        size += len(raw)
        if size >= UPLOAD_BATCH_BYTES or len(batch) >= UPLOAD_BATCH_FILES:
            yield done, batch
            batch, size = [], 0
    yield done, batch


def merge_report(report: IngestReport, part: Mapping[str, Any]) -> None:
    """Add one server answer (an ``IngestReport`` dict) into ``report``."""
    for name in ("added", "updated", "unchanged", "chunks"):
        setattr(report, name, getattr(report, name) + int(part[name]))
    report.skipped.update(part["skipped"])
    report.removed.extend(part.get("removed") or [])


def upload_files(
    paths: Sequence[str | Path], send: Send, *, progress: IngestProgress | None = None,
    prune: bool = True, skip_duplicates: bool = False,
) -> IngestReport:
    """Upload the text files under ``paths`` through ``send``; one report for all batches.
    ``progress(files_done, files_total, chunks)`` is called after each batch."""
    from akindb.collection.prune import folders_of

    t0 = time.perf_counter()
    report = IngestReport()
    present: set[str] = set()
    for done, batch in iter_batches(paths, report, present, skip_duplicates):
        if batch:
            merge_report(report, send(batch))
        if progress is not None:
            progress(done, report.files, report.chunks)
    folders = folders_of(paths) if prune else []
    if folders:
        merge_report(report, send([], {"prune": {"folders": folders, "present": sorted(present)}}))
    report.seconds = time.perf_counter() - t0
    return report
