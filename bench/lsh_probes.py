"""LSH recall against probes on real MiniLM vectors (issue 12.9), before and after sizing.

Same vectors as bench/ann.py (bench/ann_data.py: 10-word passages of Wikipedia, NFCorpus,
STS-B and SICK embedded by all-MiniLM-L6-v2; 1,000 held-out queries). For each setting:
recall@10 against exact search, the share of the collection re-ranked per query (candidates),
and queries/s one query per call with one BLAS thread (the best of 3 runs, as bench/ann.py).

Settings: ``16x12`` is the old fixed shape (16 tables x 12 bits, the old default), ``auto`` is
the shape ``auto_shape`` picks for this size; flat (exact, numpy) is the reference speed.
Then ``Collection.tune(0.95)`` on an lsh collection, once with sampled stored vectors and once
with 500 real queries, each checked on the other 500 held-out queries.

    python bench/ann_data.py --n 19480
    python bench/lsh_probes.py --n 19480
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # single-query timings, one thread
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ann_data import load_vectors

from akindb.index.flat import FlatIndex
from akindb.index.lsh import LshIndex
from akindb.index.lsh_probe import auto_shape
from akindb.types import Metric

K = 10
PROBES = [0, 1, 2, 4, 8, 16, 32, 64, 78, 128, 256, 512]
N_TIMED = 200  # queries timed one by one per setting


def _recall(got: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(g) & set(t)) / K for g, t in zip(got.tolist(),
                                                                  truth.tolist(), strict=True)]))


def _single_qps(fn: Any, q: np.ndarray) -> float:
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for row in q[:N_TIMED]:
            fn(row[None, :])
        best = min(best, time.perf_counter() - t0)
    return min(len(q), N_TIMED) / best


def sweep(base: np.ndarray, q: np.ndarray, truth: np.ndarray, **params: Any) -> list[str]:
    idx = LshIndex(base.shape[1], Metric.COSINE, **params)
    idx.add(np.arange(len(base), dtype=np.int64), base)
    idx.ready()
    nt, nb = idx.shape
    name = f"{nt}x{nb}" + (" (auto)" if not params else "")
    lines = []
    for p in PROBES:
        idx.set_knob(p)
        got, _ = idx.search(q, K)
        codes = idx._probe_codes(q[:N_TIMED], p)
        cand = np.mean([len(idx._bucket_rows(codes[i])) for i in range(len(codes))])
        qps = _single_qps(lambda x: idx.search(x, K), q)
        lines.append(f"| {name} | {p} | {_recall(got, truth):.3f} | "
                     f"{100 * cand / len(base):.1f} % | {qps:.0f} |")
        print(lines[-1], flush=True)
    stats = idx.search_stats()
    print(f"  {name}: widened {stats['widened']}, exact scans {stats['exact_scans']} "
          f"of {stats['queries']} queries", flush=True)
    return lines


def tune_check(base: np.ndarray, q: np.ndarray, truth: np.ndarray) -> list[str]:
    import akindb

    lines = []
    tune_q, held_q, held_truth = q[:500], q[500:], truth[500:]
    with tempfile.TemporaryDirectory() as tmp, akindb.open(Path(tmp) / "db") as db:
        col = db.create_collection("lsh", model=None, dim=base.shape[1], index="lsh")
        ids = [str(i) for i in range(len(base))]
        for lo in range(0, len(base), 10_000):
            col.add(ids=ids[lo : lo + 10_000], vectors=base[lo : lo + 10_000])
        for how, kw in (("200 sampled stored vectors", {}), ("500 real queries",
                                                            {"queries": tune_q})):
            report = col.tune(target_recall=0.95, **kw)
            res = col.search_vectors(held_q, k=K, include=[])["ids"]
            got = np.array([[int(x) for x in r] for r in res])
            line = (f"| tune(0.95) with {how} | probes {report['after']['value']} | "
                    f"{report['after']['recall']:.3f} | {_recall(got, held_truth):.3f} |")
            print(line, flush=True)
            lines.append(line)
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=19_480)
    a = ap.parse_args()
    base, q = load_vectors(a.n, embed=False)
    flat = FlatIndex(base.shape[1], Metric.COSINE)
    flat.add(np.arange(len(base), dtype=np.int64), base)
    truth, _ = flat.search(q, K)
    print(f"{len(base)} base vectors, {len(q)} held-out queries; auto shape "
          f"{auto_shape(len(base))}; flat single-query q/s "
          f"{_single_qps(lambda x: flat.search(x, K), q):.0f}")
    print("| shape | probes | recall@10 | re-ranked | q/s (1 query, 1 thread) |")
    print("|---|---|---|---|---|")
    sweep(base, q, truth, n_tables=16, n_bits=12)
    sweep(base, q, truth)
    print("| tuning | chosen | recall on tuning queries | recall on 500 held-out |")
    print("|---|---|---|---|")
    tune_check(base, q, truth)


if __name__ == "__main__":
    main()
