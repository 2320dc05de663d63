"""Hybrid search's own work, A/B in one process: BM25 from FTS5 or from the in-memory copy.

The model's time (and its threads) dominate ``bench/hybrid.py``'s wall times and move most with
the machine's load; this leaves it out. Each dev query's vector is embedded once (the query
cache), then per query, interleaved: vector search, hybrid search with BM25 from FTS5
(``keyword_memory.MAX_TOKENS = 0`` for that call) and hybrid search with the copy (built
first, ``keyword_memory.ready``). Per call: wall and the calling thread's CPU time (BLAS should
run on one thread: ``OPENBLAS_NUM_THREADS=1``, so that all of a call's work is this thread's)::

    OPENBLAS_NUM_THREADS=1 python bench/hybrid_ab.py --db /tmp/akb-nf --rounds 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import akindb
from akindb.eval.beir import load_beir
from akindb.retrieval import keyword_memory as km

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ir" / "nfcorpus"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--collection", default="beir-nfcorpus")
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--split", default="dev")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    db = akindb.open(args.db, create=False)
    col = db.get_collection(args.collection)
    qs = [q for q in load_beir(args.data, args.split).queries.values() if q.strip()]
    with col.parts.lock:
        assert km.ready(col.parts.store.conn), "no copy of the keyword index could be built"
    limit = km.MAX_TOKENS
    arms = {"vector": ("vector", limit), "hybrid-fts5": ("hybrid", 0),
            "hybrid-copy": ("hybrid", limit)}
    for q in qs:  # warm-up; fills the query cache
        for mode, _ in arms.values():
            col.search(q, 10, mode=mode)  # type: ignore[arg-type]
    cpu: dict[str, list[float]] = {a: [] for a in arms}
    wall: dict[str, list[float]] = {a: [] for a in arms}
    names = list(arms)
    try:
        for r in range(args.rounds):
            for i, q in enumerate(qs):
                for a in names if (i + r) % 2 == 0 else names[::-1]:
                    mode, km.MAX_TOKENS = arms[a]
                    w0, c0 = time.perf_counter(), time.thread_time()
                    col.search(q, 10, mode=mode)  # type: ignore[arg-type]
                    cpu[a].append(time.thread_time() - c0)
                    wall[a].append(time.perf_counter() - w0)
    finally:
        km.MAX_TOKENS = limit
        db.close()
    out = {a: {"wall_p50_ms": round(1000 * statistics.median(wall[a]), 3),
               "cpu_p50_ms": round(1000 * statistics.median(cpu[a]), 3),
               "cpu_mean_ms": round(1000 * statistics.fmean(cpu[a]), 3)} for a in arms}
    v = out["vector"]["cpu_p50_ms"]
    for a in ("hybrid-fts5", "hybrid-copy"):
        out[a]["own_cpu_p50_ms"] = round(out[a]["cpu_p50_ms"] - v, 3)
    print(json.dumps({"split": args.split, "queries": len(qs), "rounds": args.rounds, **out},
                     indent=1))


if __name__ == "__main__":
    main()
