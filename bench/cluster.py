"""Distributed akindb on Ray: ingest throughput per embedding actor, query latency per shard
count, and the router's overhead against one embedded collection.

    python bench/cluster.py                       # a Cluster.local(nodes=3) on this machine
    python bench/cluster.py --address HEAD:6379   # unchanged on a real cluster (--dir shared)
    python bench/cluster.py --part query --vectors 20000 --queries 200

Ingest: the first ``--docs`` NFCorpus documents (../shared/data/ir/nfcorpus) as files, indexed by
``Cluster.ingest`` (Ray Data: read -> chunk -> embed on an actor pool -> write) into a fresh
collection per run, with 1, 2, 3 embedding actors; chunks/s over the whole job (actor start and
model load included, as a user sees it) and over the embedding alone is not separable here, so
the per-actor scaling is the ratio of whole-job rates. Query: ``--vectors`` random unit vectors
(dim 384) in collections of 1, 2, 4, 8 shards (1 replica each, exact flat search), single
queries one after another, p50/p99; the same data in one embedded collection in this process
gives the router's overhead (the difference of the medians).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
NF = REPO.parent / "shared" / "data" / "ir" / "nfcorpus" / "corpus.jsonl.gz"


def _corpus(n: int, root: Path) -> Path:
    d = root / "corpus"
    d.mkdir(parents=True, exist_ok=True)
    with gzip.open(NF, "rt", encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i == n:
                break
            doc = json.loads(line)
            (d / f"{doc['_id']}.txt").write_text(f"{doc.get('title', '')}. {doc['text']}",
                                                 encoding="utf-8")
    return d


def _pct(xs: list[float]) -> tuple[float, float]:
    a = np.array(xs) * 1000
    return float(np.percentile(a, 50)), float(np.percentile(a, 99))


def bench_ingest(cluster: Any, docs: int, actors: list[int], tmp: Path) -> list[dict[str, Any]]:
    corpus = _corpus(docs, tmp)
    out = []
    for n in actors:
        name = f"bench-ingest-{n}"
        cluster.create_collection(name, shards=2, replicas=1)
        t0 = time.perf_counter()
        rep = cluster.ingest([corpus], collection=name, actors=n, progress=False)
        secs = time.perf_counter() - t0
        out.append({"actors": n, "docs": rep.added, "chunks": rep.chunks, "seconds": secs,
                    "chunks_per_s": rep.chunks / secs})
        print(f"ingest actors={n}: {rep.chunks} chunks in {secs:.1f} s = "
              f"{rep.chunks / secs:.1f} chunks/s", flush=True)
        cluster.drop_collection(name)
    base = out[0]["chunks_per_s"]
    for r in out:
        r["speedup"] = r["chunks_per_s"] / base
        r["scaling_per_actor"] = r["speedup"] / r["actors"]
    return out


def bench_query(cluster: Any, n: int, shard_counts: list[int], queries: int,
                tmp: Path) -> dict[str, Any]:
    import akindb

    rng = np.random.default_rng(0)
    dim = 384
    vecs = rng.normal(size=(n, dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    ids = [f"v{i}" for i in range(n)]
    texts = [f"vector {i}" for i in range(n)]
    qs = rng.normal(size=(queries, dim)).astype(np.float32)
    db = akindb.open(tmp / "embedded")
    emb = db.create_collection("bench", model=None, dim=dim)
    for lo in range(0, n, 5000):
        emb.add(texts[lo:lo + 5000], ids=ids[lo:lo + 5000], vectors=vecs[lo:lo + 5000])
    emb.search_vector(qs[0], k=10)
    lat = []
    for q in qs:
        t0 = time.perf_counter()
        want = emb.search_vector(q, k=10)
        lat.append(time.perf_counter() - t0)
    e50, e99 = _pct(lat)
    print(f"embedded: p50 {e50:.2f} ms, p99 {e99:.2f} ms", flush=True)
    rows = []
    for s in shard_counts:
        name = f"bench-q-{s}"
        col = cluster.create_collection(name, shards=s, replicas=1, model=None, dim=dim)
        for lo in range(0, n, 5000):
            col.add(texts[lo:lo + 5000], ids=ids[lo:lo + 5000], vectors=vecs[lo:lo + 5000])
        for q in qs[:5]:
            col.search_vector(q, k=10)
        lat, same = [], 0
        for q in qs:
            t0 = time.perf_counter()
            got = col.search_vector(q, k=10)
            lat.append(time.perf_counter() - t0)
        for q in qs[:20]:
            want = emb.search_vector(q, k=10)
            same += [h.id for h in col.search_vector(q, k=10)] == [h.id for h in want]
        p50, p99 = _pct(lat)
        rows.append({"shards": s, "p50_ms": p50, "p99_ms": p99, "same_top10_of_20": same,
                     "router_overhead_ms": p50 - e50})
        print(f"shards={s}: p50 {p50:.2f} ms, p99 {p99:.2f} ms, overhead vs embedded "
              f"{p50 - e50:+.2f} ms; same top-10 {same}/20", flush=True)
        cluster.drop_collection(name)
        del got
    db.close()
    return {"vectors": n, "dim": dim, "queries": queries, "embedded_p50_ms": e50,
            "embedded_p99_ms": e99, "rows": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--address", help="join this Ray cluster instead of starting a local one")
    ap.add_argument("--dir", help="replica data folder (shared path on a real cluster)")
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--part", choices=["all", "ingest", "query"], default="all")
    ap.add_argument("--docs", type=int, default=120)
    ap.add_argument("--actors", default="1,2,3")
    ap.add_argument("--vectors", type=int, default=20000)
    ap.add_argument("--shards", default="1,2,4,8")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    from akindb.distributed import Cluster

    tmp = Path(tempfile.mkdtemp(prefix="akindb-bench-cluster-"))
    t0 = time.perf_counter()
    if args.address:
        cluster = Cluster.connect(args.address, dir=args.dir)
    else:
        cluster = Cluster.local(nodes=args.nodes, dir=args.dir or tmp / "cluster")
    print(f"cluster up in {time.perf_counter() - t0:.1f} s; {platform.processor() or 'cpu'}, "
          f"{os.cpu_count()} cores", flush=True)
    res: dict[str, Any] = {"machine": f"{platform.platform()}, {os.cpu_count()} cores",
                           "nodes": args.nodes if not args.address else "remote"}
    try:
        if args.part in ("all", "ingest"):
            res["ingest"] = bench_ingest(cluster, args.docs,
                                         [int(x) for x in args.actors.split(",")], tmp)
        if args.part in ("all", "query"):
            res["query"] = bench_query(cluster, args.vectors,
                                       [int(x) for x in args.shards.split(",")],
                                       args.queries, tmp)
    finally:
        cluster.shutdown()
    print(json.dumps(res, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
