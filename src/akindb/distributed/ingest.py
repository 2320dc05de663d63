"""``Cluster.ingest``: a Ray Data job that reads, chunks, embeds and writes a corpus.

::

    inputs (files, folders, .jsonl) --read (tasks)--> documents
        --chunk + embed (actor pool: one model load per actor, batches of 32)--> rows
        --write (this driver, ``write_batch`` rows per call)--> shard primaries

Idempotent and resumable by content hash: before embedding a batch, each actor asks the
shards which of its documents are already stored with the same hash and skips them, so a run
killed halfway and started again embeds only what is missing, and a document is never stored
twice (its id is fixed: the resolved path of a file, ``PATH:LINE`` or the ``id`` field of a
JSONL line). Writes are ``put`` operations (idempotent, replicated like any write).

A JSONL line is ``{"text": ..., "id": ... (optional), "metadata": {...} (optional)}``.
Inputs are local paths, ``pyarrow.fs`` URIs (``s3://...``, ``file://...``) or paths in a
``filesystem=`` object (``akindb.distributed.sources``). Files are read where the tasks run:
on a real cluster, give paths every node can read, or a filesystem they can all reach.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from akindb.distributed.placement import group_by_shard
from akindb.distributed.rows import DocRow
from akindb.types import Chunk

if TYPE_CHECKING:
    from akindb.distributed.handles import ClusterHandle
    from akindb.ingest import IngestReport

EMBED_BATCH = 32
"""Texts per model call: batch 32 beat 128 by 1.5-2.4x on CPU here (docs/benchmarks.md)."""
READ_CPU = 0.25
EMBED_CPU = 0.5
"""CPU reservations of the read tasks and the embedding actors. Fractions, because replicas
hold a sliver of every node's CPU (their placement groups) and a whole-CPU request would then
fit nowhere on one-CPU nodes; ONNX Runtime uses the node's cores whatever is reserved."""


class ChunkEmbed:
    """The actor-pool stage: skip stored documents, chunk the rest, embed in batches of 32."""

    def __init__(self, collection: str, namespace: str) -> None:
        import ray

        from akindb.distributed.router import Router
        from akindb.models.base import ModelSpec
        from akindb.models.registry import load_embedder
        from akindb.text.chunking import ChunkingParams

        ctl = ray.get_actor(f"collection:{collection}", namespace=namespace)
        spec = ray.get(ctl.spec_of.remote(), timeout=60)
        self.router = Router(collection, ctl, ray.get(ctl.handles.remote(), timeout=60))
        if spec["model"] is None:
            raise ValueError(f"collection {collection!r} has no model: ingest needs one")
        self.emb = load_embedder(None if spec["model"] == "default" else spec["model"])
        if spec.get("pinned") and not ModelSpec.from_json(spec["pinned"]).same_model(
                self.emb.spec):
            from akindb.errors import ModelMismatchError

            raise ModelMismatchError(
                f"collection {collection!r} is pinned to another model than "
                f"{self.emb.spec.describe()} on this node; install the same model everywhere"
            )
        res, missing = self.router.scatter("chunking", (), {}, shards=[0])
        self.router.check_missing(missing, False)
        self.params = ChunkingParams.from_dict(res[0])

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        from akindb.text.chunking import chunk_text

        ids = [str(x) for x in batch["id"]]
        groups = group_by_shard(ids, self.router.shards)
        args = {s: ([ids[i] for i in pos],) for s, pos in groups.items()}
        res, missing = self.router.scatter("hashes", (), {}, shards=list(args), args_of=args)
        self.router.check_missing(missing, False)
        known: dict[str, str] = {k: v for part in res.values() for k, v in part.items()}
        status: list[str] = []
        chunks_of: list[list[Chunk]] = []
        texts: list[str] = []
        for i, doc_id in enumerate(ids):
            if known.get(doc_id) == batch["hash"][i]:
                status.append("unchanged")
                chunks_of.append([])
                continue
            cs = chunk_text(str(batch["text"][i]), kind=str(batch["kind"][i]),
                            count_tokens=self.emb.count_tokens, params=self.params)
            status.append("updated" if doc_id in known else ("added" if cs else "empty"))
            chunks_of.append(cs)
            texts.extend(c.text for c in cs)
        vecs = (self.emb.embed(texts, batch_size=EMBED_BATCH) if texts
                else np.zeros((0, self.emb.dim), np.float32))
        out_chunks, out_vecs, lo = [], [], 0
        for cs in chunks_of:
            out_chunks.append(json.dumps([[c.text, c.start, c.end, c.index] for c in cs]))
            out_vecs.append(np.ascontiguousarray(vecs[lo : lo + len(cs)]).tobytes())
            lo += len(cs)
        return {"id": ids, "text": list(batch["text"]), "source": list(batch["source"]),
                "metadata": list(batch["metadata"]), "hash": list(batch["hash"]),
                "status": status, "chunks": out_chunks, "vectors": out_vecs}


def run_ingest(cluster: ClusterHandle, paths: Sequence[str | Path], *, collection: str, actors: int,
               batch_size: int, write_batch: int, progress: bool | None,
               filesystem: Any = None) -> IngestReport:
    """See ``Cluster.ingest``."""
    from functools import partial

    import ray.data

    from akindb.distributed.merge import parallel_writes
    from akindb.distributed.ray_env import NAMESPACE
    from akindb.distributed.sources import read_documents, resolve_inputs
    from akindb.errors import InvalidArgumentError
    from akindb.ingest import IngestReport

    if isinstance(actors, bool) or not isinstance(actors, int) or actors < 1:
        raise InvalidArgumentError(f"actors must be an integer >= 1, got actors={actors!r}")
    t0 = time.perf_counter()
    dcol = cluster.get_collection(collection)
    filesystems, files = resolve_inputs(paths, filesystem)
    report = IngestReport(files=len(files))
    if not files:
        return report
    # Ray Data 2.60 warns about its own deprecated settings while building its context; those
    # are Ray's to fix, not the caller's, and tests run with warnings as errors.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"ray\.")
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = sys.stderr.isatty() if progress is None else progress
        ds = (
            ray.data.from_items(files)
            .flat_map(partial(read_documents, filesystems=filesystems), num_cpus=READ_CPU)
            .map_batches(ChunkEmbed, fn_constructor_args=(collection, NAMESPACE),
                         batch_size=batch_size, compute=ray.data.ActorPoolStrategy(size=actors),
                         batch_format="numpy", num_cpus=EMBED_CPU)
        )
        dim = dcol.dim
        for batch in ds.iter_batches(batch_size=write_batch, batch_format="numpy"):
            rows = _rows_of(batch, dim, report)
            if rows:
                parts = {s: {"rows": [rows[j] for j in pos]}
                         for s, pos in group_by_shard([r.id for r in rows], dcol.shards).items()}
                parallel_writes(dcol._router, "put", parts)
    report.seconds = time.perf_counter() - t0
    return report


def _rows_of(batch: dict[str, Any], dim: int, report: IngestReport) -> list[DocRow]:
    """The rows to write from one output batch of the embed stage; counts go to ``report``."""
    rows: list[DocRow] = []
    for i in range(len(batch["id"])):
        st = str(batch["status"][i])
        if st == "unchanged":
            report.unchanged += 1
            continue
        if st == "empty":
            report.skipped["empty"] += 1
            continue
        cs = tuple(Chunk(t, s, e, x) for t, s, e, x in json.loads(str(batch["chunks"][i])))
        vec = np.frombuffer(batch["vectors"][i], dtype=np.float32).reshape(len(cs), dim)
        rows.append(DocRow(str(batch["id"][i]), str(batch["text"][i]), str(batch["source"][i]),
                           json.loads(str(batch["metadata"][i])), str(batch["hash"][i]), cs,
                           vec.copy()))
        report.chunks += len(cs)
        if st == "updated":
            report.updated += 1
        else:
            report.added += 1
    return rows
