"""API keys: 401 without a valid key and 403 outside its scope, on every API route; keys are
stored hashed only; revocation and expiry take effect on the next request."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

import akindb
from akindb.client import AuthError, PermissionDeniedError
from akindb.server.auth import KeyStore
from tests.server.conftest import Servers

OPEN = {"/healthz", "/openapi.json"}


def _operations(url: str) -> list[tuple[str, str]]:
    schema = httpx.get(url + "/openapi.json").json()
    return [(m.upper(), p) for p, ops in schema["paths"].items() for m in ops if p not in OPEN]


def test_every_route_needs_a_key_and_the_right_scope(
    servers: Servers, make_key: Callable[..., str]
) -> None:
    admin = make_key("admin", ["*"])
    other = make_key("admin", ["other"])  # a strong key, for another collection
    srv = servers.start()
    with akindb.connect(srv.url, api_key=admin) as c:
        c.create_collection("docs", model="test-hash").add(["hello world"], ids=["h"])
    ops = _operations(srv.url)
    assert len(ops) >= 19
    assert {("POST", f"/v1/collections/{{name}}/{r}") for r in ("add_files", "context",
                                                                 "more_like")} <= set(ops)
    for method, path in ops:
        url = srv.url + path.replace("{name}", "docs")
        r = httpx.request(method, url, json={})
        assert r.status_code == 401, (method, path, r.text)
        assert r.json()["error"]["code"] == "missing_api_key"
        r = httpx.request(method, url, json={}, headers={"X-API-Key": "akdb_00000000_" + "x" * 43})
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
        if "{name}" in path:
            r = httpx.request(method, url, json={}, headers={"Authorization": f"Bearer {other}"})
            assert r.status_code == 403, (method, path, r.text)
            assert r.json()["error"]["code"] == "forbidden"


def test_roles(servers: Servers, make_key: Callable[..., str], tmp_path: Path) -> None:
    admin, reader, writer = (
        make_key("admin", ["*"]), make_key("read", ["docs"]), make_key("write", ["docs"])
    )
    srv = servers.start()
    with akindb.connect(srv.url, api_key=admin) as c:
        c.create_collection("docs", model="test-hash")
        c.create_collection("secret", model="test-hash")
    with akindb.connect(srv.url, api_key=writer) as c:
        col = c.get_collection("docs")
        col.add(["the quick brown fox"], ids=["fox"])
        with pytest.raises(PermissionDeniedError, match="admin"):
            c.drop_collection("docs")
        with pytest.raises(PermissionDeniedError):
            c.create_collection("new", model="test-hash")
    with akindb.connect(srv.url, api_key=reader) as c:
        assert c.list_collections() == ["docs"]  # only what the key may see
        col = c.get_collection("docs")
        assert col.search("fox", k=1)[0].id == "fox"
        assert col.context("fox", max_tokens=20).passages[0].doc_id == "fox"
        assert col.more_like(text="brown fox", k=1)[0].id == "fox"
        with pytest.raises(PermissionDeniedError, match="write"):
            col.add(["more"], ids=["m"])
        with pytest.raises(PermissionDeniedError, match="write"):
            col.add_files([tmp_path / "db" / "keys.toml"])
        with pytest.raises(PermissionDeniedError):
            c.get_collection("secret")


def test_keys_are_stored_hashed(tmp_path: Path, make_key: Callable[..., str]) -> None:
    key = make_key("read", ["docs"])
    text = (tmp_path / "db" / "keys.toml").read_text()
    assert key not in text and key.split("_")[2] not in text
    assert (tmp_path / "db" / "keys.toml").stat().st_mode & 0o077 == 0


def test_revoked_and_expired_keys(servers: Servers, tmp_path: Path,
                                  make_key: Callable[..., str]) -> None:
    key = make_key("read", ["*"])
    expired = make_key("read", ["*"], expires_in_s=-1)
    srv = servers.start()
    with akindb.connect(srv.url, api_key=key) as c:
        assert c.list_collections() == []
        KeyStore.for_db(tmp_path / "db").revoke(key.split("_")[1])
        with pytest.raises(AuthError, match="revoked"):
            c.list_collections()
    with akindb.connect(srv.url, api_key=expired) as c, pytest.raises(AuthError, match="expired"):
        c.list_collections()


def test_page_shell_is_public_but_data_is_not(servers: Servers) -> None:
    srv = servers.start()
    assert httpx.get(srv.url + "/").status_code == 200
    assert httpx.get(srv.url + "/static/app.js").status_code == 200
    r = httpx.post(srv.url + "/v1/collections/docs/map", json={})
    assert r.status_code == 401
