"""HTTP server benchmark: search req/s and p50/p99 at 1, 8 and 32 concurrent clients on loopback.

Collection: 10,000 real text passages with their real all-MiniLM-L6-v2 vectors (bench/ann_data.py:
10-word passages from ../shared/data, embedded once and cached), pinned to the default model.
Queries: the 1,000 held-out passages of the same set. Two request kinds:

* ``search_vector``: the query's precomputed vector (no model in the loop): server + index cost;
* ``search_text`` (``/search``, ``mode=vector``): the server embeds the query with the real model.

The server is the real ``akindb serve`` (a subprocess, an API key on every request). The load
generator is one asyncio process, bounded per level by ``--requests`` and ``--seconds``. Its
default client (``--client raw``) writes pre-encoded HTTP/1.1 requests on keep-alive sockets and
reads each response by its Content-Length: about 0.05 ms of CPU per request, where httpx
(``--client httpx``) spends about 1 ms, which on a 2-core machine is CPU taken from the server.
Both CPU costs are reported per request (server process tree and load generator, from
``psutil``), so the numbers say where the time went.

The embedded numbers are the same calls in-process: one at a time (with a split of a text
search into model, index, rows and JSON), and from ``--levels`` threads at once (the in-process
ceiling the server is measured against).

    python bench/server.py [--requests 2000] [--seconds 15] [--workers 1] [--index flat]
    python bench/server.py --db /tmp/bench-db-hnsw --index hnsw   # build once, reuse after
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
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ann_data import CACHE, load_shards, load_texts

import akindb
from akindb.server.app import hit_json, json_response
from akindb.server.auth import KeyStore

N = 10_000
ROUTE = "/v1/collections/bench"


def vectors() -> tuple[np.ndarray, np.ndarray]:
    """(base, held-out queries): the embedded shards, else any cached ``ann_data`` matrix with
    at least ``N`` base vectors (the same order: its first ``N`` rows are the shards' ``N``)."""
    try:
        return load_shards(N)
    except FileNotFoundError:
        for f in sorted(CACHE.glob("minilm_w10_*_q1000.npz")):
            with np.load(f) as z:
                if len(z["base"]) >= N:
                    return z["base"][:N], z["queries"]
        raise


def nfcorpus_queries() -> list[str]:
    """The 3,237 distinct NFCorpus queries (``../shared/data/ir/nfcorpus``): text queries that
    do not repeat within a level, so the server's query-vector LRU cannot make the number."""
    path = Path(__file__).resolve().parents[1].parent / "shared/data/ir/nfcorpus/queries.jsonl"
    seen = dict.fromkeys(json.loads(line)["text"] for line in path.read_text().splitlines())
    return list(seen)


def build(db_dir: Path, index: str) -> None:
    base, _ = vectors()
    btexts = load_texts()[1000 : 1000 + N]
    with akindb.open(db_dir) as db:
        if "bench" in db.list_collections():
            col = db.get_collection("bench")
            if col.config.index_kind == index and col.count() == N:
                return
            db.drop_collection("bench")
        col = db.create_collection("bench", index=index)
        for lo in range(0, N, 1000):
            col.add(btexts[lo : lo + 1000], vectors=base[lo : lo + 1000],
                    ids=[f"d{i}" for i in range(lo, lo + 1000)])
        col.flush()


def pct(xs: list[float], p: float) -> float:
    return round(float(np.percentile(np.array(xs) * 1000, p)), 2) if xs else float("nan")


def cpu_s(proc: Any, children: bool = True) -> float:
    """User + system CPU seconds of a psutil process (and its children: the workers)."""
    total = 0.0
    for p in [proc, *(proc.children(recursive=True) if children else [])]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except Exception:  # a child that just exited
            pass
    return total


def raw_requests(host: str, key: str, path: str, bodies: list[dict[str, Any]]) -> list[bytes]:
    out = []
    for b in bodies:
        data = json.dumps(b).encode()
        head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n")
        out.append(head.encode() + data)
    return out


async def _raw_one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                   req: bytes) -> int:
    writer.write(req)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    i = head.lower().find(b"content-length:")
    if i < 0:
        raise RuntimeError(f"response without Content-Length: {head[:200]!r}")
    await reader.readexactly(int(head[i + 15 : head.index(b"\r\n", i)]))
    return status


async def load(url: str, key: str, route: str, bodies: list[dict[str, Any]], conc: int,
               max_requests: int, max_seconds: float, client: str,
               reqs: list[bytes]) -> dict[str, Any]:
    """``conc`` clients, each sending its next request when the last one was answered."""
    lat: list[float] = []
    errors = 0
    sent = 0
    t_end = time.perf_counter() + max_seconds
    host, port = url.split("//")[1].split(":")

    async def raw_worker() -> None:
        nonlocal sent, errors
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while sent < max_requests and time.perf_counter() < t_end:
                req = reqs[sent % len(reqs)]
                sent += 1
                t0 = time.perf_counter()
                try:
                    status = await _raw_one(reader, writer, req)
                except (OSError, asyncio.IncompleteReadError, RuntimeError):
                    errors += 1
                    lat.append(time.perf_counter() - t0)
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, int(port))
                    continue
                lat.append(time.perf_counter() - t0)
                if status != 200:
                    errors += 1
        finally:
            writer.close()

    async def httpx_run() -> None:
        import httpx

        limits = httpx.Limits(max_connections=conc, max_keepalive_connections=conc)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30,
                                     headers={"Authorization": f"Bearer {key}"}) as c:

            async def worker() -> None:
                nonlocal sent, errors
                while sent < max_requests and time.perf_counter() < t_end:
                    body = bodies[sent % len(bodies)]
                    sent += 1
                    t0 = time.perf_counter()
                    r = await c.post(route, json=body)
                    lat.append(time.perf_counter() - t0)
                    if r.status_code != 200:
                        errors += 1

            await asyncio.gather(*(worker() for _ in range(conc)))

    t0 = time.perf_counter()
    if client == "raw":
        await asyncio.gather(*(raw_worker() for _ in range(conc)))
    else:
        await httpx_run()
    wall = time.perf_counter() - t0
    return {"clients": conc, "requests": len(lat), "errors": errors,
            "rps": round(len(lat) / wall, 1), "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99)}


def embedded(db_dir: Path, queries: np.ndarray, qtexts: list[str], n: int,
             levels: list[int], seconds: float) -> dict[str, Any]:
    """The same calls in-process: one at a time (split into parts), then from threads."""
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
            parts["rows"].append(max(0.0, (t5 - t4) - (t4 - t3)))
            parts["json"].append(t6 - t5)
        for k, xs in parts.items():
            out[k] = {"p50_ms": pct(xs, 50), "p99_ms": pct(xs, 99)}
        calls: dict[str, Callable[[int], object]] = {
            "search_vector": lambda i: col.search_vector(queries[i % len(queries)], k=10),
            "search_text": lambda i: col.search(qtexts[i % len(qtexts)], k=10, mode="vector"),
        }
        for kind, call in calls.items():
            out[kind + "_threads"] = [_threaded(call, c, seconds) for c in levels]
    return out


def _threaded(call: Callable[[int], object], conc: int, seconds: float) -> dict[str, Any]:
    lat: list[float] = []
    t_end = time.perf_counter() + seconds
    count = iter(range(10**9))

    def run() -> None:
        while time.perf_counter() < t_end:
            t0 = time.perf_counter()
            call(next(count))
            lat.append(time.perf_counter() - t0)

    threads = [threading.Thread(target=run) for _ in range(conc)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return {"threads": conc, "calls": len(lat), "rps": round(len(lat) / wall, 1),
            "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_and_load(db_dir: Path, a: argparse.Namespace, queries: np.ndarray,
                   qtexts: list[str], results: dict[str, Any]) -> None:
    import httpx
    import psutil

    key, _ = KeyStore.for_db(db_dir).create("read", ["bench"])
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # The server's query-vector LRU (models/query_cache) is off unless asked for: a text
    # query seen before would skip the model, and the number would measure the cache.
    env = {**os.environ, "AKINDB_QUERY_CACHE": str(a.query_cache)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "akindb.cli.main", "serve", "--db", str(db_dir), "--port",
         str(port), "--workers", str(a.workers)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )
    try:
        for _ in range(600):
            try:
                httpx.get(url + "/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        sproc, me = psutil.Process(proc.pid), psutil.Process()
        bodies = {
            "search_vector": ("/search_vector", [{"vector": q.tolist(), "k": 10}
                                                 for q in queries]),
            "search_text": ("/search", [{"query": t, "k": 10, "mode": "vector"}
                                        for t in qtexts]),
        }
        for kind in a.kinds.split(","):
            r, bs = bodies[kind]
            reqs = raw_requests("127.0.0.1", key, ROUTE + r, bs)
            # warm up every worker: enough requests that each process has served some
            asyncio.run(load(url, key, ROUTE + r, bs[:50], 8, 200, 10, a.client, reqs[:50]))
            rows = []
            for c in a.levels.split(","):
                s0, l0 = cpu_s(sproc), cpu_s(me, children=False)
                row = asyncio.run(load(url, key, ROUTE + r, bs, int(c), a.requests, a.seconds,
                                       a.client, reqs))
                n = max(row["requests"], 1)
                row["server_cpu_ms"] = round((cpu_s(sproc) - s0) * 1000 / n, 2)
                row["loadgen_cpu_ms"] = round((cpu_s(me, children=False) - l0) * 1000 / n, 2)
                row["loadavg"] = round(os.getloadavg()[0], 2)
                rows.append(row)
            results[kind] = rows
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=2000, help="max requests per level")
    ap.add_argument("--seconds", type=float, default=15.0, help="max seconds per level")
    ap.add_argument("--workers", type=int, default=1, help="akindb serve --workers")
    ap.add_argument("--levels", default="1,8,32", help="concurrent clients per level")
    ap.add_argument("--index", default="flat", help="flat (exact) | hnsw | lsh")
    ap.add_argument("--kinds", default="search_vector,search_text",
                    help="request kinds to load, comma-separated")
    ap.add_argument("--client", choices=["raw", "httpx"], default="raw",
                    help="load generator's HTTP client (raw: pre-encoded, cheapest)")
    ap.add_argument("--db", type=Path, default=None,
                    help="database directory to build once and reuse (default: a temp dir)")
    ap.add_argument("--no-embedded", action="store_true", help="skip the in-process numbers")
    ap.add_argument("--json", type=Path, help="write results here too")
    ap.add_argument("--queries", choices=["held-out", "nfcorpus"], default="held-out",
                    help="text queries: the 1,000 held-out passages, or the 3,237 distinct "
                         "NFCorpus queries (no repeats within a level of up to 3,237 requests)")
    ap.add_argument("--query-cache", type=int, default=0,
                    help="the server's query-vector LRU size (AKINDB_QUERY_CACHE; 0: off)")
    a = ap.parse_args()
    results: dict[str, Any] = {"workers": a.workers, "n_chunks": N, "index": a.index,
                               "client": a.client, "cpus": os.cpu_count(),
                               "loadavg_start": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory() as tmp:
        db_dir = a.db or Path(tmp) / "db"
        t0 = time.perf_counter()
        build(db_dir, a.index)
        results["build_s"] = round(time.perf_counter() - t0, 1)
        _, queries = vectors()
        qtexts = nfcorpus_queries() if a.queries == "nfcorpus" else load_texts()[:1000]
        results["text_queries"] = {"set": a.queries, "distinct": len(set(qtexts)),
                                   "server_query_cache": a.query_cache}
        levels = [int(c) for c in a.levels.split(",")]
        if not a.no_embedded:
            results["embedded"] = embedded(db_dir, queries, qtexts, 300, levels,
                                           min(a.seconds, 5.0))
        serve_and_load(db_dir, a, queries, qtexts, results)
    results["loadavg_end"] = round(os.getloadavg()[0], 2)
    text = json.dumps(results, indent=2)
    sys.stdout.write(text + "\n")
    if a.json:
        a.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
