"""Server fixtures: a live uvicorn server on 127.0.0.1 (a thread, a free port) and the
``backend`` fixture that runs one test suite against the embedded API and over HTTP."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="server extra not installed: pip install 'akindb[server]'")

import uvicorn

import akindb
from akindb.server.app import ServerSettings, create_app
from akindb.server.auth import KeyStore
from tests.conftest import HashEmbedder

EMBEDDER = HashEmbedder()


class LiveServer:
    """uvicorn serving ``create_app(settings)`` in a thread on a free loopback port."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.app = create_app(settings)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            self.app, log_level="warning", ws="none", lifespan="on", timeout_keep_alive=5
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )
        self.thread.start()
        for _ in range(500):  # bounded wait for startup
            if self.server.started:
                break
            time.sleep(0.01)
        assert self.server.started, "test server did not start"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.sock.close()


@dataclass
class Servers:
    tmp: Path
    started: list[LiveServer] = field(default_factory=list)

    def start(self, db: Path | None = None, **kw: Any) -> LiveServer:
        kw.setdefault("embedders", (EMBEDDER,))
        srv = LiveServer(ServerSettings(db=db or self.tmp / "db", **kw))
        self.started.append(srv)
        return srv


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    s = Servers(tmp_path)
    yield s
    for srv in s.started:
        srv.stop()


@pytest.fixture
def server(servers: Servers) -> LiveServer:
    """A server without keys (loopback only), database in tmp_path/db."""
    return servers.start(auth=False)


@pytest.fixture
def make_key(tmp_path: Path) -> Callable[..., str]:
    """Create a key in tmp_path/db/keys.toml: ``make_key("read", ["docs"])``."""

    def make(role: str, collections: list[str], expires_in_s: float | None = None) -> str:
        plain, _ = KeyStore.for_db(tmp_path / "db").create(
            role, collections, expires_in_s=expires_in_s
        )
        return plain

    return make


@dataclass
class Backend:
    """The embedded ``Database`` or an HTTP ``Client``, with one way to make a collection."""

    kind: str
    db: Any

    def create(self, name: str, **kw: Any) -> Any:
        if "model" not in kw:
            kw["model"] = EMBEDDER if self.kind == "embedded" else EMBEDDER.spec.name
        return self.db.create_collection(name, **kw)


@pytest.fixture(params=["embedded", "http"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "embedded":
        db = akindb.open(tmp_path / "db")
        yield Backend("embedded", db)
        db.close()
        return
    srv = LiveServer(ServerSettings(db=tmp_path / "db", auth=False, embedders=(EMBEDDER,)))
    client = akindb.connect(srv.url)
    yield Backend("http", client)
    client.close()
    srv.stop()
