"""Does a reader's memory grow beside writers? A diagnostic for the soak's RSS figure.

Two writer processes upsert and delete over 1,000 ids each (writer 0 compacts every 60 s);
this process reads as ``soak.py``'s readers do (filtered and unfiltered ``search_vector``,
``get(where=...)``), prints its RSS (all, and without file-backed pages) every 2,000 reads,
and at the end the Python allocations that grew since 60 s (``tracemalloc``).

    python bench/reliability/rss_probe.py [SECONDS]
"""

from __future__ import annotations

import multiprocessing as mp
import random
import shutil
import sys
import time
import tracemalloc

import numpy as np
import psutil

import akindb

DB = "/tmp/akindb-rss-probe"
DIM = 32


def writer(wid: int, stop_at: float) -> None:
    db = akindb.open(DB)
    col = db.get_collection("c", model=None)
    rng = random.Random(wid)
    last = time.monotonic()
    while time.monotonic() < stop_at:
        ids = [f"w{wid}-{rng.randrange(1000)}" for _ in range(5)]
        if rng.random() < 0.2:
            col.delete(ids=ids[:1])
        else:
            vecs = np.random.default_rng(rng.randrange(1 << 30)).standard_normal((5, DIM))
            col.upsert([f"text {i} {rng.random()}" for i in ids], ids=ids,
                       vectors=vecs.astype(np.float32),
                       metadatas=[{"grp": rng.randrange(4)} for _ in ids])
        if wid == 0 and time.monotonic() - last > 60:
            col.compact()
            last = time.monotonic()
    db.close()


def _mem(proc: psutil.Process) -> str:
    m = proc.memory_info()
    return f"rss={m.rss / 2**20:.1f} anon={(m.rss - m.shared) / 2**20:.1f} MB"


def main(seconds: float) -> None:
    shutil.rmtree(DB, ignore_errors=True)
    db = akindb.open(DB)
    col = db.create_collection("c", model=None, dim=DIM, index="hnsw")
    col.add(["seed"], ids=["seed"], vectors=np.ones((1, DIM), np.float32),
            metadatas=[{"grp": 0}])
    stop_at = time.monotonic() + seconds
    procs = [mp.get_context("spawn").Process(target=writer, args=(w, stop_at)) for w in range(2)]
    for p in procs:
        p.start()
    proc, rng, t0 = psutil.Process(), np.random.default_rng(0), time.monotonic()
    snap: tracemalloc.Snapshot | None = None
    reads = 0
    while time.monotonic() < stop_at:
        g = int(rng.integers(4))
        col.search_vector(rng.standard_normal(DIM).astype(np.float32), k=10,
                          where={"grp": g} if rng.random() < 0.5 else None)
        col.get(where={"grp": g}, limit=20)
        reads += 1
        elapsed = time.monotonic() - t0
        if snap is None and elapsed > 60:
            tracemalloc.start(10)
            snap = tracemalloc.take_snapshot()
            print(f"t={elapsed:.0f}s reads={reads} {_mem(proc)} (tracing from here)", flush=True)
        if reads % 2000 == 0:
            print(f"t={elapsed:.0f}s reads={reads} {_mem(proc)}", flush=True)
    for p in procs:
        p.join()
    print(f"end reads={reads} {_mem(proc)}; log entries {col.index_stats()['built_seq']}")
    if snap is not None:
        for stat in tracemalloc.take_snapshot().compare_to(snap, "lineno")[:12]:
            print(stat)
    db.close()


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 240.0)
