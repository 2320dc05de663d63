"""``add_files`` over HTTP: walk and read files on this machine, upload their contents.

The server never opens a path it is sent (a write key would otherwise read whatever the server
process can); the client reads the files and sends ``{name, content_base64}`` in requests of
about ``UPLOAD_BATCH_BYTES``. Document ids are the resolved local paths, as embedded; files
that are not text are counted in ``skipped`` without being uploaded (the server would skip
them too); the server skips unchanged files by the hash of their bytes. Shared by the sync
client and the async one (``send`` does the request).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from akindb.collection.ingest import IngestProgress, IngestReport
from akindb.text.loaders import iter_files, load_bytes

UPLOAD_BATCH_BYTES = 4 * 1024 * 1024
"""Files are uploaded in requests of about this many bytes (base64 adds a third)."""
UPLOAD_BATCH_FILES = 256

Send = Callable[[list[dict[str, str]]], Mapping[str, Any]]
"""Uploads one batch of ``{name, content_base64}``; returns the server's ``IngestReport``."""


def iter_batches(
    paths: Sequence[str | Path], report: IngestReport
) -> Iterator[tuple[int, list[dict[str, str]]]]:
    """The text files under ``paths`` as upload batches ``(files done after it, batch)``,
    read one batch at a time; unreadable and non-text files are counted in ``report.skipped``
    and ``report.files`` is set. The last batch may be empty."""
    files = [p.resolve() for p in iter_files(paths)]
    report.files = len(files)
    batch: list[dict[str, str]] = []
    size = done = 0
    for path in files:
        done += 1
        try:
            raw = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            report.skipped["vanished"] += 1
            continue
        except OSError:
            report.skipped["unreadable"] += 1
            continue
        loaded = load_bytes(path, raw)
        if loaded.text is None:
            report.skipped[loaded.skipped or "unreadable"] += 1
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


def upload_files(
    paths: Sequence[str | Path], send: Send, *, progress: IngestProgress | None = None
) -> IngestReport:
    """Upload the text files under ``paths`` through ``send``; one report for all batches.
    ``progress(files_done, files_total, chunks)`` is called after each batch."""
    t0 = time.perf_counter()
    report = IngestReport()
    for done, batch in iter_batches(paths, report):
        if batch:
            merge_report(report, send(batch))
        if progress is not None:
            progress(done, report.files, report.chunks)
    report.seconds = time.perf_counter() - t0
    return report
