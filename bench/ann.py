"""ANN benchmark: akindb's collection API against raw HNSW libraries, numpy brute force and
whole-system peers, in one process, on the same real MiniLM vectors (bench/ann_data.py).

Systems: raw hnswlib, faiss (IndexHNSWFlat), usearch (f32), numpy matmul + argpartition,
akindb collections (hnsw on faiss, lsh, exact), chromadb (PersistentClient) and lancedb (flat
and IVF-PQ). All HNSWs are built with M=16, ef_construction=100 and both cores; each is swept over
its search width. Per setting: recall@10 against exact ground truth, queries/s one query per
call (1 thread), and batch queries/s with 1 and 2 threads where the system lets us choose.
Build: seconds (for our collection: durable ingest, then time until searchable through the
index), memory (RSS growth), disk. Each q/s is the best of ``REPEATS`` runs (see there).

    pip install -e '.[ann,bench]'
    python bench/ann_data.py --n 100000        # embeds and caches the vectors once
    python bench/ann.py --n 100000 [--skip chromadb,lancedb] [--json out.json]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ann_data import cache_path, load_shards, load_vectors

K = 10
M, EFC = 16, 100
EF_SWEEP = [16, 24, 32, 48, 64, 96, 128, 256]
CHROMA_EF = 64
SINGLE_BUDGET_S = 2.0  # single-query timing stops after this long (or all 1,000 queries)
REPEATS = 3
"""Every timing is taken REPEATS times and the best kept: on a shared machine a burst of
another job's work only ever slows a run down, so the fastest run is the closest to the
system's own speed (the usual best-of-N rule, as in ``timeit``)."""
Row = dict[str, Any]


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def dir_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def recall(found: Any, truth: np.ndarray) -> float:
    """Mean recall@10 over the queries answered (single-query runs may stop early)."""
    hits = 0
    for f, t in zip(found, truth[: len(found)], strict=True):
        hits += len(set(t.tolist()).intersection(list(f)[:K]))
    return hits / (K * len(found))


def exact_topk(base: np.ndarray, q: np.ndarray, k: int = K) -> np.ndarray:
    s = q @ base.T
    part = np.argpartition(-s, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(s, part, axis=1), axis=1)
    return np.take_along_axis(part, order, axis=1)


def timed_single(fn: Callable[[np.ndarray], Any], q: np.ndarray) -> tuple[list[Any], float]:
    """One query per call until all are done or the time budget runs out; (results, best q/s
    of REPEATS runs)."""
    best, keep = 0.0, []
    for _ in range(REPEATS):
        out: list[Any] = []
        t0 = time.perf_counter()
        for row in q:
            out.append(fn(row))
            if time.perf_counter() - t0 > SINGLE_BUDGET_S:
                break
        qps = len(out) / (time.perf_counter() - t0)
        if qps > best:
            best, keep = qps, out
    return keep, best


def timed_batch(fn: Callable[[np.ndarray], Any], q: np.ndarray) -> tuple[Any, float]:
    """All queries in one call; (results, best q/s of REPEATS runs)."""
    best, res = 0.0, None
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        res = fn(q)
        best = max(best, len(q) / (time.perf_counter() - t0))
    return res, best


def row(system: str, setting: str, **kw: Any) -> Row:
    r: Row = {"system": system, "setting": setting}
    r.update(kw)
    line = "  ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in r.items()
    )
    print(line, file=sys.stderr, flush=True)
    return r


# ---- systems ------------------------------------------------------------------------------


def bench_numpy(base: np.ndarray, q: np.ndarray, truth: np.ndarray) -> list[Row]:
    _, qps_b = timed_batch(lambda x: exact_topk(base, x), q)
    found, qps_1 = timed_single(lambda x: exact_topk(base, x[None])[0], q)
    return [row("numpy brute force", "matmul+argpartition", recall=recall(found, truth),
                qps_single=qps_1, qps_batch_2t=qps_b)]


def bench_hnswlib(base: np.ndarray, q: np.ndarray, truth: np.ndarray) -> list[Row]:
    import hnswlib

    gc.collect()
    m0, t0 = rss_mb(), time.perf_counter()
    idx = hnswlib.Index(space="ip", dim=base.shape[1])
    idx.init_index(max_elements=len(base), M=M, ef_construction=EFC, random_seed=100)
    idx.add_items(base, np.arange(len(base)), num_threads=2)
    build, mem = time.perf_counter() - t0, rss_mb() - m0
    with tempfile.TemporaryDirectory() as d:
        idx.save_index(f"{d}/h.bin")
        disk = os.path.getsize(f"{d}/h.bin") / 2**20
    rows = []
    for ef in EF_SWEEP:
        idx.set_ef(ef)
        _found, qps_1 = timed_single(lambda x: idx.knn_query(x, k=K, num_threads=1)[0][0], q)
        res1, qps_b1 = timed_batch(lambda x: idx.knn_query(x, k=K, num_threads=1)[0], q)
        _, qps_b2 = timed_batch(lambda x: idx.knn_query(x, k=K, num_threads=2)[0], q)
        rows.append(row("hnswlib", f"ef={ef}", build_s=build, mem_mb=mem, disk_mb=disk,
                        recall=recall(res1, truth), qps_single=qps_1, qps_batch_1t=qps_b1,
                        qps_batch_2t=qps_b2))
    return rows


def bench_faiss(base: np.ndarray, q: np.ndarray, truth: np.ndarray) -> list[Row]:
    import faiss

    gc.collect()
    faiss.omp_set_num_threads(2)
    m0, t0 = rss_mb(), time.perf_counter()
    idx = faiss.IndexHNSWFlat(base.shape[1], M, faiss.METRIC_INNER_PRODUCT)
    idx.hnsw.efConstruction = EFC
    idx.add(base)
    build, mem = time.perf_counter() - t0, rss_mb() - m0
    disk = len(faiss.serialize_index(idx)) / 2**20
    rows = []
    for ef in EF_SWEEP:
        idx.hnsw.efSearch = ef
        faiss.omp_set_num_threads(1)
        _found, qps_1 = timed_single(lambda x: idx.search(x[None], K)[1][0], q)
        res1, qps_b1 = timed_batch(lambda x: idx.search(x, K)[1], q)
        faiss.omp_set_num_threads(2)
        _, qps_b2 = timed_batch(lambda x: idx.search(x, K)[1], q)
        rows.append(row("faiss HNSWFlat", f"ef={ef}", build_s=build, mem_mb=mem, disk_mb=disk,
                        recall=recall(res1, truth), qps_single=qps_1, qps_batch_1t=qps_b1,
                        qps_batch_2t=qps_b2))
    return rows


def bench_usearch(base: np.ndarray, q: np.ndarray, truth: np.ndarray) -> list[Row]:
    from usearch.index import Index

    gc.collect()
    m0, t0 = rss_mb(), time.perf_counter()
    idx = Index(ndim=base.shape[1], metric="ip", dtype="f32", connectivity=M, expansion_add=EFC)
    idx.add(np.arange(len(base)), base, threads=2)
    build, mem = time.perf_counter() - t0, rss_mb() - m0
    disk = len(idx.save()) / 2**20
    rows = []
    for ef in EF_SWEEP:
        idx.expansion_search = ef
        _found, qps_1 = timed_single(lambda x: idx.search(x, K, threads=1).keys, q)
        res1, qps_b1 = timed_batch(lambda x: idx.search(x, K, threads=1).keys, q)
        _, qps_b2 = timed_batch(lambda x: idx.search(x, K, threads=2).keys, q)
        rows.append(row("usearch f32", f"ef={ef}", build_s=build, mem_mb=mem, disk_mb=disk,
                        recall=recall(res1, truth), qps_single=qps_1, qps_batch_1t=qps_b1,
                        qps_batch_2t=qps_b2))
    return rows


def _akindb_collection(
    base: np.ndarray, kind: str, params: dict[str, Any], work: Path
) -> tuple[Any, Any, Row]:
    import akindb

    gc.collect()
    m0 = rss_mb()
    db = akindb.open(work / f"db-{kind}")
    col = db.create_collection("bench", model=None, dim=base.shape[1], index=kind,
                               index_params=params)
    ids = [str(i) for i in range(len(base))]
    t0 = time.perf_counter()
    for lo in range(0, len(base), 10_000):
        col.add(ids=ids[lo : lo + 10_000], vectors=base[lo : lo + 10_000])
    ingest = time.perf_counter() - t0
    col.search_vector(base[0], k=K)  # builds the index from SQLite
    searchable = time.perf_counter() - t0
    col.flush()
    info = {"ingest_vps": len(base) / ingest, "searchable_s": searchable,
            "mem_mb": rss_mb() - m0, "disk_mb": dir_mb(work / f"db-{kind}")}
    return db, col, info


def _ids(res: Any) -> list[list[int]]:
    return [[int(x) for x in r] for r in res]


def bench_akindb_hnsw(base: np.ndarray, q: np.ndarray, truth: np.ndarray, work: Path) -> list[Row]:
    db, col, info = _akindb_collection(base, "hnsw", {"M": M, "ef_construction": EFC}, work)
    rows = []
    try:
        for ef in EF_SWEEP:
            col.parts.live.set_knob(ef)
            col.search_vectors(q[:50], k=K, include=[])  # warm the chunk -> id cache
            res, qps_b = timed_batch(lambda x: col.search_vectors(x, k=K, include=[])["ids"], q)
            _, qps_1 = timed_single(lambda x: [int(h.id) for h in col.search_vector(x, k=K)], q)
            rows.append(row("akindb hnsw", f"ef={ef}", **info, recall=recall(_ids(res), truth),
                            qps_single_hits=qps_1, qps_batch_2t=qps_b))
        col.search_vectors(q[:50], k=K, exact=True, include=[])  # builds the flat beside
        res, qps_b = timed_batch(
            lambda x: col.search_vectors(x, k=K, exact=True, include=[])["ids"], q
        )
        _found, qps_1 = timed_single(
            lambda x: [int(h.id) for h in col.search_vector(x, k=K, exact=True)], q
        )
        rows.append(row("akindb exact", "exact=True", recall=recall(_ids(res), truth),
                        qps_single_hits=qps_1, qps_batch_2t=qps_b))
        t0 = time.perf_counter()
        rep = col.tune(target_recall=0.95)
        rows.append(row("akindb hnsw", "tune(0.95)", tune_s=time.perf_counter() - t0,
                        chosen=rep["after"]["value"], tune_recall=rep["after"]["recall"]))
    finally:
        db.close()
    return rows


def bench_akindb_lsh(base: np.ndarray, q: np.ndarray, truth: np.ndarray, work: Path) -> list[Row]:
    db, col, info = _akindb_collection(base, "lsh", {}, work)
    rows = []
    try:
        for probes in (0, 4, 16, 64, 256):
            col.parts.live.set_knob(probes)
            res, qps_b = timed_batch(lambda x: col.search_vectors(x, k=K, include=[])["ids"], q)
            rows.append(row("akindb lsh", f"probes={probes}", **info,
                            recall=recall(_ids(res), truth), qps_batch_2t=qps_b))
    finally:
        db.close()
    return rows


def bench_chromadb(base: np.ndarray, q: np.ndarray, truth: np.ndarray, work: Path) -> list[Row]:
    import chromadb

    gc.collect()
    m0 = rss_mb()
    client = chromadb.PersistentClient(path=str(work / "chroma"))
    # ef_search is fixed at creation here: col.modify() did not change recall (chromadb 1.5.9).
    col = client.create_collection(
        "bench", embedding_function=None,
        configuration={"hnsw": {"space": "ip", "ef_construction": EFC, "max_neighbors": M,
                                "ef_search": CHROMA_EF}},
    )
    ids = [str(i) for i in range(len(base))]
    step = min(5000, client.get_max_batch_size())
    t0 = time.perf_counter()
    for lo in range(0, len(base), step):
        col.add(ids=ids[lo : lo + step], embeddings=base[lo : lo + step])
    ingest = time.perf_counter() - t0
    col.query(query_embeddings=base[:1], n_results=K, include=[])
    searchable = time.perf_counter() - t0
    info = {"ingest_vps": len(base) / ingest, "searchable_s": searchable,
            "mem_mb": rss_mb() - m0, "disk_mb": dir_mb(work / "chroma")}
    rows = []
    found, qps_1 = timed_single(
        lambda x: col.query(query_embeddings=x[None], n_results=K, include=[])["ids"][0], q
    )
    res, qps_b = timed_batch(
        lambda x: col.query(query_embeddings=x, n_results=K, include=[])["ids"], q
    )
    rows.append(row("chromadb", f"ef={CHROMA_EF} include=[]", **info,
                    recall=recall(_ids(res), truth), qps_single=qps_1, qps_batch_2t=qps_b))
    found, qps_1 = timed_single(
        lambda x: col.query(query_embeddings=x[None], n_results=K,
                            include=["documents", "metadatas", "distances"])["ids"][0], q
    )
    rows.append(row("chromadb", f"ef={CHROMA_EF} with documents", qps_single=qps_1,
                    recall=recall(_ids([[int(i) for i in f] for f in found]),
                                  truth[: len(found)])))
    return rows


def bench_lancedb(base: np.ndarray, q: np.ndarray, truth: np.ndarray, work: Path) -> list[Row]:
    import lancedb
    import pyarrow as pa

    gc.collect()
    m0 = rss_mb()
    db = lancedb.connect(str(work / "lance"))
    dim = base.shape[1]
    vec = pa.FixedSizeListArray.from_arrays(pa.array(base.ravel(), type=pa.float32()), dim)
    t0 = time.perf_counter()
    tbl = db.create_table("bench", pa.table({"id": pa.array(np.arange(len(base))), "vector": vec}))
    ingest = time.perf_counter() - t0
    rows = []
    info = {"ingest_vps": len(base) / ingest, "mem_mb": rss_mb() - m0,
            "disk_mb": dir_mb(work / "lance")}

    def one(x: np.ndarray, **kw: Any) -> list[int]:
        s = tbl.search(x).distance_type("dot").limit(K).select(["id"])
        for name, value in kw.items():
            s = getattr(s, name)(value)
        return [int(r["id"]) for r in s.to_list()]

    found, qps_1 = timed_single(one, q)
    rows.append(row("lancedb", "flat", **info, recall=recall(found, truth[: len(found)]),
                    qps_single=qps_1))
    t0 = time.perf_counter()
    tbl.create_index(metric="dot", num_partitions=256, num_sub_vectors=48,
                     vector_column_name="vector")
    build = time.perf_counter() - t0
    for nprobes, refine in ((20, 10), (50, 20)):
        found, qps_1 = timed_single(
            lambda x, p=nprobes, r=refine: one(x, nprobes=p, refine_factor=r), q  # type: ignore[misc]
        )
        rows.append(row("lancedb", f"IVF-PQ nprobes={nprobes} refine={refine}", build_s=build,
                        disk_mb=dir_mb(work / "lance"),
                        recall=recall(found, truth[: len(found)]), qps_single=qps_1))
    return rows


# ---- summary ------------------------------------------------------------------------------


def best_at(rows: list[Row], system: str, field: str, target: float = 0.95) -> Row | None:
    ok = [r for r in rows if r["system"] == system and r.get("recall", 0) >= target
          and field in r]
    return max(ok, key=lambda r: r[field]) if ok else None


def summary(rows: list[Row]) -> list[str]:
    out = []
    raw = [best_at(rows, s, "qps_batch_2t") for s in ("hnswlib", "faiss HNSWFlat", "usearch f32")]
    raw_ok = [r for r in raw if r]
    ours = best_at(rows, "akindb hnsw", "qps_batch_2t")
    if raw_ok and ours:
        fastest = max(raw_ok, key=lambda r: r["qps_batch_2t"])
        out.append(
            f"batch ids-only, recall>=0.95: akindb {ours['qps_batch_2t']:.0f} q/s "
            f"({ours['setting']}) "
            f"vs fastest raw {fastest['system']} {fastest['qps_batch_2t']:.0f} q/s "
            f"({fastest['setting']}): ratio {ours['qps_batch_2t'] / fastest['qps_batch_2t']:.2f} "
            "(goal >= 0.9)"
        )
    single = best_at(rows, "akindb hnsw", "qps_single_hits")
    chroma = best_at(rows, "chromadb", "qps_single")
    if single and chroma:
        out.append(
            "single query, recall>=0.95: akindb with text+metadata "
            f"{single['qps_single_hits']:.0f} "
            f"q/s vs chromadb ids-only {chroma['qps_single']:.0f} q/s: ratio "
            f"{single['qps_single_hits'] / chroma['qps_single']:.1f} (goal >= 5)"
        )
        for system in ("hnswlib", "faiss HNSWFlat", "usearch f32"):
            raw_1 = best_at(rows, system, "qps_single")
            if raw_1:
                out.append(
                    f"  ceiling: raw {system} ids-only {raw_1['qps_single']:.0f} q/s "
                    f"({raw_1['setting']}) = {raw_1['qps_single'] / chroma['qps_single']:.1f}x "
                    "chromadb; akindb with text = "
                    f"{single['qps_single_hits'] / raw_1['qps_single']:.2f}x it"
                )
    ex = next((r for r in rows if r["system"] == "akindb exact"), None)
    npr = next((r for r in rows if r["system"] == "numpy brute force"), None)
    if ex and npr:
        out.append(
            f"exact batch: akindb {ex['qps_batch_2t']:.0f} q/s vs numpy {npr['qps_batch_2t']:.0f}"
            f" q/s: ratio {ex['qps_batch_2t'] / npr['qps_batch_2t']:.2f} (goal >= 0.8)"
        )
    a = next((r for r in rows if r["system"] == "akindb hnsw" and "ingest_vps" in r), None)
    c = next((r for r in rows if r["system"] == "chromadb" and "ingest_vps" in r), None)
    if a and c:
        out.append(
            f"durable ingest: akindb {a['ingest_vps']:.0f} vec/s vs chromadb {c['ingest_vps']:.0f}"
            f" vec/s: ratio {a['ingest_vps'] / c['ingest_vps']:.2f} (goal >= 2); searchable "
            f"through HNSW after {a['searchable_s']:.1f} s vs chromadb {c['searchable_s']:.1f} s"
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--skip", default="", help="comma list: hnswlib,faiss,usearch,numpy,"
                    "akindb,lsh,chromadb,lancedb")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--npz", type=Path, default=None, help="use base/queries from this file")
    ap.add_argument("--shards", action="store_true",
                    help="use the shards embedded so far (up to --n) instead of the full cache")
    a = ap.parse_args()
    if a.npz:
        z = np.load(a.npz)
        base, q = z["base"][: a.n], z["queries"]
    elif a.shards:
        base, q = load_shards(a.n)
    else:
        base, q = load_vectors(a.n, embed=False)
    base = np.ascontiguousarray(base, dtype=np.float32)
    q = np.ascontiguousarray(q, dtype=np.float32)
    print(f"data: {len(base)} x {base.shape[1]} base, {len(q)} queries "
          f"({a.npz or cache_path(a.n)}); cores: {os.cpu_count()}", file=sys.stderr)
    truth = exact_topk(base, q)
    skip = set(filter(None, a.skip.split(",")))
    rows: list[Row] = []
    work = Path(tempfile.mkdtemp(prefix="akindb-ann-"))
    try:
        steps: list[tuple[str, Callable[[], list[Row]]]] = [
            ("numpy", lambda: bench_numpy(base, q, truth)),
            ("hnswlib", lambda: bench_hnswlib(base, q, truth)),
            ("faiss", lambda: bench_faiss(base, q, truth)),
            ("usearch", lambda: bench_usearch(base, q, truth)),
            ("akindb", lambda: bench_akindb_hnsw(base, q, truth, work)),
            ("lsh", lambda: bench_akindb_lsh(base, q, truth, work)),
            ("chromadb", lambda: bench_chromadb(base, q, truth, work)),
            ("lancedb", lambda: bench_lancedb(base, q, truth, work)),
        ]
        for name, fn in steps:
            if name not in skip:
                rows.extend(fn())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lines = summary(rows)
    for line in lines:
        print(line)
    if a.json:
        a.json.write_text(json.dumps({"n": len(base), "rows": rows, "summary": lines}, indent=1))


if __name__ == "__main__":
    main()
