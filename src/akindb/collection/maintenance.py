"""Index maintenance for a collection: recall-targeted tuning, statistics, compaction.

``tune`` measures, it does not guess: without real queries it sets sampled stored vectors aside
and measures them against side graphs built without them (``tune_queries``: held out, as a new
query is), sweeps the search knob from cheap to expensive, keeps the first setting whose
recall@k reaches the target with a margin (a 97.5 % prediction bound for a fresh sample of
as many queries, ``tune_queries.bound``; bisecting the grid's last step, ``tune_sweep``),
saves it (in SQLite, the truth, and in the index file) and reports recall, its interval and
queries/s before and after. With real queries (``queries=``) those are used as they are.

Stored vectors searched for themselves are easier than new queries, even with their own match
left out: on 19,480 MiniLM vectors that estimate picked ef_search=10 for 0.95 while held-out
queries needed 32 (docs/benchmarks.md, issue 14).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from akindb.collection.parts import CollectionParts
from akindb.collection.reports import CompactReport, IndexStats, TuneReport
from akindb.collection.space import vacuum_needs_space
from akindb.collection.tune_floor import never_lower
from akindb.collection.tune_queries import HeldOut, bound, mean_ci
from akindb.collection.tune_sweep import Progress as PhaseProgress
from akindb.collection.tune_sweep import sweep as sweep_knob
from akindb.errors import DiskFullError, InvalidArgumentError
from akindb.index.approx import ApproxIndex
from akindb.index.base import F32, I64
from akindb.index.quantized import QuantizedIndex
from akindb.index.registry import make_index
from akindb.storage import catalog
from akindb.storage.atomic import atomic_writer

log = logging.getLogger(__name__)

AUTO_VACUUM_FRACTION = 0.25
AUTO_VACUUM_MIN_BYTES = 4 * 1024 * 1024
"""After a delete, SQLite is vacuumed when free pages reach this fraction of a file at least
this big (disk space returns to the system; the index compacts itself, see live_index)."""


def _recalls(found: I64, truth: list[set[int]], own: I64, k: int) -> list[float]:
    out: list[float] = []
    for row, gt, me in zip(found.tolist(), truth, own.tolist(), strict=True):
        got = [x for x in row if x != me and x >= 0][:k]
        out.append(len(gt.intersection(got)) / len(gt) if gt else 1.0)
    return out


def _point(value: int, recalls: list[float], qps: float) -> dict[str, Any]:
    mean, lo, hi = mean_ci(recalls)
    return {"value": value, "recall": mean, "recall_ci": [lo, hi], "bound": bound(recalls),
            "qps": qps}


Measure = Callable[[int], list[float]]


def _estimator(
    parts: CollectionParts,
    index: ApproxIndex,
    queries: F32 | None,
    n_queries: int,
    k: int,
    rng: np.random.Generator,
    progress: PhaseProgress | None = None,
) -> tuple[Measure, F32, str]:
    """(per-query recall@k at a knob value, the query vectors, how recall is estimated).

    Real queries: against the exact top-k of the collection. None: held-out stored vectors
    on side graphs (``tune_queries.HeldOut``); a collection too small for those: stored
    vectors searched for themselves, their own match left out (optimistic)."""
    live = parts.live
    n = len(index)
    if queries is None and n >= 8 * (k + 1):
        built = None if progress is None else (
            lambda done, total: progress("side graph", done, total))
        ho = HeldOut(index, lambda: make_index(live.kind, live.dim, live.metric, live.params),
                     live.metric, n_queries, k, rng, built)
        how = (f"held-out: {len(ho.queries)} stored vectors queried against a side graph of "
               f"the {ho.m} others" if ho.steps == 0.0 else
               f"held-out: {len(ho.queries)} stored vectors queried against side graphs of "
               f"{ho.m} others and half of them, extrapolated over {ho.steps:.2f} doublings "
               f"to {n}")
        return ho.recalls, ho.queries, how
    exact = live.exact_index()
    if queries is None:
        labels = index.labels()
        own = np.sort(labels[rng.choice(n, size=min(n_queries, n), replace=False)])
        q = index.vectors_of(own)
        how = f"{len(q)} stored vectors searched for themselves (collection too small)"
    else:
        q = live.prep(queries)
        own = np.full(len(q), -2, dtype=np.int64)  # no own match to leave out
        how = f"{len(q)} given queries"
    gt_l, _ = exact.search(q, k + 1)
    truth = [
        {x for x in row if x != me and x >= 0}.intersection([x for x in row if x != me][:k])
        for row, me in zip(gt_l.tolist(), own.tolist(), strict=True)
    ]

    def measure(value: int) -> list[float]:
        index.set_knob(value)
        found, _ = index.search(q, k + 1)
        return _recalls(found, truth, own, k)

    return measure, q, how


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
    n_queries: int = 1000,
    seed: int = 0,
    queries: F32 | None = None,
    progress: PhaseProgress | None = None,
) -> TuneReport:
    """See ``Collection.tune``; ``progress(phase, done, total)`` is called while the side
    graph is built ("side graph", vectors) and per setting measured ("settings", total 0)."""
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
        kk = min(k, n - 1)
        rng = np.random.default_rng(seed)
        measure, q, estimator = _estimator(parts, index, queries, n_queries, kk, rng, progress)
        original = index.knob_value()
        _, qps = _timed_search(index, q, kk + 1)
        before = _point(original, measure(original), qps)

        def point_at(value: int) -> dict[str, Any]:
            index.set_knob(value)
            _, qps = _timed_search(index, q, kk + 1)
            return _point(value, measure(value), qps)

        try:  # coarse grid, then bisection below its first passing setting (tune_sweep)
            chosen, sweep = sweep_knob(index.knob_sweep(kk), point_at, float(target_recall),
                                       progress)
        finally:
            index.set_knob(original)
        if chosen is None:
            chosen = max(sweep, key=lambda p: (p["recall"], -p["value"]))
            report["met"] = chosen["recall"] >= target_recall  # met, but not with the margin

        def measure_at(value: int) -> dict[str, Any]:
            index.set_knob(value)
            try:
                _, qps = _timed_search(index, q, kk + 1)
                return _point(value, measure(value), qps)
            finally:
                index.set_knob(original)

        chosen = never_lower(parts.tune_path, report, float(target_recall), chosen, measure_at)
        report["queries"] = "sampled" if queries is None else "real"
        live.set_knob(int(chosen["value"]))
        params = {**parts.config.index_params, index.knob: int(chosen["value"])}
        with parts.write_txn():
            catalog.set_index_params(parts.store.conn, parts.config.id, params)
        parts.config = replace(parts.config, index_params=params)
        report.update(
            before=before, after=chosen, sweep=sweep, n_queries=len(q), estimator=estimator,
            at=datetime.now(UTC).isoformat(timespec="seconds"), built_seq=live.seq,
        )
        try:
            with atomic_writer(parts.tune_path) as fh:
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
    rows = parts.rows
    out["row_cache"] = {"rows": len(rows), "max_rows": rows.max_rows, "hits": rows.hits,
                        "misses": rows.misses, "bypassed": rows.bypassed}
    out["tuned"] = None
    try:
        rec = json.loads(parts.tune_path.read_text(encoding="utf-8"))
        out["tuned"] = {
            "knob": rec.get("knob"), "value": rec["after"]["value"],
            "recall": rec["after"]["recall"], "recall_ci": rec["after"].get("recall_ci"),
            "recall_bound": rec["after"].get("bound"),
            "estimator": rec.get("estimator"), "target_recall": rec.get("target_recall"),
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
