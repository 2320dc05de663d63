"""``DistributedCollection.add_files``: files read by the caller, indexed by each shard's primary.

The driver walks the paths and reads the bytes (a cluster node may not see the caller's disk)
with the HTTP client's upload loop (``akindb.upload``: the same walk, duplicate detection,
``skip_duplicates`` and batches of about ``UPLOAD_BATCH_BYTES``). Each file goes to the shard
of its document id (the resolved path, as embedded) and the primary indexes it with the
embedded ingest code (``ingest_named`` over ``load_bytes``): same chunking, same skip rules,
unchanged files skipped by content hash. With ``prune`` a last write per shard names the
folders walked and the files found there, and each primary removes its documents under those
folders whose file is gone (``collection.prune.prune_missing``), replicated like any delete.
``add_uploads`` is the same path for contents that arrived over HTTP (``akindb serve
--cluster``).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from akindb.distributed.merge import parallel_writes
from akindb.distributed.placement import group_by_shard

if TYPE_CHECKING:
    from akindb.distributed.router import Router
    from akindb.ingest import IngestProgress, IngestReport


def add_uploads(router: Router, files: Sequence[tuple[str, bytes]], metadata: Mapping[str, Any],
                prune: tuple[Sequence[str], Sequence[str]] | None = None) -> IngestReport:
    """Index ``(name, bytes)`` pairs (the name is the document id) on their shards' primaries;
    with ``prune = (folders, present)`` each shard then removes its documents under
    ``folders`` that are not in ``present``. One report for all shards."""
    from akindb.ingest import IngestReport

    report = IngestReport()
    if files:
        groups = group_by_shard([name for name, _ in files], router.shards)
        parts = {s: {"files": [(files[i][0], files[i][0], files[i][1]) for i in pos],
                     "metadata": dict(metadata)} for s, pos in groups.items()}
        for rep in parallel_writes(router, "files", parts):
            report.added += rep.added
            report.updated += rep.updated
            report.unchanged += rep.unchanged
            report.chunks += rep.chunks
            report.skipped.update(rep.skipped)
    if prune is not None and prune[0]:
        folders, present = list(prune[0]), sorted(prune[1])
        every = {s: {"folders": folders, "present": present} for s in range(router.shards)}
        report.removed = sorted(d for gone in parallel_writes(router, "prune", every)
                                for d in gone)
    return report


def add_files(router: Router, paths: Sequence[str | Path], metadata: Mapping[str, Any],
              progress: IngestProgress | None, *, prune: bool,
              skip_duplicates: bool) -> IngestReport:
    """See ``DistributedCollection.add_files``."""
    from akindb.upload import upload_files

    def send(batch: list[dict[str, str]], extra: Mapping[str, Any] | None = None
             ) -> dict[str, Any]:
        files = [(f["name"], base64.b64decode(f["content_base64"])) for f in batch]
        spec = (extra or {}).get("prune")
        rep = add_uploads(router, files, metadata,
                          None if spec is None else (spec["folders"], spec["present"]))
        return rep.to_dict()

    return upload_files(paths, send, progress=progress, prune=prune,
                        skip_duplicates=skip_duplicates)
