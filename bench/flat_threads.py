"""Exact (flat) single-query search from many threads at once: calls/s at 1, 8 and 32 threads.

Guards the fix in ``akindb.index.flat`` (one BLAS scan at a time per process): without it,
concurrent scans made OpenBLAS's threads fight and throughput collapsed (1,280 -> 20 calls/s).

    python bench/flat_threads.py [--n 10000]
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ann_data import load_vectors

from akindb.index.flat import FlatIndex
from akindb.types import Metric


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--calls", type=int, default=400)
    a = ap.parse_args()
    base, q = load_vectors(100_000, embed=False)
    index = FlatIndex(base.shape[1], Metric.COSINE)
    index.add(np.arange(a.n), base[: a.n])
    for threads in (1, 8, 32):
        each = a.calls // threads

        def work(i: int, each: int = each) -> None:
            for x in q[i * each : (i + 1) * each]:
                index.search(x[None], 10)

        pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
        t0 = time.perf_counter()
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        print(f"{threads} threads: {each * threads / (time.perf_counter() - t0):.0f} calls/s")


if __name__ == "__main__":
    main()
