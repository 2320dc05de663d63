"""Lifecycle benchmarks (issue 16): export/import throughput and peak RSS, backup under two
writers (time, writer stall p99), recall-monitor overhead on query p50, dupes on planted
duplicates (time, precision, recall).

Vectors are synthetic (384-d, unit-normalised, drawn around 2,000 seeded cluster centres, so
neighbours exist but most pairs are far apart): the point is the machinery's cost, and
embedding 100k texts on two cores would take most of an hour. Texts are ~200 characters.
Each export/import runs in a fresh Python process so its peak RSS (``ru_maxrss``) is its own.
Databases are cached under bench/.cache/lifecycle/.

    nice -n 10 python bench/lifecycle.py --sizes 10000 100000 [--json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / "bench" / ".cache" / "lifecycle"
DIM = 384


def vectors(n: int, seed: int = 0, centers: int = 2000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centers, DIM)).astype(np.float32)
    v = c[rng.integers(0, centers, n)] + 1.2 * rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def texts(n: int, start: int = 0) -> list[str]:
    return [f"document {i}: " + " ".join(f"word{(i * 31 + j * 7) % 9973}" for j in range(24))
            for i in range(start, start + n)]


def build(n: int, index: str = "flat") -> Path:
    import akindb

    path = CACHE / f"db_{index}_{n}"
    if (path / "done").exists():
        return path
    shutil.rmtree(path, ignore_errors=True)
    db = akindb.open(path)
    col = db.create_collection("docs", model=None, dim=DIM, index=index)
    vecs = vectors(n)
    step = 5000
    for lo in range(0, n, step):
        hi = min(n, lo + step)
        col.add(texts(hi - lo, lo), vectors=vecs[lo:hi], ids=[f"d{i}" for i in range(lo, hi)],
                metadatas=[{"n": i} for i in range(lo, hi)])
    col.search_vector(vecs[0], 1)
    db.close()
    (path / "done").write_text("ok")
    return path


# ---- export / import, each in its own process -------------------------------------------------
def _child(args: list[str]) -> dict[str, Any]:
    res = subprocess.run([sys.executable, __file__, "_child", *args], capture_output=True,
                         text=True, check=True, env={"PYTHONPATH": str(REPO / "src"),
                                                     "PATH": "/usr/bin:/bin"})
    return dict(json.loads(res.stdout.strip().splitlines()[-1]))


def _status_kb(field: str = "RssAnon") -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _anon_kb() -> int:
    return _status_kb("RssAnon")


def child_main(argv: list[str]) -> None:
    """One export, import or bare open in this process; prints rows, seconds, peak RSS (all of
    it, memory-mapped SQLite pages included) and peak anonymous RSS (what the process itself
    holds: the number that must stay flat as the collection grows)."""
    import threading

    import akindb
    from akindb.transfer import export_collection, import_file

    peak = [0]
    halt = threading.Event()

    def sample() -> None:
        while not halt.is_set():
            peak[0] = max(peak[0], _anon_kb())
            halt.wait(0.02)

    threading.Thread(target=sample, daemon=True).start()

    op, db_path, file = argv[:3]
    t0 = time.perf_counter()
    if op == "open":
        db = akindb.open(db_path, create=False)
        db.get_collection("docs").count()
        rows = 0
    elif op == "export":
        db = akindb.open(db_path, create=False)
        rows = export_collection(db.get_collection("docs"), file).documents
    else:
        db = akindb.open(db_path)
        rows = import_file(db, file, "docs").added
    dt = time.perf_counter() - t0
    db.close()
    halt.set()
    # VmHWM, not ru_maxrss: ru_maxrss survives exec and would report the parent's peak
    rss = _status_kb("VmHWM") * 1024
    print(json.dumps({"rows": rows, "seconds": dt, "peak_rss": rss,
                      "peak_anon": max(peak[0], _anon_kb()) * 1024}))


def bench_transfer(sizes: list[int]) -> list[dict[str, Any]]:
    out = []
    for n in sizes:
        db = build(n)
        base = _child(["open", str(db), ""])
        for fmt in ("jsonl", "parquet"):
            with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
                f = Path(tmp) / f"docs.{fmt}"
                e = _child(["export", str(db), str(f)])
                i = _child(["import", str(Path(tmp) / "db2"), str(f)])
                out.append({"n": n, "format": fmt, "file_mb": f.stat().st_size / 1e6,
                            "export_rows_s": e["rows"] / e["seconds"],
                            "import_rows_s": i["rows"] / i["seconds"],
                            "export_rss_mb": e["peak_rss"] / 1e6,
                            "import_rss_mb": i["peak_rss"] / 1e6,
                            "export_anon_mb": e["peak_anon"] / 1e6,
                            "import_anon_mb": i["peak_anon"] / 1e6,
                            "open_rss_mb": base["peak_rss"] / 1e6,
                            "open_anon_mb": base["peak_anon"] / 1e6})
                print(json.dumps(out[-1]), file=sys.stderr)
    return out


# ---- backup under two writers --------------------------------------------------------------
def _writer(path: str, tag: str, seconds: float, q: Any) -> None:
    import akindb

    db = akindb.open(path)
    col = db.get_collection("docs")
    rng = np.random.default_rng(hash(tag) % 2**32)
    lat: list[tuple[float, float]] = []
    t_end = time.time() + seconds
    i = 0
    while time.time() < t_end:
        v = rng.standard_normal(DIM).astype(np.float32)
        t0 = time.time()
        col.add([f"{tag} {i}"], vectors=v[None, :] / np.linalg.norm(v), ids=[f"{tag}-{i}"])
        lat.append((t0, time.time() - t0))
        i += 1
        time.sleep(0.005)
    db.close()
    q.put(lat)


def bench_backup(n: int) -> dict[str, Any]:
    from akindb.backup import backup

    src = CACHE / f"backup_src_{n}"
    shutil.rmtree(src, ignore_errors=True)
    shutil.copytree(build(n), src)
    size = sum(p.stat().st_size for p in src.rglob("*") if p.is_file())
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(str(src), t, 14.0, q)) for t in ("wa", "wb")]
    for p in procs:
        p.start()
    time.sleep(5.0)  # writers alone first: the baseline
    target = CACHE / f"backup_out_{n}"
    shutil.rmtree(target, ignore_errors=True)
    b0 = time.time()
    rep = backup(src, target)
    b1 = time.time()
    lats = [x for _ in procs for x in q.get()]
    for p in procs:
        p.join()
    during = np.array([d for t, d in lats if b0 <= t <= b1]) * 1000
    before = np.array([d for t, d in lats if t < b0]) * 1000
    shutil.rmtree(target, ignore_errors=True)
    return {"n": n, "db_mb": size / 1e6, "backup_s": b1 - b0, "backup_mb": rep.bytes / 1e6,
            "writes_before": len(before), "writes_during": len(during),
            "p50_before_ms": float(np.percentile(before, 50)),
            "p99_before_ms": float(np.percentile(before, 99)),
            "p50_during_ms": float(np.percentile(during, 50)) if len(during) else None,
            "p99_during_ms": float(np.percentile(during, 99)) if len(during) else None,
            "max_during_ms": float(during.max()) if len(during) else None}


# ---- recall monitor overhead -----------------------------------------------------------------
def bench_monitor(n: int, queries: int = 3000, rounds: int = 6) -> dict[str, Any]:
    import akindb
    from akindb.collection import monitor

    db = akindb.open(build(n, "hnsw"), create=False)
    col = db.get_collection("docs")
    qs = vectors(queries, seed=7)
    for q in qs[:300]:
        col.search_vector(q, 10)  # warm
    p50: dict[float, list[float]] = {0.0: [], 0.01: []}
    for _ in range(rounds):  # alternate, so drift in machine load hits both alike
        for rate in (0.0, 0.01):
            monitor.configure(col, rate=rate, k=10)
            lat = []
            for q in qs:
                t0 = time.perf_counter()
                col.search_vector(q, 10)
                lat.append(time.perf_counter() - t0)
            monitor.drain()
            p50[rate].append(float(np.median(lat)) * 1e6)
    est = monitor.recall_estimate(col)
    monitor.configure(col, rate=0.0)
    db.close()
    off, on = float(np.median(p50[0.0])), float(np.median(p50[0.01]))
    return {"n": n, "index": "hnsw", "queries_per_round": queries, "rounds": rounds,
            "p50_off_us": off, "p50_1pct_us": on, "overhead": on / off - 1,
            "samples": est["samples"] if est else 0,
            "recall_estimate": est["recall"] if est else None}


# ---- dupes -----------------------------------------------------------------------------------
def bench_dupes(n: int, near: float = 0.02, exact: float = 0.005) -> dict[str, Any]:
    import akindb
    from akindb.hygiene import find_dupes

    path = CACHE / f"dupes_{n}"
    rng = np.random.default_rng(3)
    base_n = int(n / (1 + near + exact))
    n_near, n_exact = int(base_n * near), int(base_n * exact)
    src_near = rng.choice(base_n, n_near, replace=False)
    src_exact = rng.choice(np.setdiff1d(np.arange(base_n), src_near), n_exact, replace=False)
    if not (path / "done").exists():
        shutil.rmtree(path, ignore_errors=True)
        db = akindb.open(path)
        col = db.create_collection("docs", model=None, dim=DIM, index="hnsw")
        v = vectors(base_n, seed=1)
        t = texts(base_n)
        step = 5000
        for lo in range(0, base_n, step):
            hi = min(base_n, lo + step)
            col.add(t[lo:hi], vectors=v[lo:hi], ids=[f"d{i}" for i in range(lo, hi)])
        noise = rng.standard_normal((n_near, DIM)).astype(np.float32) * 0.008
        nv = v[src_near] + noise
        nv /= np.linalg.norm(nv, axis=1, keepdims=True)
        col.add([t[i] + " (edited)" for i in src_near], vectors=nv,
                ids=[f"near{i}" for i in src_near])
        col.add([t[i] for i in src_exact], vectors=v[src_exact],
                ids=[f"exact{i}" for i in src_exact])
        col.search_vector(v[0], 1)
        db.close()
        (path / "done").write_text("ok")
    db = akindb.open(path, create=False)
    col = db.get_collection("docs")
    chunks = col.count_chunks()
    rep = find_dupes(col, 0.95)
    db.close()
    truth = {frozenset((f"d{i}", f"near{i}")) for i in src_near}
    truth |= {frozenset((f"d{i}", f"exact{i}")) for i in src_exact}
    found = set()
    for g in rep.groups:
        members = [g.keep, *g.duplicates]
        found |= {frozenset((a, b)) for a in members for b in members if a < b}
    tp = len(found & truth)
    return {"chunks": chunks, "planted_pairs": len(truth), "found_pairs": len(found),
            "precision": tp / max(len(found), 1), "recall": tp / len(truth),
            "seconds": rep.seconds, "groups": len(rep.groups),
            "exact_groups": sum(g.kind == "exact" for g in rep.groups)}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        child_main(sys.argv[2:])
        return
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--only", nargs="*", default=["transfer", "backup", "monitor", "dupes"])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    big = max(args.sizes)
    res: dict[str, Any] = {"machine": f"{platform.processor() or platform.machine()}, "
                           f"{mp.cpu_count()} cores, Python {platform.python_version()}"}
    if "transfer" in args.only:
        res["transfer"] = bench_transfer(args.sizes)
    if "backup" in args.only:
        res["backup"] = bench_backup(big)
    if "monitor" in args.only:
        res["monitor"] = bench_monitor(min(big, 50_000))
    if "dupes" in args.only:
        res["dupes"] = bench_dupes(big)
    if args.json:
        print(json.dumps(res, indent=1))
        return
    for r in res.get("transfer", []):
        print(f"{r['n']:>7} {r['format']:8} export {r['export_rows_s']:>8.0f} rows/s "
              f"(peak RSS {r['export_rss_mb']:.0f} MB, anon {r['export_anon_mb']:.0f})  import "
              f"{r['import_rows_s']:>8.0f} rows/s (peak RSS {r['import_rss_mb']:.0f} MB, anon "
              f"{r['import_anon_mb']:.0f})  file {r['file_mb']:.0f} MB; open alone "
              f"{r['open_rss_mb']:.0f} MB (anon {r['open_anon_mb']:.0f})")
    for k in ("backup", "monitor", "dupes"):
        if k in res:
            print(k, json.dumps(res[k]))


if __name__ == "__main__":
    main()
