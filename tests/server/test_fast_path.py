"""The fast path (server/fast.py) and the fast lane (server/lane.py) change how a vector search
is served, never what comes back: every answer, error or not, is byte-for-byte the one the
plain FastAPI route gives."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

import akindb
from akindb.server.lane import FastLane
from tests.server.conftest import LiveServer, Servers

RNG = np.random.default_rng(7)
VECS = RNG.normal(size=(40, 8)).astype(np.float32)


@pytest.fixture
def pair(servers: Servers) -> tuple[LiveServer, LiveServer]:
    """Two servers on one database: the fast path on, and off (lane off too)."""
    fast = servers.start(auth=False)
    with akindb.connect(fast.url) as c:
        col = c.create_collection("vecs", model=None, dim=8)
        col.add(vectors=VECS, ids=[f"v{i}" for i in range(40)],
                metadatas=[{"even": i % 2 == 0} for i in range(40)])
        c.create_collection("docs", model="test-hash").add(["alpha beta"], ids=["a"])
    plain = servers.start(auth=False, fast_path=False, fast_lane_ms=0)
    return fast, plain


BODIES: list[tuple[str, Any]] = [
    ("search_vector", {"vector": VECS[3].tolist(), "k": 5}),
    ("search_vector", {"vector": VECS[3].tolist(), "k": 3, "min_score": 0.1}),
    ("search_vector", {"vector": VECS[3].tolist(), "k": 3, "where": {"even": True}}),
    ("search_vector", {"vector": VECS[3].tolist(), "k": 3, "exact": True}),
    ("search_vectors", {"vectors": VECS[:3].tolist(), "k": 2}),
    ("search_vectors", {"vectors": VECS[:20].tolist(), "k": 2}),
    ("search_vectors", {"vectors": VECS[:2].tolist(), "k": 2, "include": ["distances"]}),
    # errors: every one is answered by the FastAPI route
    ("search_vector", {"vector": [1.0, 2.0], "k": 5}),
    ("search_vector", {"vector": VECS[0].tolist(), "k": 0}),
    ("search_vector", {"vector": VECS[0].tolist(), "bogus": 1}),
    ("search_vector", [1, 2]),
    ("search_vectors", {"vectors": VECS[:2].tolist(), "include": ["nope"]}),
    ("search_vector", {"vector": VECS[0].tolist(), "where": {"$bad": 1}}),
]


@pytest.mark.parametrize(("route", "body"), BODIES, ids=[f"{r}-{i}" for i, (r, _) in
                                                         enumerate(BODIES)])
def test_same_answer_with_and_without_the_fast_path(
    pair: tuple[LiveServer, LiveServer], route: str, body: Any
) -> None:
    got = [httpx.post(f"{s.url}/v1/collections/vecs/{route}", json=body) for s in pair]
    assert got[0].status_code == got[1].status_code
    assert got[0].content == got[1].content
    assert got[0].headers["content-type"] == got[1].headers["content-type"]


def test_odd_bodies_and_routes_are_the_apps(pair: tuple[LiveServer, LiveServer]) -> None:
    hdr = {"Content-Type": "application/json"}
    for path, content, headers in [
        ("/v1/collections/vecs/search_vector", b'{"vector": [NaN, 0, 0, 0, 0, 0, 0, 1]}', hdr),
        ("/v1/collections/vecs/search_vector", b"{not json", hdr),
        ("/v1/collections/vecs/search_vector", b"", hdr),
        ("/v1/collections/vecs/search_vector", b'{"vector": [1]}', {"Content-Type": "text/x"}),
        ("/v1/collections/nope/search_vector", b'{"vector": [1]}', hdr),
        ("/v1/collections/..%2Fx/search_vector", b'{"vector": [1]}', hdr),
        ("/v1/collections/docs/search_vector", b'{"vector": [1]}', hdr),
    ]:
        got = [httpx.post(s.url + path, content=content, headers=headers) for s in pair]
        assert got[0].status_code == got[1].status_code and got[0].status_code >= 400, path
        assert got[0].content == got[1].content


def test_keys_are_checked_on_the_fast_path(servers: Servers, make_key: Any) -> None:
    admin, reader, other = (make_key("admin", ["*"]), make_key("read", ["vecs"]),
                            make_key("read", ["docs"]))
    srv = servers.start(auth=True)
    with akindb.connect(srv.url, api_key=admin) as c:
        c.create_collection("vecs", model=None, dim=8).add(vectors=VECS[:4], ids=list("abcd"))
    url = srv.url + "/v1/collections/vecs/search_vector"
    body = {"vector": VECS[1].tolist(), "k": 1}
    assert httpx.post(url, json=body).json()["error"]["code"] == "missing_api_key"
    r = httpx.post(url, json=body, headers={"X-API-Key": "akdb_00000000_" + "x" * 43})
    assert r.status_code == 401
    r = httpx.post(url, json=body, headers={"Authorization": f"Bearer {other}"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    for hdr in ({"Authorization": f"Bearer {reader}"}, {"X-API-Key": reader}):
        r = httpx.post(url, json=body, headers=hdr)
        assert r.status_code == 200 and r.json()["hits"][0]["id"] == "b"


def test_limits_apply_to_the_fast_path(servers: Servers) -> None:
    srv = servers.start(auth=False, max_body_bytes=10_000, body_timeout_s=0.3)
    with akindb.connect(srv.url) as c:
        c.create_collection("vecs", model=None, dim=8)
    url = srv.url + "/v1/collections/vecs/search_vector"

    def chunks():  # no Content-Length: the limit is enforced while streaming
        for _ in range(30):
            yield b"[" + b" " * 1000
    r = httpx.post(url, content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        s.sendall(b"POST /v1/collections/vecs/search_vector HTTP/1.1\r\nHost: t\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"ve")
        data = b""
        while b"\r\n\r\n" not in data:
            part = s.recv(4096)
            if not part:
                break
            data += part
    assert data.startswith(b"HTTP/1.1 408"), data[:100]


def test_the_lane_runs_cheap_searches_inline(pair: tuple[LiveServer, LiveServer]) -> None:
    fast, plain = pair
    lane = fast.app.state.akindb.lane
    before = lane.inline
    with akindb.connect(fast.url) as c:
        col = c.get_collection("vecs")
        for i in range(10):
            assert col.search_vector(VECS[i], k=1)[0].id == f"v{i}"
    assert lane.inline - before == 10
    assert plain.app.state.akindb.lane.inline == 0


def test_lane_backs_off_from_expensive_calls_and_comes_back() -> None:
    import asyncio

    lane = FastLane(threading.RLock(), budget_s=0.001, backoff_s=0.2)

    def burn() -> int:
        t = time.thread_time()
        while time.thread_time() - t < 0.004:
            pass
        return 1

    async def go() -> None:
        for _ in range(5):  # a moving average: one call is not enough to close the lane
            await lane.run("c", burn)
        assert not lane.open_for("c") and lane.open_for("other")
        pooled = lane.pooled
        await lane.run("c", lambda: 2)
        assert lane.pooled == pooled + 1
        await asyncio.sleep(0.25)
        assert lane.open_for("c")
        assert await lane.run("c", lambda: 3) == 3
        assert lane.open_for("c")  # one cheap call reopens it

    asyncio.run(go())


def test_lane_never_waits_for_the_database_lock() -> None:
    import asyncio

    lock = threading.RLock()
    lane = FastLane(lock)
    held, release = threading.Event(), threading.Event()

    def writer() -> None:
        with lock:
            held.set()
            release.wait(10)

    t = threading.Thread(target=writer)
    t.start()
    held.wait(10)

    async def go() -> int:
        pooled = lane.pooled
        fut = asyncio.ensure_future(lane.run("c", lambda: 5))
        await asyncio.sleep(0.05)
        assert lane.pooled == pooled + 1  # went to the pool instead of blocking the loop
        release.set()
        return await fut

    assert asyncio.run(go()) == 5
    t.join(10)


def test_text_searches_run_search_threads_at_once(tmp_path: Path) -> None:
    import asyncio

    from akindb.server.app import ServerSettings
    from akindb.server.state import State

    state = State(ServerSettings(db=tmp_path / "db", search_threads=2))
    lock = threading.Lock()
    running = peak = 0

    def work() -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return 1

    async def go() -> list[int]:
        return await asyncio.gather(*(state.searching(work) for _ in range(6)))

    try:
        assert asyncio.run(go()) == [1] * 6
    finally:
        state.db.close()
    assert peak == 2
