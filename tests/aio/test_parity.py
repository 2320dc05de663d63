"""One suite, two async backends: ``aopen`` (embedded, thread offload) and ``aconnect``
(``httpx.AsyncClient`` against a real server on loopback) give the same answers and errors."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("httpx", reason="server extra not installed: pip install 'akindb[server]'")

import akindb
from akindb import errors
from akindb.aio.protocol import AsyncCollectionAPI
from akindb.types import Hit, Record
from tests.server.conftest import EMBEDDER, LiveServer, ServerSettings

TEXTS = [
    "The cat sat on the warm mat by the fire.",
    "Dogs bark at the postman every morning.",
    "A recipe for bread: flour, water, salt and yeast.",
    "Stock markets fell sharply after the announcement.",
    "The kitten chased a ball of yarn across the mat.",
]
IDS = ["cat", "dog", "bread", "stocks", "kitten"]
METAS = [{"topic": "pets"}, {"topic": "pets"}, {"topic": "food"}, {"topic": "money"},
         {"topic": "pets"}]


@dataclass
class ABackend:
    kind: str
    path: Path
    url: str = ""

    def run(self, body: Callable[[Any], Awaitable[None]]) -> None:
        """Open the backend inside a fresh event loop, run ``body(db)``, close it."""

        async def go() -> None:
            db: Any = (await akindb.aopen(self.path) if self.kind == "embedded"
                       else akindb.aconnect(self.url))
            try:
                await body(db)
            finally:
                await db.close()

        asyncio.run(go())

    def model(self) -> Any:
        return EMBEDDER if self.kind == "embedded" else EMBEDDER.spec.name


@pytest.fixture(params=["embedded", "http"])
def abackend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ABackend]:
    if request.param == "embedded":
        yield ABackend("embedded", tmp_path / "db")
        return
    srv = LiveServer(ServerSettings(db=tmp_path / "db", auth=False, embedders=(EMBEDDER,)))
    yield ABackend("http", tmp_path / "db", srv.url)
    srv.stop()


async def _filled(db: Any, b: ABackend) -> Any:
    col = await db.create_collection("docs", model=b.model())
    assert isinstance(col, AsyncCollectionAPI)
    assert await col.add(TEXTS, ids=IDS, metadatas=METAS,
                         sources=[f"{i}.txt" for i in IDS]) == IDS
    return col


def test_add_search_get_count(abackend: ABackend) -> None:
    async def body(db: Any) -> None:
        col = await _filled(db, abackend)
        assert await col.count() == 5
        assert await col.count_chunks() == 5
        hits = await col.search("cat on the mat", k=3, mode="vector")
        assert all(isinstance(h, Hit) for h in hits)
        assert hits[0].id == "cat"
        kw = await col.search("yeast", k=2, mode="keyword")
        assert kw[0].id == "bread"
        recs = await col.get(["dog", "cat"])
        assert [r.id for r in recs] == ["dog", "cat"]
        assert all(isinstance(r, Record) for r in recs)
        assert (await col.get(where={"topic": "food"}))[0].id == "bread"
        info = await col.info()
        assert info["documents"] == 5 and info["dim"] == EMBEDDER.dim
        stats = await col.index_stats()
        assert stats["kind"] == "flat" and stats["size"] == 5
        assert stats["recall_monitor"] is None  # flat: exact, nothing to estimate
        tv = await col.tokenize("The cat")
        assert tv.tokens == ["the", "cat"]
        assert await db.list_collections() == ["docs"]

    abackend.run(body)


def test_vectors_more_like_context_delete(abackend: ABackend) -> None:
    async def body(db: Any) -> None:
        col = await _filled(db, abackend)
        q = EMBEDDER.embed(["cat on the mat"])
        one = await col.search_vector(q[0], k=2)
        many = await col.search_vectors(np.vstack([q, q]), k=2)
        assert [h.id for h in one] == [h.id for h in many[0]] == [h.id for h in many[1]]
        res = await col.search_vectors(q, k=2, include=["scores"])
        assert res["ids"][0] == [h.id for h in one]
        like = await col.more_like("cat", k=2)
        assert "cat" not in [h.id for h in like]
        ctx = await col.context("cat on the mat", max_tokens=50, k=3)
        assert ctx.passages and ctx.tokens <= 50
        assert await col.upsert(["A new text about cats."], ids=["cat"]) == ["cat"]
        assert (await col.get("cat"))[0].text == "A new text about cats."
        assert await col.delete(where={"topic": "pets"}) == 2  # upsert dropped cat's metadata
        assert await col.count() == 3
        await col.flush()
        await db.drop_collection("docs")
        assert await db.list_collections() == []

    abackend.run(body)


def test_add_files(abackend: ABackend, tmp_path: Path) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "a.txt").write_text("alpha beta gamma", encoding="utf-8")
    (folder / "b.md").write_text("# Title\n\ndelta epsilon", encoding="utf-8")
    (folder / "c.bin").write_bytes(b"\x00\x01\x02")

    async def body(db: Any) -> None:
        col = await db.create_collection("docs", model=abackend.model())
        seen: list[tuple[int, int, int]] = []
        rep = await col.add_files([folder], progress=lambda *a: seen.append(a))
        assert rep.added == 2 and seen and seen[-1][0] == seen[-1][1]
        again = await col.add_files([folder])
        assert again.unchanged == 2 and again.added == 0
        hits = await col.search("delta epsilon", k=1, mode="keyword")
        assert hits[0].id.endswith("b.md")

    abackend.run(body)


def test_same_errors(abackend: ABackend) -> None:
    async def body(db: Any) -> None:
        with pytest.raises(errors.CollectionNotFoundError):
            await db.get_collection("nope")
        col = await _filled(db, abackend)
        with pytest.raises(errors.CollectionExistsError):
            await db.create_collection("docs", model=abackend.model())
        with pytest.raises(errors.InvalidArgumentError):
            await col.add(["different"], ids=["cat"])
        with pytest.raises(errors.InvalidVectorError):
            await col.search_vector([1.0, 2.0], k=1)
        with pytest.raises(errors.InvalidArgumentError):
            await col.add("one string")
        assert await col.count() == 5
        got = await db.get_or_create_collection("docs")
        assert got.name == "docs"

    abackend.run(body)


def test_http_refuses_objects_of_this_process(tmp_path: Path) -> None:
    srv = LiveServer(ServerSettings(db=tmp_path / "db", auth=False, embedders=(EMBEDDER,)))

    async def go() -> None:
        async with akindb.aconnect(srv.url) as client:
            col = await client.create_collection("docs", model=EMBEDDER.spec.name)
            with pytest.raises(errors.InvalidArgumentError, match="cannot be sent"):
                await col.context("x", count_tokens=len)
            with pytest.raises(errors.InvalidArgumentError, match="cannot be sent"):
                await col.search("x", rerank=object())  # type: ignore[arg-type]

    try:
        asyncio.run(go())
    finally:
        srv.stop()
