"""Bad input gets a JSON error with a stable code and a message saying what to do; never a 500.
Property-based: bodies drawn by hypothesis for every operation in the OpenAPI schema."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import akindb
from tests.server.conftest import LiveServer, Servers


@pytest.fixture
def filled(server: LiveServer) -> LiveServer:
    with akindb.connect(server.url) as c:
        c.create_collection("docs", model="test-hash").add(
            ["alpha beta gamma", "delta epsilon"], ids=["a", "d"]
        )
        c.create_collection("vecs", model=None, dim=3, metric="cosine").add(
            vectors=[[1, 0, 0], [0, 1, 0]], ids=["x", "y"]
        )
    return server


def _err(r: httpx.Response, status: int, code: str) -> str:
    assert r.status_code == status, r.text
    body = r.json()["error"]
    assert body["code"] == code and body["status"] == status
    return str(body["message"])


def test_malformed_and_wrong_types(filled: LiveServer) -> None:
    u = filled.url + "/v1/collections/docs"
    hdr = {"Content-Type": "application/json"}
    _err(httpx.post(u + "/search", content=b"{not json", headers=hdr), 400, "malformed_json")
    msg = _err(httpx.post(u + "/search", json={"query": "x", "k": "ten"}), 422,
               "invalid_request")
    assert "k" in msg
    _err(httpx.post(u + "/search", json={"query": 5}), 422, "invalid_request")
    _err(httpx.post(u + "/search", json={"query": "x", "bogus": 1}), 422, "invalid_request")
    _err(httpx.post(u + "/search", json=[1, 2]), 422, "invalid_request")
    _err(httpx.post(u + "/search", json={"query": "x", "mode": "psychic"}), 400,
         "invalid_argument")
    _err(httpx.post(u + "/search", json={"query": "x", "fusion": {"method": "zz"}}), 400,
         "invalid_argument")


def test_unknown_routes_collections_and_names(filled: LiveServer) -> None:
    _err(httpx.get(filled.url + "/v2/whatever"), 404, "route_not_found")
    _err(httpx.put(filled.url + "/v1/collections/docs/search"), 405, "method_not_allowed")
    msg = _err(httpx.post(filled.url + "/v1/collections/nope/search", json={"query": "x"}), 404,
               "collection_not_found")
    assert "create it" in msg
    for name in ("..", "..%2F..%2Fetc", ".x", "%2Fetc", "a%00b"):
        r = httpx.get(f"{filled.url}/v1/collections/{name}")
        assert r.status_code in (400, 404), (name, r.text)
        assert r.json()["error"]["code"] in ("invalid_argument", "route_not_found")


def test_vectors(filled: LiveServer) -> None:
    u = filled.url + "/v1/collections/vecs"
    hdr = {"Content-Type": "application/json"}
    msg = _err(httpx.post(u + "/search_vector", json={"vector": [1, 0]}), 400, "invalid_vector")
    assert "dimension" in msg
    nan = b'{"vector": [NaN, 0, 1]}'
    _err(httpx.post(u + "/search_vector", content=nan, headers=hdr), 400, "invalid_vector")
    big = b'{"vector": [1e300, 0, 1]}'
    _err(httpx.post(u + "/search_vector", content=big, headers=hdr), 400, "invalid_vector")
    _err(httpx.post(u + "/search_vector", json={"vector": [0, 0, 0]}), 400, "invalid_vector")
    _err(httpx.post(u + "/search", json={"query": "text"}), 400, "model_error")


def test_add_files_takes_contents_never_server_paths(filled: LiveServer, tmp_path: Path) -> None:
    u = filled.url + "/v1/collections/docs"
    secret = tmp_path / "secret.txt"
    secret.write_text("the server must never read this file")
    r = httpx.post(u + "/add_files", json={"files": [
        {"name": str(secret), "text": "uploaded words only"},
        {"name": "/etc/passwd", "content_base64": "aGVsbG8gd29ybGQ="},
    ]})
    assert r.status_code == 200, r.text
    assert r.json()["added"] == 2
    with akindb.connect(filled.url) as c:
        col = c.get_collection("docs")
        assert col.get(str(secret))[0].text == "uploaded words only"
        assert col.get("/etc/passwd")[0].text == "hello world"
        assert not col.search("never read this", k=5, mode="keyword")


@pytest.mark.parametrize(("files", "status", "code", "words"), [
    ([{"name": "a.txt"}], 400, "invalid_argument", "exactly one"),
    ([{"name": "a.txt", "text": "x", "content_base64": "eA=="}], 400, "invalid_argument",
     "exactly one"),
    ([{"name": "a.txt", "content_base64": "not base64!"}], 400, "invalid_argument", "base64"),
    ([{"name": "a.txt", "text": "x"}, {"name": "a.txt", "text": "y"}], 400, "invalid_argument",
     "twice"),
    ([{"name": "a\u0000b", "text": "x"}], 400, "invalid_argument", "NUL"),
    ([{"name": "", "text": "x"}], 422, "invalid_request", "name"),
    ([{"name": "a.txt", "text": "x", "path": "/etc"}], 422, "invalid_request", "path"),
    ([{"name": "x" * 5000, "text": "x"}], 422, "invalid_request", "name"),
    ("a.txt", 422, "invalid_request", "files"),
])
def test_add_files_bad_input(filled: LiveServer, files: object, status: int, code: str,
                             words: str) -> None:
    r = httpx.post(filled.url + "/v1/collections/docs/add_files", json={"files": files})
    assert words in _err(r, status, code)
    assert httpx.get(filled.url + "/v1/collections/docs/count").json()["count"] == 2


def test_context_and_more_like_bad_input(filled: LiveServer) -> None:
    u = filled.url + "/v1/collections/docs"
    assert "max_tokens" in _err(httpx.post(u + "/context", json={"query": "alpha",
                                                                "max_tokens": 0}),
                                400, "invalid_argument")
    _err(httpx.post(u + "/context", json={"query": "alpha", "max_tokens": "lots"}), 422,
         "invalid_request")
    _err(httpx.post(u + "/context", json={"query": "alpha", "max_tokens": 10**9}), 422,
         "invalid_request")
    _err(httpx.post(u + "/context", json={"query": "alpha", "dedup_threshold": 7}), 400,
         "invalid_argument")
    _err(httpx.post(u + "/context", json={"query": " "}), 400, "empty_text")
    _err(httpx.post(u + "/context", json={}), 422, "invalid_request")
    ok = httpx.post(u + "/context", json={"query": "alpha", "max_tokens": 5})
    assert ok.status_code == 200 and ok.json()["passages"][0]["doc_id"] == "a"
    msg = _err(httpx.post(u + "/more_like", json={"id": "nope"}), 404, "document_not_found")
    assert "check the id" in msg
    _err(httpx.post(u + "/more_like", json={}), 400, "invalid_argument")
    _err(httpx.post(u + "/more_like", json={"id": "a", "text": "b"}), 400, "invalid_argument")
    _err(httpx.post(u + "/more_like", json={"id": "a", "k": 0}), 422, "invalid_request")
    _err(httpx.post(filled.url + "/v1/collections/vecs/more_like", json={"text": "words"}),
         400, "model_error")
    assert httpx.post(filled.url + "/v1/collections/vecs/more_like",
                      json={"id": "x"}).json()["hits"][0]["id"] == "y"


def test_huge_body(servers: Servers) -> None:
    srv = servers.start(auth=False, max_body_bytes=10_000)
    with akindb.connect(srv.url) as c:
        c.create_collection("docs", model="test-hash")
    r = httpx.post(srv.url + "/v1/collections/docs/add", json={"texts": ["x" * 20_000]})
    assert "split the batch" in _err(r, 413, "request_too_large")

    def chunks():  # no Content-Length: the limit is enforced while streaming
        for _ in range(30):
            yield b"[" + b" " * 1000
    r = httpx.post(srv.url + "/v1/collections/docs/add", content=chunks(),
                   headers={"Content-Type": "application/json"})
    _err(r, 413, "request_too_large")
    with akindb.connect(srv.url) as c:
        assert c.get_collection("docs").count() == 0


def test_slow_client_gets_408_and_server_keeps_serving(servers: Servers) -> None:
    srv = servers.start(auth=False, body_timeout_s=0.3)
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        s.sendall(b"POST /v1/collections/x/search HTTP/1.1\r\nHost: t\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"qu")
        data = b""
        while b"\r\n\r\n" not in data:
            part = s.recv(4096)
            if not part:
                break
            data += part
    assert data.startswith(b"HTTP/1.1 408"), data[:100]
    assert httpx.get(srv.url + "/healthz").status_code == 200


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner,
                                                                 max_size=5),
    max_leaves=20,
)
FIELDS = ["query", "queries", "k", "vector", "vectors", "texts", "ids", "where", "include",
          "metadatas", "min_score", "max_distance", "mode", "fusion", "exact", "limit", "offset",
          "id", "chunk", "text", "name", "model", "metric", "dim", "index", "explain", "sources",
          "max_points", "files", "metadata", "max_tokens", "dedup_threshold", "merge_adjacent"]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_500s_from_the_schema(filled: LiveServer, data: st.DataObject) -> None:
    schema = filled.app.openapi()
    ops = sorted((p, m) for p, ops in schema["paths"].items() for m in ops
                 if not (p == "/v1/collections/{name}" and m == "delete"))
    path, method = data.draw(st.sampled_from(ops))
    name = data.draw(st.sampled_from(["docs", "vecs", "nope", "..", "a" * 130]))
    body = data.draw(st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=6) | JSON)
    r = httpx.request(method.upper(), filled.url + path.replace("{name}", name),
                      content=json.dumps(body).encode(),
                      headers={"Content-Type": "application/json"}, timeout=30)
    assert r.status_code < 500, (method, path, body, r.text)
    if r.status_code >= 400:
        assert set(r.json()["error"]) == {"code", "message", "status"}
    # nothing lost: the stored documents are still there
    assert httpx.get(filled.url + "/v1/collections/docs/count").json()["count"] >= 0
