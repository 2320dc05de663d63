"""Can a different graph or index make one query faster at recall@10 >= 0.95? (issue 3)

The single-query goal (akindb with text >= 5x chromadb ids-only) leaves ~356 us per query on
this machine, and faiss's plain HNSW walk alone takes ~325 us of it (docs/benchmarks.md). This
script measures the variants one could switch to, raw faiss, one query per call, one thread,
on the same 100k real MiniLM vectors and 1,000 held-out queries as ``bench/ann.py``:

* HNSW M=16, ef_construction=100 (the benchmark's setting, the baseline) and 200 (akindb's
  default), M=32;
* HNSW walking scalar-quantised vectors (fp16, int8), the same top-k re-scored exactly;
* the baseline graph renumbered so that vectors of one k-means cluster sit together in memory
  (``permute_entries``: better cache locality for the walk);
* IVF-flat with 1,024 lists (contiguous scans instead of a graph walk).

For each it prints the fastest setting that reaches recall@10 >= 0.95 and its ratio to the
baseline.

    python bench/engine_variants.py [--npz FILE]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ann import K, exact_topk, recall, timed_single
from ann_data import load_vectors


def rescored(base: np.ndarray, ids: np.ndarray, x: np.ndarray) -> np.ndarray:
    ids = ids[ids >= 0]
    s = base[ids] @ x
    return ids[np.argsort(-s)[:K]]


def main() -> None:
    import faiss

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--npz", type=Path, default=None)
    a = ap.parse_args()
    if a.npz:
        z = np.load(a.npz)
        base, q = z["base"], z["queries"]
    else:
        base, q = load_vectors(100_000, embed=False)
    base = np.ascontiguousarray(base, dtype=np.float32)
    q = np.ascontiguousarray(q, dtype=np.float32)
    truth = exact_topk(base, q)
    ip = faiss.METRIC_INNER_PRODUCT
    sq = faiss.ScalarQuantizer

    def hnsw(m: int, efc: int) -> Any:
        idx = faiss.IndexHNSWFlat(base.shape[1], m, ip)
        idx.hnsw.efConstruction = efc
        return idx

    def hnsw_sq(kind: int) -> Any:
        idx = faiss.IndexHNSWSQ(base.shape[1], kind, 16, ip)
        idx.hnsw.efConstruction = 100
        return idx

    perms: dict[int, np.ndarray] = {}

    def permuted() -> Any:
        idx = hnsw(16, 100)
        faiss.omp_set_num_threads(2)
        idx.add(base)
        km = faiss.Kmeans(base.shape[1], 1024, niter=10, seed=1, spherical=True)
        km.train(base)
        assign = km.index.search(base, 1)[1].ravel()
        perm = np.argsort(assign, kind="stable").astype(np.int64)
        idx.permute_entries(perm)
        perms[id(idx)] = perm  # answers are renumbered back through it
        return idx

    variants: list[tuple[str, Callable[[], Any], str, list[int]]] = [
        ("HNSW M=16 efc=100 (baseline)", lambda: hnsw(16, 100), "ef", [32, 40, 48, 64]),
        ("HNSW M=16 efc=200", lambda: hnsw(16, 200), "ef", [32, 40, 48, 64]),
        ("HNSW M=32 efc=100", lambda: hnsw(32, 100), "ef", [24, 32, 40, 48]),
        ("HNSW fp16 walk + exact re-score", lambda: hnsw_sq(sq.QT_fp16), "ef", [32, 40, 48, 64]),
        ("HNSW int8 walk + exact re-score", lambda: hnsw_sq(sq.QT_8bit), "ef", [32, 40, 48, 64]),
        ("HNSW M=16 efc=100, cluster order", permuted, "ef", [32, 40, 48, 64]),
        ("IVF-flat 1024 lists", lambda: faiss.IndexIVFFlat(faiss.IndexFlatIP(base.shape[1]),
                                                           base.shape[1], 1024, ip),
         "nprobe", [32, 64, 96, 128]),
    ]
    results: list[tuple[str, float, str, float]] = []
    for name, make, knob, sweep in variants:
        faiss.omp_set_num_threads(2)
        t0 = time.perf_counter()
        idx = make()
        if idx.ntotal == 0:
            if not idx.is_trained:
                idx.train(base)
            idx.add(base)
        build = time.perf_counter() - t0
        faiss.omp_set_num_threads(1)
        perm = perms.get(id(idx))
        rescore = "re-score" in name
        best: tuple[float, str, float] | None = None
        for v in sweep:
            if knob == "ef":
                idx.hnsw.efSearch = v
            else:
                idx.nprobe = v

            def one(
                x: np.ndarray, idx: Any = idx, perm: Any = perm, rescore: bool = rescore
            ) -> np.ndarray:
                ids = idx.search(x[None], K)[1][0]
                if rescore:
                    ids = rescored(base, ids, x)
                return ids if perm is None else perm[ids]

            found, qps = timed_single(one, q)
            r = recall(found, truth)
            print(f"{name:36s} {knob}={v:<4d} recall {r:.3f}  {qps:7.0f} q/s  "
                  f"(build {build:.0f} s)", flush=True)
            if r >= 0.95 and (best is None or qps > best[0]):
                best = (qps, f"{knob}={v}", r)
        if best:
            results.append((name, best[0], best[1], best[2]))
        else:
            results.append((name, 0.0, "none reaches 0.95", 0.0))
    base_qps = results[0][1]
    print("\nfastest single-query setting at recall@10 >= 0.95 (one thread):")
    for name, qps, setting, r in results:
        ratio = f"{qps / base_qps:.2f}x baseline" if qps else "-"
        print(f"  {name:36s} {setting:18s} {qps:7.0f} q/s  recall {r:.3f}  {ratio}")


if __name__ == "__main__":
    main()
