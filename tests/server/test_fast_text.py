"""The text-search fast path (server/fast_text.py) changes how ``/search`` is served, never what
comes back: every answer, error or not, is byte-for-byte the one the plain FastAPI route gives,
with and without keys."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

import akindb
from akindb.server.fast import FastPath
from akindb.server.fast_text import TextAnswer
from tests.server.conftest import LiveServer, Servers

TEXTS = ["alpha beta gamma", "beta gamma delta", "gamma delta epsilon", "cats and dogs",
         "the quick brown fox", "a lazy dog sleeps", "alpha and omega"]


@pytest.fixture
def pair(servers: Servers) -> tuple[LiveServer, LiveServer]:
    """Two servers on one database: the fast paths on, and off (lanes off too)."""
    fast = servers.start(auth=False)
    with akindb.connect(fast.url) as c:
        col = c.create_collection("docs", model="test-hash")
        col.add(TEXTS, ids=[f"d{i}" for i in range(len(TEXTS))],
                metadatas=[{"i": i, "even": i % 2 == 0} for i in range(len(TEXTS))])
    plain = servers.start(auth=False, fast_path=False, fast_lane_ms=0)
    return fast, plain


BODIES: list[Any] = [
    {"query": "gamma delta", "k": 3, "mode": "vector"},
    {"query": "gamma delta", "k": 3},
    {"query": "gamma delta", "k": 5, "mode": "keyword"},
    {"query": "alpha", "k": 4, "mode": "vector", "min_score": 0.2},
    {"query": "alpha", "k": 4, "mode": "vector", "max_distance": 0.9},
    {"query": "dog", "k": 3, "where": {"even": True}},
    {"query": "dog", "k": 3, "exact": True, "mode": "vector"},
    {"query": "alpha beta", "k": 2, "explain": True},
    {"query": "alpha beta", "k": 3, "rerank": "mmr"},
    {"query": "alpha beta", "k": 3, "group_by": "document"},
    {"query": "alpha", "k": 3, "fusion": {"method": "rrf"}},
    # errors: each answered by the FastAPI route
    {"query": "", "k": 3},
    {"query": "alpha", "k": 0},
    {"query": "alpha", "mode": "nope"},
    {"query": "alpha", "rerank": "cross-encoder:x"},
    {"query": "alpha", "mode": "keyword", "max_distance": 0.5},
    {"query": "alpha", "bogus": 1},
    {"query": "alpha", "where": {"$bad": 1}},
    {"query": 5},
    ["alpha"],
]


@pytest.mark.parametrize("body", BODIES, ids=[str(i) for i in range(len(BODIES))])
def test_same_answer_with_and_without_the_fast_path(
    pair: tuple[LiveServer, LiveServer], body: Any
) -> None:
    got = [httpx.post(f"{s.url}/v1/collections/docs/search", json=body) for s in pair]
    assert got[0].status_code == got[1].status_code
    assert got[0].content == got[1].content
    assert got[0].headers["content-type"] == got[1].headers["content-type"]


def test_odd_requests_are_the_apps(pair: tuple[LiveServer, LiveServer]) -> None:
    hdr = {"Content-Type": "application/json"}
    for path, content, headers in [
        ("/v1/collections/docs/search", b'{"query": "a", "min_score": NaN}', hdr),
        ("/v1/collections/docs/search", b"{not json", hdr),
        ("/v1/collections/docs/search", b"", hdr),
        ("/v1/collections/docs/search", b'{"query": "a"}', {"Content-Type": "text/x"}),
        ("/v1/collections/nope/search", b'{"query": "a"}', hdr),
        ("/v1/collections/..%2Fx/search", b'{"query": "a"}', hdr),
    ]:
        got = [httpx.post(s.url + path, content=content, headers=headers) for s in pair]
        assert got[0].status_code == got[1].status_code and got[0].status_code >= 400, path
        assert got[0].content == got[1].content


def test_keys_are_checked_on_the_text_fast_path(servers: Servers, make_key: Any) -> None:
    srv = servers.start(auth=True)
    admin = make_key("admin", ["*"])
    with akindb.connect(srv.url, api_key=admin) as c:
        c.create_collection("docs", model="test-hash").add(TEXTS[:3], ids=["a", "b", "c"])
        c.create_collection("other", model="test-hash").add(TEXTS[:1], ids=["x"])
    reader = make_key("read", ["docs"])
    url = f"{srv.url}/v1/collections/docs/search"
    body = {"query": "gamma", "k": 2, "mode": "vector"}
    ok = httpx.post(url, json=body, headers={"Authorization": f"Bearer {reader}"})
    assert ok.status_code == 200 and len(ok.json()["hits"]) == 2
    assert httpx.post(url, json=body, headers={"X-API-Key": reader}).status_code == 200
    assert httpx.post(url, json=body).status_code == 401
    assert httpx.post(url, json=body, headers={"X-API-Key": "akdb_nope"}).status_code == 401
    other = f"{srv.url}/v1/collections/other/search"
    assert httpx.post(other, json=body, headers={"X-API-Key": reader}).status_code == 403


def _text_answer(srv: LiveServer) -> TextAnswer:
    app: Any = srv.app.middleware_stack
    while app is not None and not isinstance(app, FastPath):
        app = getattr(app, "app", None)
    assert isinstance(app, FastPath), "the fast path is installed"
    answer = app.routes["search"]
    assert isinstance(answer, TextAnswer)
    return answer


def test_successful_text_searches_take_the_fast_path(
    pair: tuple[LiveServer, LiveServer],
) -> None:
    """Successes are the fast path's (filtered ones too); errors are the route's."""
    fast, _ = pair
    url = f"{fast.url}/v1/collections/docs/search"
    answer = _text_answer(fast)
    before = answer.answered
    for body in ({"query": "alpha", "mode": "vector"}, {"query": "alpha"},
                 {"query": "alpha", "where": {"even": True}}):
        assert httpx.post(url, json=body).status_code == 200
    assert answer.answered == before + 3
    assert httpx.post(url, json={"query": "", "k": 3}).status_code == 400
    assert answer.answered == before + 3
