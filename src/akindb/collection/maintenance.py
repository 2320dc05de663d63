"""Index maintenance for a collection: recall-targeted tuning, statistics, compaction.

``tune`` measures, it does not guess: it samples stored vectors as queries (each query's own
vector is left out of both answers, so it behaves like a held-out query), computes the exact
top-k with the flat index kept beside the approximate one, sweeps the search knob from cheap
to expensive, keeps the first setting whose mean recall@k reaches the target, saves it (in
SQLite, the truth, and in the index file) and reports recall and queries/s before and after.

Stored vectors are easier queries than new ones (each sits in the graph next to its
neighbours), so on sentence embeddings the self-query estimate is optimistic: on 60k MiniLM
vectors it picked ef_search=10 for 0.95 while held-out queries needed 48 (docs/benchmarks.md).
Pass real queries (``queries=``) when you have them.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from akindb.collection.parts import CollectionParts
from akindb.collection.reports import CompactReport, IndexStats, TuneReport
from akindb.collection.space import vacuum_needs_space
from akindb.collection.tune_floor import never_lower
from akindb.errors import DiskFullError, InvalidArgumentError
from akindb.index.approx import ApproxIndex
from akindb.index.base import F32, I64
from akindb.index.quantized import QuantizedIndex
from akindb.storage import catalog
from akindb.storage.atomic import atomic_writer

log = logging.getLogger(__name__)

AUTO_VACUUM_FRACTION = 0.25
AUTO_VACUUM_MIN_BYTES = 4 * 1024 * 1024
"""After a delete, SQLite is vacuumed when free pages reach this fraction of a file at least
this big (disk space returns to the system; the index compacts itself, see live_index)."""


def tune_path(parts: CollectionParts) -> Path:
    return parts.tune_path


def _recall(found: I64, truth: list[set[int]], own: I64, k: int) -> float:
    total = 0.0
    for row, gt, me in zip(found.tolist(), truth, own.tolist(), strict=True):
        got = [x for x in row if x != me and x >= 0][:k]
        total += len(gt.intersection(got)) / len(gt) if gt else 1.0
    return total / max(len(truth), 1)


def _timed_search(index: ApproxIndex, q: F32, k: int) -> tuple[I64, float]:
    t0 = time.perf_counter()
    labels, _ = index.search(q, k)
    dt = time.perf_counter() - t0
    return labels, len(q) / dt if dt > 0 else math.inf


def tune(
    parts: CollectionParts,
    target_recall: float,
    *,
    k: int = 10,
    n_queries: int = 200,
    seed: int = 0,
    queries: F32 | None = None,
) -> TuneReport:
    """See ``Collection.tune``."""
    if (
        not isinstance(target_recall, int | float)
        or isinstance(target_recall, bool)
        or not 0.0 < float(target_recall) <= 1.0
    ):
        raise InvalidArgumentError(f"target_recall must be in (0, 1], got {target_recall!r}")
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise InvalidArgumentError(f"k must be a positive integer, got {k!r}")
    if not isinstance(n_queries, int) or isinstance(n_queries, bool) or n_queries < 1:
        raise InvalidArgumentError(f"n_queries must be a positive integer, got {n_queries!r}")
    live = parts.live
    with parts.lock, parts.translated():
        index = live.get()
        report: dict[str, Any] = {
            "kind": live.kind, "target_recall": float(target_recall), "k": k,
            "size": len(index), "knob": None, "met": True,
        }
        if not isinstance(index, ApproxIndex):
            report.update(note="the flat index is exact (recall 1.0): nothing to tune")
            return TuneReport.from_dict(report)
        report["knob"] = index.knob
        n = len(index)
        if n < 2:
            report.update(note=f"{n} vector(s): every setting is exact, nothing to tune")
            return TuneReport.from_dict(report)
        exact = live.exact_index()
        kk = min(k, n - 1)
        rng = np.random.default_rng(seed)
        labels = index.labels()
        if queries is None:
            own = np.sort(labels[rng.choice(n, size=min(n_queries, n), replace=False)])
            q = index.vectors_of(own)
        else:  # real queries (e.g. logged ones): no own match to leave out
            q = live.prep(queries)
            own = np.full(len(q), -2, dtype=np.int64)
        gt_l, _ = exact.search(q, kk + 1)
        truth = [
            {x for x in row if x != me and x >= 0}.intersection(
                [x for x in row if x != me][:kk]
            )
            for row, me in zip(gt_l.tolist(), own.tolist(), strict=True)
        ]
        original = index.knob_value()
        found, qps = _timed_search(index, q, kk + 1)
        before = {"value": original, "recall": _recall(found, truth, own, kk), "qps": qps}
        sweep: list[dict[str, Any]] = []
        chosen: dict[str, Any] | None = None
        try:
            for value in index.knob_sweep(kk):
                index.set_knob(value)
                found, qps = _timed_search(index, q, kk + 1)
                point = {"value": value, "recall": _recall(found, truth, own, kk), "qps": qps}
                sweep.append(point)
                if point["recall"] >= target_recall:
                    chosen = point
                    break
        finally:
            index.set_knob(original)
        if chosen is None:
            chosen = max(sweep, key=lambda p: (p["recall"], -p["value"]))
            report["met"] = False

        def measure(value: int) -> dict[str, Any]:
            index.set_knob(value)
            try:
                found, qps = _timed_search(index, q, kk + 1)
            finally:
                index.set_knob(original)
            return {"value": value, "recall": _recall(found, truth, own, kk), "qps": qps}

        chosen = never_lower(tune_path(parts), report, float(target_recall), chosen, measure)
        report["queries"] = "sampled" if queries is None else "real"
        live.set_knob(int(chosen["value"]))
        params = {**parts.config.index_params, index.knob: int(chosen["value"])}
        with parts.write_txn():
            catalog.set_index_params(parts.store.conn, parts.config.id, params)
        parts.config = replace(parts.config, index_params=params)
        report.update(
            before=before, after=chosen, sweep=sweep, n_queries=len(own),
            at=datetime.now(UTC).isoformat(timespec="seconds"), built_seq=live.seq,
        )
        try:
            with atomic_writer(tune_path(parts)) as fh:
                fh.write(json.dumps(report, sort_keys=True).encode("utf-8"))
        except OSError as exc:
            log.warning("could not save the tuning record: %s", exc)
        return TuneReport.from_dict(report)


def index_stats(parts: CollectionParts) -> IndexStats:
    """See ``Collection.index_stats``."""
    with parts.lock, parts.translated():
        out = parts.live.stats()
        index = parts.live.get()
    if isinstance(index, QuantizedIndex):  # RAM held by codes vs floats left in the file
        out["memory"] = index.memory_report()
    if isinstance(index, ApproxIndex) and index.search_stats():  # e.g. lsh's exact scans
        out["search"] = index.search_stats()
    out["tuned"] = None
    try:
        rec = json.loads(tune_path(parts).read_text(encoding="utf-8"))
        out["tuned"] = {
            "knob": rec.get("knob"), "value": rec["after"]["value"],
            "recall": rec["after"]["recall"], "target_recall": rec.get("target_recall"),
            "k": rec.get("k"), "at": rec.get("at"), "at_seq": rec.get("built_seq"),
        }
    except (OSError, ValueError, KeyError, TypeError):
        pass
    from akindb.collection.monitor import recall_estimate

    out["recall_monitor"] = recall_estimate(parts)
    return IndexStats.from_dict(out)


def _db_bytes(db_file: Path) -> int:
    return sum(
        p.stat().st_size for p in db_file.parent.glob(db_file.name + "*") if p.is_file()
    )


def vacuum(parts: CollectionParts) -> None:
    """Rewrite the SQLite file without its free pages and truncate the WAL."""
    with parts.lock, parts.translated():
        catalog.vacuum(parts.store.conn)


def maybe_vacuum(parts: CollectionParts) -> bool:
    """Vacuum when free pages pass ``AUTO_VACUUM_FRACTION`` of a big enough file."""
    with parts.lock, parts.translated():
        pages, free, size = catalog.page_stats(parts.store.conn)
    if pages * size < AUTO_VACUUM_MIN_BYTES or free < AUTO_VACUUM_FRACTION * pages:
        return False
    try:
        vacuum(parts)
    except Exception as exc:  # another process busy: try again after a later delete
        log.info("automatic VACUUM skipped: %s", exc)
        return False
    return True


def compact(parts: CollectionParts) -> CompactReport:
    """See ``Collection.compact``."""
    live = parts.live
    with parts.lock:
        before_db, before_idx = _db_bytes(parts.db_file), live.stats()["file_bytes"]
        dropped = live.compact()
        through, trimmed = live.trimmable_seq(), 0
        try:
            if through:
                with parts.write_txn():
                    trimmed = parts.store.trim_log(through)
            vacuum(parts)
        except DiskFullError as exc:  # say what compaction needs (collection.space)
            raise vacuum_needs_space(parts, exc) from exc
        after_db, after_idx = _db_bytes(parts.db_file), live.stats()["file_bytes"]
    return CompactReport(
        kind=live.kind, tombstones_dropped=dropped, log_entries_trimmed=trimmed,
        db_bytes_before=before_db, db_bytes_after=after_db,
        index_bytes_before=before_idx, index_bytes_after=after_idx,
    )
