"""Why ``tune(0.95)`` without queries over-shoots at 100k (issue 14 part 4): recall curves.

On one collection graph (HNSW M=16, ef_construction=100, as bench/latency.py builds it) this
prints, per ef_search, the recall@10 of:

* ``real``: the 1,000 held-out real queries on the collection's own graph (what a user gets);
* ``g<m>``: ``--nq`` stored vectors held out of a fresh side graph of ``m`` other stored
  vectors (m = 5k, 10k, 20k, ... and n - nq: the collection's size), each against the exact
  top-10 of that graph's vectors; how recall falls with size and whether held-out stored
  vectors are harder or easier than real queries at the same size;
* ``extrap``: the estimator of session 7 (20k and 10k graphs, per-query extrapolation over
  log2(n / 20k) doublings), with its 95 % interval, for ``--nq`` queries;
* ``self``: stored vectors searched in the collection's graph with their own match left out
  (the in-graph bias).

    AKINDB_BENCH_CACHE=bench/.cache python bench/tune_scale.py --db /tmp/akindb_latency_100000
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import akindb
from akindb.collection.tune_queries import mean_ci
from akindb.index.flat import FlatIndex
from akindb.index.registry import make_index

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ann_data import load_vectors

K = 10
GRID = [10, 16, 24, 32, 40, 48, 56, 64, 80, 96]


def per_query(found: np.ndarray, truth: list[set[int]]) -> list[float]:
    return [len(t.intersection(f)) / len(t) for f, t in zip(found.tolist(), truth, strict=True)]


def curve(index: Any, q: np.ndarray, truth: list[set[int]]) -> dict[int, list[float]]:
    out = {}
    for ef in GRID:
        index.set_knob(ef)
        index.ready()
        found, _ = index.search(q, K)
        out[ef] = per_query(found, truth)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--n", type=int, default=None, help="vector cache size (default: db size)")
    ap.add_argument("--nq", type=int, default=1000)
    ap.add_argument("--sizes", default="5000,10000,20000,40000")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json")
    a = ap.parse_args()
    rows: dict[str, Any] = {}
    with akindb.open(a.db, create=False) as db:
        col = db.get_collection("c")
        live = col.parts.live
        index = live.get()
        labels = index.labels()
        n = len(labels)
        vecs = index.vectors_of(labels)
        _, qs = load_vectors(a.n or n, embed=False)
        flat = FlatIndex(index.dim, live.metric)
        flat.add(labels, vecs)
        t_real, _ = flat.search(qs, K)
        real = curve(index, qs, [set(r) for r in t_real.tolist()])
        rows["real"] = {ef: mean_ci(v) for ef, v in real.items()}
        rng = np.random.default_rng(a.seed)
        perm = rng.permutation(n)
        q_lab = np.sort(labels[perm[: a.nq]])
        qv = index.vectors_of(q_lab)
        t_self, _ = flat.search(qv, K + 1)
        truth_self = [set(r) - {me} for r, me in zip(t_self.tolist(), q_lab.tolist(),
                                                     strict=True)]
        self_c = {}
        for ef in GRID:
            index.set_knob(ef)
            found, _ = index.search(qv, K + 1)
            self_c[ef] = mean_ci([len(t.intersection([x for x in f if x != me][:K])) / len(t)
                                  for f, t, me in zip(found.tolist(), truth_self,
                                                      q_lab.tolist(), strict=True)])
        rows["self"] = self_c
        rest = perm[a.nq :]
        sizes = [int(s) for s in a.sizes.split(",") if int(s) < len(rest)] + [len(rest)]
        per: dict[int, dict[int, list[float]]] = {}
        for m in sizes:
            g_lab = np.sort(labels[rest[:m]])
            gv = index.vectors_of(g_lab)
            t0 = time.perf_counter()
            g = make_index(live.kind, live.dim, live.metric, live.params)
            g.add(g_lab, gv)
            g.ready()
            build = time.perf_counter() - t0
            f2 = FlatIndex(index.dim, live.metric)
            f2.add(g_lab, gv)
            tr, _ = f2.search(qv, K)
            per[m] = curve(g, qv, [set(r) for r in tr.tolist()])
            rows[f"g{m}"] = {ef: mean_ci(v) for ef, v in per[m].items()}
            rows[f"g{m}"]["build_s"] = round(build, 1)
            print(f"graph {m}: built in {build:.1f}s", file=sys.stderr)
        if 20000 in per and 10000 in per and n > 20000:
            steps = float(np.log2(n / 20000))
            for nq in (200, a.nq):
                rows[f"extrap{nq}"] = {
                    ef: mean_ci([min(1.0, max(0.0, b - (s - b) * steps)) for b, s in
                                 zip(per[20000][ef][:nq], per[10000][ef][:nq], strict=True)])
                    for ef in GRID}
    print(f"n={n}, held-out stored queries {a.nq}, real queries {len(qs)}")
    print("ef     " + "".join(f"{name:>22}" for name in rows))
    for ef in GRID:
        cells = []
        for r in rows.values():
            m, lo, hi = r[ef]
            cells.append(f"{m:.4f} [{lo:.3f},{hi:.3f}]")
        print(f"{ef:<7}" + "".join(f"{c:>22}" for c in cells))
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
