"""HTTP server benchmark: search req/s and p50/p99 at 1, 8 and 32 concurrent clients on loopback.

Collection: 10,000 real text passages with their real all-MiniLM-L6-v2 vectors (bench/ann_data.py:
10-word passages from ../shared/data, embedded once and cached), pinned to the default model.
Queries: the 1,000 held-out passages of the same set. Two request kinds:

* ``search_vector``: the query's precomputed vector (no model in the loop): server + index cost;
* ``search`` (text, ``mode=vector``): the server embeds the query with the real model first.

The server is the real ``akindb serve`` (a subprocess, an API key on every request); the load
generator is one asyncio process with httpx, bounded per level by ``--requests`` and
``--seconds``. The embedded numbers are the same calls in-process, one at a time.

    python bench/server.py [--requests 2000] [--seconds 15] [--workers 1] [--index flat]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ann_data import load_shards, load_texts

import akindb
from akindb.server.app import hit_json, json_response
from akindb.server.auth import KeyStore

N = 10_000


def build(db_dir: Path, index: str) -> tuple[np.ndarray, list[str]]:
    base, queries = load_shards(N)
    texts = load_texts()
    qtexts, btexts = texts[:1000], texts[1000 : 1000 + N]
    with akindb.open(db_dir) as db:
        col = db.create_collection("bench", index=index)
        for lo in range(0, N, 1000):
            col.add(btexts[lo : lo + 1000], vectors=base[lo : lo + 1000],
                    ids=[f"d{i}" for i in range(lo, lo + 1000)])
        col.flush()
    return queries, qtexts


def pct(xs: list[float], p: float) -> float:
    return float(np.percentile(np.array(xs) * 1000, p)) if xs else float("nan")


async def load(url: str, key: str, route: str, bodies: list[dict[str, Any]], conc: int,
               max_requests: int, max_seconds: float) -> dict[str, Any]:
    import httpx

    lat: list[float] = []
    errors = 0
    sent = 0
    t_end = time.perf_counter() + max_seconds
    limits = httpx.Limits(max_connections=conc, max_keepalive_connections=conc)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30,
                                 headers={"Authorization": f"Bearer {key}"}) as client:

        async def worker() -> None:
            nonlocal sent, errors
            while sent < max_requests and time.perf_counter() < t_end:
                body = bodies[sent % len(bodies)]
                sent += 1
                t0 = time.perf_counter()
                r = await client.post(route, json=body)
                lat.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    errors += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(conc)))
        wall = time.perf_counter() - t0
    return {"clients": conc, "requests": len(lat), "errors": errors,
            "rps": len(lat) / wall, "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99)}


def embedded(db_dir: Path, queries: np.ndarray, qtexts: list[str], n: int) -> dict[str, Any]:
    """One call at a time in-process, and where a text search's time goes."""
    out: dict[str, Any] = {}
    with akindb.open(db_dir) as db:
        col = db.get_collection("bench")
        col.search_vector(queries[0], k=10)
        col.search(qtexts[0], k=10, mode="vector")
        parts: dict[str, list[float]] = {"embed": [], "index": [], "rows": [], "json": [],
                                         "vector_call": [], "text_call": []}
        for i in range(n):
            q, t = queries[i % len(queries)], qtexts[i % len(qtexts)]
            t0 = time.perf_counter()
            col.search_vector(q, k=10)
            t1 = time.perf_counter()
            col.search(t, k=10, mode="vector")
            t2 = time.perf_counter()
            v = col.embedder.embed([t])
            t3 = time.perf_counter()
            col.search_vectors(v, 10, include=[])
            t4 = time.perf_counter()
            hits = col.search_vectors(v, 10)[0]
            t5 = time.perf_counter()
            json_response({"hits": [hit_json(h) for h in hits]})
            t6 = time.perf_counter()
            parts["vector_call"].append(t1 - t0)
            parts["text_call"].append(t2 - t1)
            parts["embed"].append(t3 - t2)
            parts["index"].append(t4 - t3)
            parts["rows"].append((t5 - t4) - (t4 - t3))
            parts["json"].append(t6 - t5)
        for k, xs in parts.items():
            out[k] = {"p50_ms": pct(xs, 50), "p99_ms": pct(xs, 99)}
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=2000, help="max requests per level")
    ap.add_argument("--seconds", type=float, default=15.0, help="max seconds per level")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--levels", default="1,8,32")
    ap.add_argument("--index", default="flat", help="flat (exact) | hnsw | lsh")
    ap.add_argument("--json", type=Path, help="write results here too")
    a = ap.parse_args()
    results: dict[str, Any] = {"workers": a.workers, "n_chunks": N, "index": a.index,
                               "loadavg_start": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory() as tmp:
        db_dir = Path(tmp) / "db"
        t0 = time.perf_counter()
        queries, qtexts = build(db_dir, a.index)
        results["build_s"] = round(time.perf_counter() - t0, 1)
        key, _ = KeyStore.for_db(db_dir).create("read", ["bench"])
        results["embedded"] = embedded(db_dir, queries, qtexts, 300)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen(
            [sys.executable, "-m", "akindb.cli.main", "serve", "--db", str(db_dir), "--port",
             str(port), "--workers", str(a.workers)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            import httpx

            for _ in range(600):
                try:
                    httpx.get(url + "/healthz", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            route = "/v1/collections/bench"
            vec_bodies = [{"vector": q.tolist(), "k": 10} for q in queries]
            txt_bodies = [{"query": t, "k": 10, "mode": "vector"} for t in qtexts]
            for kind, r, bodies in (("search_vector", "/search_vector", vec_bodies),
                                    ("search_text", "/search", txt_bodies)):
                asyncio.run(load(url, key, route + r, bodies[:50], 4, 100, 10))  # warm up
                results[kind] = [
                    asyncio.run(load(url, key, route + r, bodies, int(c), a.requests, a.seconds))
                    for c in a.levels.split(",")
                ]
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    results["loadavg_end"] = os.getloadavg()[0]
    text = json.dumps(results, indent=2)
    sys.stdout.write(text + "\n")
    if a.json:
        a.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
