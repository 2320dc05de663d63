"""Searches run in parallel with writes; a server killed with SIGKILL and restarted still has
every write it acknowledged; `--workers 2` serves from two processes that share the database
(the real `akindb serve` in a subprocess)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np

import akindb
from tests.server.conftest import LiveServer


def test_searches_in_parallel_with_writes(server: LiveServer) -> None:
    with akindb.connect(server.url) as c:
        c.create_collection("docs", model="test-hash").add(["seed document"], ids=["seed"])
    failures: list[BaseException] = []
    written: list[str] = []

    def writer(w: int) -> None:
        try:
            with akindb.connect(server.url) as c:
                col = c.get_collection("docs")
                for b in range(10):
                    ids = [f"w{w}-{b}-{i}" for i in range(5)]
                    col.add([f"writer {w} batch {b} item {i} words" for i in range(5)], ids=ids)
                    written.extend(ids)
        except BaseException as exc:
            failures.append(exc)

    def reader() -> None:
        try:
            with akindb.connect(server.url) as c:
                col = c.get_collection("docs")
                for _ in range(40):
                    hits = col.search("seed document", k=3, mode="vector")
                    assert hits and hits[0].id == "seed"
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(3)]
    threads += [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not failures, failures[:3]
    with akindb.connect(server.url) as c:
        col = c.get_collection("docs")
        assert col.count() == 1 + len(written) == 151


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(db: Path, port: int, *extra: str) -> subprocess.Popen[bytes]:
    with (db.parent / f"server-{port}.log").open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "akindb.cli.main", "serve", "--db", str(db), "--port",
             str(port), "--no-auth", "--create", *extra],
            stdout=subprocess.DEVNULL, stderr=log,
        )
    for _ in range(300):  # bounded: up to ~30 s
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"server did not start: {(db.parent / f'server-{port}.log').read_text()}")


def test_restart_after_sigkill_loses_nothing_acknowledged(tmp_path: Path) -> None:
    db, port = tmp_path / "db", _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _start(db, port)
    acked: list[str] = []
    errors: list[Exception] = []
    rng = np.random.default_rng(0)
    try:
        with akindb.connect(url) as c:
            col = c.create_collection("vecs", model=None, dim=8)
            stop = threading.Event()

            def write() -> None:
                b = 0
                while not stop.is_set() and b < 400:
                    ids = [f"b{b}-{i}" for i in range(10)]
                    try:
                        col.add(vectors=rng.normal(size=(10, 8)), ids=ids)
                    except Exception as exc:
                        errors.append(exc)
                        return
                    acked.extend(ids)
                    b += 1

            t = threading.Thread(target=write)
            t.start()
            while len(acked) < 200 and t.is_alive():
                time.sleep(0.01)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            stop.set()
            t.join(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert len(acked) >= 200, errors
    proc = _start(db, port)
    try:
        with akindb.connect(url) as c:
            col = c.get_collection("vecs")
            got = {r.id for r in col.get(acked)}
            assert got == set(acked)
            v = col.get(acked[:1])
            assert v and col.search_vectors(np.ones((1, 8)), k=5)[0]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)


def test_two_workers_serve_and_see_each_others_writes(tmp_path: Path) -> None:
    db, port = tmp_path / "db", _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _start(db, port, "--workers", "2")
    by_pid: dict[int, httpx.Client] = {}
    try:
        for _ in range(40):  # fresh connections until both workers have answered one
            c = httpx.Client(base_url=url, timeout=30)
            pid = c.get("/healthz").json()["pid"]
            if pid in by_pid:
                c.close()
            else:
                by_pid[pid] = c
            if len(by_pid) == 2:
                break
        assert len(by_pid) == 2, "one worker answered every connection"
        (pa, a), (pb, b) = by_pid.items()
        assert pa != proc.pid and pb != proc.pid

        def search(c: httpx.Client, vec: list[float]) -> str:
            r = c.post("/v1/collections/vecs/search_vector", json={"vector": vec, "k": 1})
            assert r.status_code == 200, r.text
            return str(r.json()["hits"][0]["id"])

        r = a.post("/v1/collections", json={"name": "vecs", "model": None, "dim": 4})
        assert r.status_code == 201, r.text
        r = a.post("/v1/collections/vecs/add",
                   json={"vectors": [[1, 0, 0, 0], [0, 1, 0, 0]], "ids": ["x", "y"]})
        assert r.status_code == 200, r.text
        # acknowledged by worker a: worker b's next search sees it (its index catches up)
        assert search(b, [1, 0, 0, 0.1]) == "x"
        assert b.post("/v1/collections/vecs/add",
                      json={"vectors": [[0, 0, 1, 0]], "ids": ["z"]}).status_code == 200
        assert search(a, [0, 0.1, 1, 0]) == "z"
        assert b.post("/v1/collections/vecs/delete", json={"ids": ["x"]}).json()["count"] == 1
        assert search(a, [1, 0, 0, 0]) != "x"
        for c in (a, b):  # both keep serving
            assert all(search(c, [0, 1, 0, i / 10]) == "y" for i in range(10))
            assert c.get("/v1/collections/vecs/count").json()["count"] == 2
        assert a.get("/healthz").json()["pid"] == pa and b.get("/healthz").json()["pid"] == pb
    finally:
        for c in by_pid.values():
            c.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert proc.returncode == 0
