"""Regression tests for issue 13's server items (1, 5, 6, 9, 13) over real HTTP on loopback.
Each is named after its item and failed before the fix."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

import akindb
from tests.server.conftest import LiveServer, Servers

HDR = {"Content-Type": "application/json"}


@pytest.fixture
def filled(server: LiveServer) -> LiveServer:
    with akindb.connect(server.url) as c:
        c.create_collection("docs", model="test-hash").add(
            ["alpha beta gamma", "delta epsilon"], ids=["a", "d"], metadatas=[{"lang": "en"}] * 2
        )
        c.create_collection("vecs", model=None, dim=3, metric="cosine").add(
            vectors=[[1, 0, 0], [0, 1, 0]], ids=["x", "y"]
        )
    return server


def _code(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json()["error"]["code"] if r.status_code >= 400 else ""


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_item1_nonfinite_metadata_over_http_is_400_and_reads_keep_working(
    filled: LiveServer, literal: str
) -> None:
    u = filled.url + "/v1/collections/docs"
    body = '{"texts": ["zeta"], "ids": ["z"], "metadatas": [{"p": LIT, "lang": "en"}]}'
    body = body.replace("LIT", literal)
    r = httpx.post(u + "/add", content=body.encode(), headers=HDR)
    assert _code(r) == (400, "invalid_argument"), r.text
    assert "finite" in r.json()["error"]["message"]
    r = httpx.post(u + "/get", json={"where": {"lang": "en"}})
    assert r.status_code == 200 and len(r.json()["records"]) == 2


@pytest.mark.parametrize("body", [
    '{"texts": ["x"], "ids": ["a\\ud800"]}',
    '{"texts": ["x \\udcff"], "ids": ["n"]}',
    '{"texts": ["x"], "ids": ["n"], "sources": ["s\\ud800"]}',
    '{"texts": ["x"], "ids": ["n"], "metadatas": [{"k": "v\\ud800"}]}',
    '{"texts": ["x"], "ids": ["n"], "metadatas": [{"k\\ud800": 1}]}',
])
def test_item5_lone_surrogates_over_http_are_400(filled: LiveServer, body: str) -> None:
    u = filled.url + "/v1/collections/docs"
    r = httpx.post(u + "/add", content=body.encode(), headers=HDR)
    assert _code(r) == (400, "invalid_argument"), r.text
    assert "UTF-8" in r.json()["error"]["message"]
    r = httpx.post(u + "/get", json={})
    assert r.status_code == 200 and len(r.json()["records"]) == 2


def test_item5_lone_surrogate_query_over_http_is_400(filled: LiveServer) -> None:
    u = filled.url + "/v1/collections/docs"
    r = httpx.post(u + "/search", content=b'{"query": "\\ud800 x"}', headers=HDR)
    assert _code(r) in ((400, "invalid_argument"), (422, "invalid_request")), r.text
    r = httpx.post(u + "/get", content=b'{"where": {"lang": "\\ud800"}}', headers=HDR)
    assert _code(r) == (400, "invalid_filter"), r.text


def test_item6_one_read_request_cannot_ask_for_unbounded_work(filled: LiveServer) -> None:
    u = filled.url + "/v1/collections/vecs"
    r = httpx.post(u + "/search_vectors", json={"vectors": [[1, 0, 0]] * 1000, "k": 10_000})
    assert _code(r) == (400, "invalid_argument"), r.text
    assert "split the queries" in r.json()["error"]["message"]
    r = httpx.post(u + "/search_vector", json={"vector": [1, 0, 0], "k": 10_000})
    assert r.status_code == 200 and [h["id"] for h in r.json()["hits"]] == ["x", "y"]
    d = filled.url + "/v1/collections/docs"
    r = httpx.post(d + "/search_batch", json={"queries": ["alpha " * 1600] * 200, "k": 1})
    assert _code(r) == (400, "invalid_argument"), r.text


def test_item9_404_names_neither_other_collections_nor_the_path(
    servers: Servers, make_key: Callable[..., str]
) -> None:
    with akindb.open(servers.tmp / "db") as db:
        db.create_collection("secret-plans", model=None, dim=2)
        db.create_collection("public", model=None, dim=2)
    srv = servers.start()
    key = make_key("read", ["public"])
    r = httpx.post(srv.url + "/v1/collections/nope/search_vector", json={"vector": [1, 0]},
                   headers={"Authorization": f"Bearer {key}"})
    assert r.status_code in (403, 404), r.text
    msg = r.json()["error"]["message"]
    assert "secret-plans" not in msg and str(servers.tmp) not in msg
    admin = make_key("admin", ["*"])
    r = httpx.get(srv.url + "/v1/collections/nope",
                  headers={"Authorization": f"Bearer {admin}"})
    assert _code(r) == (404, "collection_not_found")
    msg = r.json()["error"]["message"]
    assert "secret-plans" not in msg and str(servers.tmp) not in msg and "create it" in msg


def test_item13_page_and_api_send_security_headers(filled: LiveServer) -> None:
    for path in ("/", "/static/app.js", "/v1/collections", "/v1/collections/nope"):
        r = httpx.get(filled.url + path)
        assert r.headers["x-content-type-options"] == "nosniff", path
        assert r.headers["x-frame-options"] == "DENY", path
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
    assert "access-control-allow-origin" not in httpx.get(
        filled.url + "/v1/collections", headers={"Origin": "https://evil.example"}
    ).headers
