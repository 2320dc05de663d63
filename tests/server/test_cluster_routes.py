"""The cluster-only route on an embedded server (``akindb serve --cluster`` itself runs in
tests/distributed/test_serve.py): ``/shards`` answers ``null`` (the page then shows no shard
view), unknown collections are a 404 and the key check applies as on every route."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import akindb
from akindb.client import PermissionDeniedError
from akindb.errors import CollectionNotFoundError
from tests.server.conftest import EMBEDDER, Servers


def test_shards_route_on_an_embedded_server(servers: Servers, make_key: Callable[..., str],
                                            tmp_path: Path) -> None:
    with akindb.open(tmp_path / "db") as db:
        db.create_collection("docs", model=EMBEDDER)
        db.create_collection("other", model=EMBEDDER)
    key = make_key("read", ["docs"])
    srv = servers.start()
    client = akindb.connect(srv.url, api_key=key)
    admin = akindb.connect(srv.url, api_key=make_key("admin", ["*"]))
    try:
        assert client.request("GET", "/v1/collections/docs/shards") == {"shards": None}
        with pytest.raises(PermissionDeniedError):
            client.request("GET", "/v1/collections/other/shards")
        with pytest.raises(CollectionNotFoundError):
            admin.request("GET", "/v1/collections/nope/shards")
    finally:
        client.close()
        admin.close()
