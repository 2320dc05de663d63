"""Load: the real ``akindb serve --workers 2`` at a fixed request rate (open loop).

Collection: files of the Python 3.11 docs sources (``../shared/data/pydocs``), indexed with
the real all-MiniLM-L6-v2. Queries: sentences cut from the same files. Requests are sent on a
schedule (request i at ``t0 + i / rate``) over keep-alive connections, and latency is measured
from the scheduled time, so a server that falls behind shows it (no coordinated omission).

Phases: text search (``/search``, the server embeds each query) at ``--text-rate`` for
``--seconds``; vector search at ``--vector-rate``; text and vector search again, each with a
concurrent writer (upserts of 5 documents every 200 ms through the API). Reports achieved
rate, p50/p99/max and errors (any status other than 200, or a dropped connection).

    python bench/reliability/load.py --seconds 60               # the issue's goal run
    python bench/reliability/load.py --seconds 3 --files 20     # the short mode
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, pct

import akindb
from akindb.server.auth import KeyStore

PYDOCS = ROOT.parent / "shared" / "data" / "pydocs" / "python-3.11.2-docs-rst-sources.tar.gz"
ROUTE = "/v1/collections/docs"


def build(db_dir: Path, work: Path, n_files: int, seed: int) -> list[str]:
    """Index ``n_files`` .rst files; return query sentences cut from them."""
    src = work / "src"
    src.mkdir()
    rng = random.Random(seed)
    with tarfile.open(PYDOCS) as tar:
        members = sorted((m for m in tar.getmembers() if m.isfile() and m.name.endswith(".rst.txt")
                          and 2_000 < m.size < 40_000), key=lambda m: m.name)
        for m in rng.sample(members, min(n_files, len(members))):
            f = tar.extractfile(m)
            assert f is not None
            (src / m.name.replace("/", "_")).write_bytes(f.read())
    with akindb.open(db_dir) as db:
        col = db.create_collection("docs")
        col.add_files([src])
    sentences = []
    for f in sorted(src.iterdir()):
        words = re.findall(r"[A-Za-z]{3,}", f.read_text(errors="replace"))
        for lo in range(0, max(len(words) - 8, 0), 37):  # 8-word windows across each file
            sentences.append(" ".join(words[lo : lo + 8]))
    rng.shuffle(sentences)
    return sentences[:1000]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _request(host: str, key: str, path: str, body: dict[str, Any]) -> bytes:
    data = json.dumps(body).encode()
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n")
    return head.encode() + data


async def _one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, req: bytes) -> int:
    writer.write(req)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    i = head.lower().find(b"content-length:")
    await reader.readexactly(int(head[i + 15 : head.index(b"\r\n", i)]))
    return status


async def fixed_rate(port: int, reqs: list[bytes], rate: float, seconds: float,
                     max_conns: int = 64) -> dict[str, Any]:
    """Send ``rate`` requests per second for ``seconds``; latency from the scheduled time."""
    lat: list[float] = []
    errors = 0
    statuses: dict[int, int] = {}
    pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    opened = 0
    n = int(rate * seconds)
    t0 = time.perf_counter() + 0.2
    give_up = t0 + seconds + max(10.0, seconds / 2)
    dropped = 0

    async def one(i: int) -> None:
        nonlocal errors, opened, dropped
        due = t0 + i / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        if pool.empty() and opened < max_conns:
            opened += 1
            pool.put_nowait(await asyncio.open_connection("127.0.0.1", port))
        try:  # a server that falls far behind ends the phase (the rest count as errors)
            conn = await asyncio.wait_for(pool.get(), max(0.01, give_up - time.perf_counter()))
        except TimeoutError:
            errors += 1
            dropped += 1
            lat.append(time.perf_counter() - due)
            return
        try:
            status = await asyncio.wait_for(_one(*conn, reqs[i % len(reqs)]),
                                            max(0.01, give_up - time.perf_counter()))
            statuses[status] = statuses.get(status, 0) + 1
            if status != 200:
                errors += 1
            pool.put_nowait(conn)
        except (OSError, asyncio.IncompleteReadError, ValueError, TimeoutError):
            errors += 1
            conn[1].close()
            pool.put_nowait(await asyncio.open_connection("127.0.0.1", port))
        lat.append(time.perf_counter() - due)

    await asyncio.gather(*(one(i) for i in range(n)))
    wall = time.perf_counter() - t0
    while not pool.empty():
        pool.get_nowait()[1].close()
    return {"target_rate": rate, "requests": n, "achieved_rate": round((n - errors) / wall, 1),
            "p50_ms": round(pct(lat, 50) * 1000, 1), "p99_ms": round(pct(lat, 99) * 1000, 1),
            "max_ms": round(max(lat) * 1000, 1), "errors": errors, "statuses": statuses,
            "gave_up": dropped,
            "connections": opened}


def _writer(url: str, key: str, stop: threading.Event, out: dict[str, int]) -> None:
    i = 0
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"},
                      timeout=30) as c:
        while not stop.is_set():
            ids = [f"w{(i * 5 + j) % 200}" for j in range(5)]
            r = c.post(ROUTE + "/upsert", json={
                "texts": [f"writer document {x} revision {i}" for x in ids], "ids": ids})
            out["writes"] = out.get("writes", 0) + 1
            if r.status_code != 200:
                out["write_errors"] = out.get("write_errors", 0) + 1
            i += 1
            stop.wait(0.2)


def run(work: Path, seconds: float, text_rate: float, vector_rate: float, n_files: int,
        workers: int, seed: int = 0) -> dict[str, Any]:
    db_dir = work / "db"
    t_build = time.perf_counter()
    queries = build(db_dir, work, n_files, seed)
    build_s = time.perf_counter() - t_build
    store = KeyStore.for_db(db_dir)
    rkey, wkey = store.create("read", ["docs"])[0], store.create("write", ["docs"])[0]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "akindb.cli.main", "serve", "--db", str(db_dir), "--port",
         str(port), "--workers", str(workers)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    res: dict[str, Any] = {"files": n_files, "queries": len(queries), "workers": workers,
                           "build_s": round(build_s, 1), "cpus": os.cpu_count()}
    try:
        for _ in range(1200):
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        host = f"127.0.0.1:{port}"
        text = [_request(host, rkey, ROUTE + "/search", {"query": q, "k": 10, "mode": "vector"})
                for q in queries]
        with akindb.open(db_dir) as db:
            qv = db.get_collection("docs").embedder.embed(queries[:300])
        vec = [_request(host, rkey, ROUTE + "/search_vector", {"vector": v.tolist(), "k": 10})
               for v in qv]
        asyncio.run(fixed_rate(port, text[:200], 40, 3))  # warm every worker
        res["text"] = asyncio.run(fixed_rate(port, text, text_rate, seconds))
        res["vector"] = asyncio.run(fixed_rate(port, vec, vector_rate, max(seconds / 3, 1)))
        for phase, reqs, rate in (("text_with_writer", text, text_rate),
                                  ("vector_with_writer", vec, vector_rate)):
            stop, wout = threading.Event(), {}
            t = threading.Thread(target=_writer, args=(url, wkey, stop, wout))
            t.start()
            try:
                res[phase] = asyncio.run(fixed_rate(port, reqs, rate, max(seconds / 3, 1)))
            finally:
                stop.set()
                t.join()
            res[phase].update(wout)
        res["loadavg"] = round(os.getloadavg()[0], 2)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            res["sigterm_ignored"] = True
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--text-rate", type=float, default=200)
    ap.add_argument("--vector-rate", type=float, default=500)
    ap.add_argument("--files", type=int, default=150)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="akindb-load-") as tmp:
        res = run(Path(tmp), a.seconds, a.text_rate, a.vector_rate, a.files, a.workers)
    print(json.dumps(res, indent=1))
    if a.json:
        a.json.write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
