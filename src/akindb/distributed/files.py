"""``DistributedCollection.add_files``: files read by the caller, indexed by each shard's primary.

The driver walks the paths and reads the bytes (a cluster node may not see the caller's disk);
each file goes to the shard of its document id (the resolved path, as embedded) in batches of
about ``UPLOAD_BATCH_BYTES``, and the primary indexes it with the embedded ingest code
(``akindb.ingest.ingest_named`` over ``load_bytes``): same chunking, same skip rules, unchanged
files skipped by content hash. The per-batch reports are summed into one ``IngestReport``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from akindb.distributed.placement import shard_of

if TYPE_CHECKING:
    from akindb.distributed.router import Router
    from akindb.ingest import IngestProgress, IngestReport

UPLOAD_BATCH_BYTES = 4 * 1024 * 1024


def add_files(router: Router, paths: Sequence[str | Path], metadata: Mapping[str, Any],
              progress: IngestProgress | None) -> IngestReport:
    import time

    from akindb.distributed.merge import parallel_writes
    from akindb.ingest import IngestReport
    from akindb.text.loaders import iter_files

    t0 = time.perf_counter()
    files = [p.resolve() for p in iter_files(paths)]
    total = IngestReport(files=len(files))
    done = 0
    batch: dict[int, list[tuple[str, str, bytes]]] = {}
    size = 0

    def flush() -> None:
        nonlocal batch, size, done
        if not batch:
            return
        parts = {s: {"files": items, "metadata": dict(metadata)} for s, items in batch.items()}
        for rep in parallel_writes(router, "files", parts):
            total.added += rep.added
            total.updated += rep.updated
            total.unchanged += rep.unchanged
            total.chunks += rep.chunks
            total.skipped.update(rep.skipped)
        done += sum(len(v) for v in batch.values())
        batch, size = {}, 0
        if progress is not None:
            progress(done, len(files), total.chunks)

    for path in files:
        try:
            raw = path.read_bytes()
        except OSError:
            total.skipped["unreadable"] += 1
            continue
        doc_id = str(path)
        batch.setdefault(shard_of(doc_id, router.shards), []).append((doc_id, str(path), raw))
        size += len(raw)
        if size >= UPLOAD_BATCH_BYTES:
            flush()
    flush()
    total.seconds = time.perf_counter() - t0
    return total
