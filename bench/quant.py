"""Quantised vectors side by side: float32 flat (exact) vs akindb's ``quantized`` index with int8
and binary codes at several oversample values, on real MiniLM vectors (bench/ann_data.py).

Per row: RAM the index holds (bytes per vector and MB: for ``quantized`` the codes, labels and
live flags; the float vectors stay in the memory-mapped index file), recall@10 against exact
search, queries/s for one batch of all 1,000 queries and for one query per call (the first
``N_SINGLE``), and how many MB of the mapped float file the batch paged in (clean file pages
the kernel may drop; from ``/proc/self/smaps``). faiss (SQ8 + exact refine, both in RAM) is a
speed reference where installed.

    python bench/ann_data.py --n 100000        # embeds and caches the vectors once
    python bench/quant.py --n 100000 [--out quant.md]

Uses the full cache when it exists, else the shards embedded so far (``load_shards``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ann_data import load_shards, load_vectors

from akindb.index.flat import FlatIndex
from akindb.index.quantized import QuantizedIndex
from akindb.types import Metric

K = 10
N_SINGLE = 200
SWEEP = {"int8": [1, 2, 4, 8], "binary": [4, 8, 16, 32, 64]}
Row = dict[str, Any]


def mapped_mb(path: Path) -> float:
    """Resident MB of this process's mappings of ``path`` (its pages in our address space)."""
    total, inside = 0, False
    name = str(path.resolve())
    with open("/proc/self/smaps") as fh:
        for line in fh:
            head = line.split()
            if len(head) >= 5 and "-" in head[0] and ":" in head[3]:  # a mapping's first line
                inside = line.rstrip().endswith(name)
            elif inside and line.startswith("Rss:"):
                total += int(head[1])
    return total / 1024


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    hits = sum(len(set(f.tolist()) & set(t.tolist())) for f, t in zip(found, truth, strict=True))
    return hits / (K * len(truth))


def timed(fn: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def single_qps(search: Any, q: np.ndarray) -> float:
    t0 = time.perf_counter()
    for i in range(min(N_SINGLE, len(q))):
        search(q[i : i + 1], K)
    return min(N_SINGLE, len(q)) / (time.perf_counter() - t0)


def bench_flat(base: np.ndarray, q: np.ndarray, labels: np.ndarray) -> tuple[Row, np.ndarray]:
    flat = FlatIndex(base.shape[1], Metric.COSINE)
    flat.add(labels, base)
    (truth, _), dt = timed(lambda: flat.search(q, K))
    mem = flat.vectors().nbytes + 8 * len(base)
    return {"system": "float32 flat (exact)", "setting": "–", "bytes": mem, "recall": 1.0,
            "qps": len(q) / dt, "single": single_qps(flat.search, q), "paged": None,
            "build": 0.0}, truth


def bench_quantized(
    codes: str, base: np.ndarray, q: np.ndarray, labels: np.ndarray, truth: np.ndarray,
    work: Path,
) -> list[Row]:
    path = work / f"{codes}.quantized"
    t0 = time.perf_counter()
    built = QuantizedIndex(base.shape[1], Metric.COSINE, codes=codes)
    built.add(labels, base)
    built.save(path, collection_uuid="bench", built_seq=0)
    build = time.perf_counter() - t0
    del built
    rows = []
    for over in SWEEP[codes]:
        loaded, _ = QuantizedIndex.load(path)  # fresh mapping: nothing paged in yet
        assert isinstance(loaded, QuantizedIndex)
        loaded.set_knob(over)
        (found, _), dt = timed(lambda ix=loaded: ix.search(q, K))
        paged = mapped_mb(path)
        rows.append({"system": f"akindb quantized {codes}", "setting": f"oversample={over}",
                     "bytes": loaded.memory_bytes(), "recall": recall(found, truth),
                     "qps": len(q) / dt, "single": single_qps(loaded.search, q),
                     "paged": paged, "build": build})
        del loaded
    return rows


def bench_faiss(base: np.ndarray, q: np.ndarray, truth: np.ndarray) -> list[Row]:
    try:
        import faiss
    except ImportError:
        return []
    d = base.shape[1]
    sq = faiss.IndexScalarQuantizer(d, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
    ref = faiss.IndexRefineFlat(sq)
    _, build = timed(lambda: (ref.train(base), ref.add(base)))
    rows = []
    for over in SWEEP["int8"]:
        params = faiss.IndexRefineSearchParameters(k_factor=over)
        (res, dt) = timed(lambda p=params: ref.search(q, K, params=p))
        rows.append({"system": f"faiss {faiss.__version__} SQ8 + RefineFlat (floats in RAM)",
                     "setting": f"k_factor={over}", "bytes": (d + 4 * d) * len(base),
                     "recall": recall(res[1], truth), "qps": len(q) / dt,
                     "single": single_qps(lambda x, k, p=params: ref.search(x, k, params=p), q),
                     "paged": None, "build": build})
    return rows


def table(rows: list[Row], n: int) -> list[str]:
    out = [
        "| system | setting | RAM bytes/vector | RAM MB | recall@10 | q/s batch | q/s single "
        "| mapped floats paged in | build s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        paged = "–" if r["paged"] is None else f"{r['paged']:.0f} MB"
        out.append(
            f"| {r['system']} | {r['setting']} | {r['bytes'] / n:.0f} | {r['bytes'] / 2**20:.1f} "
            f"| {r['recall']:.3f} | {r['qps']:,.0f} | {r['single']:,.0f} | {paged} "
            f"| {r['build']:.1f} |"
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--out", type=Path, default=None, help="also write the table here")
    a = ap.parse_args()
    try:
        base, q = load_vectors(a.n, embed=False)
        source = "full cache"
    except FileNotFoundError:
        base, q = load_shards(a.n)
        source = "shards embedded so far"
    base = np.ascontiguousarray(base, dtype=np.float32)
    q = np.ascontiguousarray(q, dtype=np.float32)
    labels = np.arange(len(base), dtype=np.int64)
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    head = [
        f"data: {len(base):,} x {base.shape[1]} MiniLM base vectors ({source}), "
        f"{len(q):,} queries; cores: {os.cpu_count()}; numpy {np.__version__}",
        f"uptime at start: {load}",
    ]
    print("\n".join(head), file=sys.stderr, flush=True)
    work = Path(tempfile.mkdtemp(prefix="akindb-quant-"))
    try:
        flat_row, truth = bench_flat(base, q, labels)
        rows = [flat_row]
        for codes in ("int8", "binary"):
            rows.extend(bench_quantized(codes, base, q, labels, truth, work))
        rows.extend(bench_faiss(base, q, truth))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    lines = [*head, f"uptime at end: {load}", "", *table(rows, len(base))]
    print("\n".join(lines))
    if a.out:
        a.out.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
