"""Defect 6 of issue 13, its last part: a long ``search_vectors`` kept computing after its
client had gone. A real server on loopback; the client is a raw socket that sends the request
and closes."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pytest

import akindb
from akindb.server import disconnect
from tests.server.conftest import Servers

DIM = 16
N_QUERIES = 1000
K = 50


def _collection(path: Path) -> np.ndarray:
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(2000, DIM)).astype(np.float32)
    with akindb.open(path) as db:
        col = db.create_collection("v", model=None, dim=DIM)
        ids = [f"d{i}" for i in range(len(vecs))]
        col.add([f"text {i}" for i in ids], ids=ids, vectors=vecs)
    return rng.normal(size=(N_QUERIES, DIM)).astype(np.float32)


def _raw_post(port: int, path: str, body: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    sock.sendall(head + body)
    return sock


def _wait(pred: Callable[[], bool], limit_s: float = 60.0) -> None:
    deadline = time.monotonic() + limit_s  # a generous bound, not a timing assertion
    while not pred() and time.monotonic() < deadline:
        time.sleep(0.001)


def test_search_vectors_stops_when_the_client_disconnects(
        servers: Servers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # one query per chunk, so the request is 1,000 chunks: the server must stop long before
    monkeypatch.setattr(disconnect, "CHUNK_RESULTS", K)
    queries = _collection(tmp_path / "db")
    srv = servers.start(tmp_path / "db", auth=False)
    body = json.dumps({"vectors": queries.tolist(), "k": K}).encode()
    path = "/v1/collections/v/search_vectors"

    before, ran = disconnect.STATS.abandoned, disconnect.STATS.chunks_run
    sock = _raw_post(srv.port, path, body)
    _wait(lambda: disconnect.STATS.chunks_run > ran)  # the server is at work ...
    sock.close()  # ... and the client goes away
    _wait(lambda: disconnect.STATS.abandoned > before)
    assert disconnect.STATS.abandoned == before + 1
    done, total = disconnect.STATS.last_abandoned_at
    assert total == N_QUERIES and 1 <= done < total // 2

    # a client that leaves before the work starts costs no chunk at all
    ran = disconnect.STATS.chunks_run
    _raw_post(srv.port, path, body).close()
    _wait(lambda: disconnect.STATS.abandoned > before + 1)
    assert disconnect.STATS.abandoned == before + 2
    assert disconnect.STATS.chunks_run - ran < N_QUERIES // 2

    # the worker is free: the next request is answered, and completely
    ran = disconnect.STATS.chunks_run
    r = httpx.post(srv.url + path, json={"vectors": queries[:20].tolist(), "k": 3}, timeout=60)
    assert r.status_code == 200 and len(r.json()["results"]) == 20
    assert disconnect.STATS.chunks_run == ran + 2  # 20 x k=3 in chunks of 50 // 3 = 16


def test_search_vectors_in_chunks_answers_like_one_call(servers: Servers,
                                                        tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(disconnect, "CHUNK_RESULTS", 7 * K)  # 7 queries per chunk
    queries = _collection(tmp_path / "db")[:40]
    srv = servers.start(tmp_path / "db", auth=False)
    ran = disconnect.STATS.chunks_run
    r = httpx.post(srv.url + "/v1/collections/v/search_vectors",
                   json={"vectors": queries.tolist(), "k": K, "include": ["distances"]},
                   timeout=60)
    assert r.status_code == 200, r.text
    assert disconnect.STATS.chunks_run == ran + 6  # 40 queries in chunks of 7
    got = r.json()
    with akindb.open(tmp_path / "db") as db:
        want = db.get_collection("v").search_vectors(queries, K, include=["distances"])
    assert got["ids"] == want["ids"]
    assert np.allclose(np.array(got["distances"]), np.array(want["distances"]), atol=1e-5)


def test_search_batch_stops_when_the_client_disconnects(
        servers: Servers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(disconnect, "CHUNK_RESULTS", 5)  # one text query per chunk
    from tests.server.conftest import EMBEDDER

    with akindb.open(tmp_path / "db") as db:
        col = db.create_collection("t", model=EMBEDDER)
        col.add([f"document {i} about rivers and lanterns" for i in range(300)])
    srv = servers.start(tmp_path / "db", auth=False)
    queries = [f"river lantern {i}" for i in range(400)]
    body = json.dumps({"queries": queries, "k": 5}).encode()
    before, ran = disconnect.STATS.abandoned, disconnect.STATS.chunks_run
    sock = _raw_post(srv.port, "/v1/collections/t/search_batch", body)
    _wait(lambda: disconnect.STATS.chunks_run > ran)
    sock.close()
    _wait(lambda: disconnect.STATS.abandoned > before)
    done, total = disconnect.STATS.last_abandoned_at
    assert total == len(queries) and 1 <= done < total // 2
    r = httpx.post(srv.url + "/v1/collections/t/search_batch",
                   json={"queries": queries[:3], "k": 2}, timeout=60)
    assert r.status_code == 200 and [len(x) for x in r.json()["results"]] == [2, 2, 2]
