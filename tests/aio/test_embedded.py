"""The embedded async API: work runs off the loop, and a cancelled write is all or nothing."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from pathlib import Path

import pytest

import akindb
from akindb.aio.embedded import AsyncCollection
from akindb.aio.protocol import AsyncCollectionAPI
from tests.conftest import HashEmbedder

TEXTS = [f"document number {i} about topic {i % 7} and more words" for i in range(40)]


class GatedEmbedder(HashEmbedder):
    """Blocks inside embedding until released, so a test can cancel the awaiting caller while
    the write is in flight in its thread. An injected fault (the gate), real everything else."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def embed_batch(self, texts):  # type: ignore[no-untyped-def]
        self.entered.set()
        assert self.release.wait(10)
        return super().embed_batch(texts)


def test_aopen_add_search_roundtrip(tmp_path: Path) -> None:
    async def go() -> None:
        db = await akindb.aopen(tmp_path / "db", max_workers=2)
        async with db:
            col = await db.create_collection("docs", model=HashEmbedder())
            assert isinstance(col, AsyncCollectionAPI)
            ids = await col.add(TEXTS[:5], ids=[f"d{i}" for i in range(5)])
            assert ids == [f"d{i}" for i in range(5)]
            hits = await col.search("document number 3", k=2, mode="vector")
            assert hits[0].id == "d3"
            assert await col.count() == 5
            assert await db.list_collections() == ["docs"]
            # many coroutines at once share the bounded pool and all finish
            res = await asyncio.gather(*(col.search(t, k=1, mode="keyword") for t in TEXTS[:5]))
            assert [r[0].id for r in res] == ids

    asyncio.run(go())


def test_loop_stays_responsive_while_a_write_runs(tmp_path: Path) -> None:
    emb = GatedEmbedder()

    async def go() -> None:
        db = await akindb.aopen(tmp_path / "db")
        col = await db.create_collection("docs", model=emb)
        task = asyncio.create_task(col.add(TEXTS, ids=[f"d{i}" for i in range(40)]))
        await asyncio.to_thread(emb.entered.wait, 10)
        ticks = 0
        for _ in range(5):  # the loop runs other work while the add is blocked in its thread
            await asyncio.sleep(0)
            ticks += 1
        assert ticks == 5 and not task.done()
        emb.release.set()
        assert len(await task) == 40
        await db.close()

    asyncio.run(go())


def test_cancel_while_running_leaves_all(tmp_path: Path) -> None:
    """Cancelled after the write started: it completes in its thread, whole."""
    emb = GatedEmbedder()

    async def go() -> None:
        db = await akindb.aopen(tmp_path / "db", max_workers=1)
        col = await db.create_collection("docs", model=emb)
        task = asyncio.create_task(col.add(TEXTS, ids=[f"d{i}" for i in range(40)]))
        await asyncio.to_thread(emb.entered.wait, 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        emb.release.set()
        await db.close()  # waits for the abandoned write

    asyncio.run(go())
    db = akindb.open(tmp_path / "db")
    col = db.get_collection("docs", model=HashEmbedder())
    assert col.count() == 40
    assert all(len(r.chunks) >= 1 for r in col.get())
    db.close()


def test_cancel_before_start_leaves_nothing(tmp_path: Path) -> None:
    """Cancelled while queued behind another call (one worker): it never runs."""
    emb = GatedEmbedder()

    async def go() -> AsyncCollection:
        db = await akindb.aopen(tmp_path / "db", max_workers=1)
        col = await db.create_collection("docs", model=emb)
        first = asyncio.create_task(col.add(TEXTS[:2], ids=["a", "b"]))
        await asyncio.to_thread(emb.entered.wait, 10)
        second = asyncio.create_task(col.add(TEXTS[2:], ids=[f"d{i}" for i in range(38)]))
        await asyncio.sleep(0)
        second.cancel()
        with pytest.raises(asyncio.CancelledError):
            await second
        emb.release.set()
        assert await first == ["a", "b"]
        await db.close()
        return col

    asyncio.run(go())
    db = akindb.open(tmp_path / "db")
    col = db.get_collection("docs", model=HashEmbedder())
    assert sorted(r.id for r in col.get()) == ["a", "b"]
    db.close()


@pytest.mark.parametrize("delay_steps", [0, 1, 2, 5, 20])
def test_cancel_at_any_moment_is_all_or_nothing(tmp_path: Path, delay_steps: int) -> None:
    """Cancel after a varying number of loop steps: the collection holds all 40 or none."""

    async def go() -> None:
        db = await akindb.aopen(tmp_path / "db", max_workers=1)
        col = await db.create_collection("docs", model=HashEmbedder())
        task = asyncio.create_task(col.add(TEXTS, ids=[f"d{i}" for i in range(40)]))
        for _ in range(delay_steps):
            await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await db.close()

    asyncio.run(go())
    db = akindb.open(tmp_path / "db")
    col = db.get_collection("docs", model=HashEmbedder())
    assert col.count() in (0, 40)
    assert col.count_chunks() in (0, sum(len(r.chunks) for r in col.get()))
    db.close()


def test_errors_are_the_embedded_ones(tmp_path: Path) -> None:
    async def go() -> None:
        db = await akindb.aopen(tmp_path / "db")
        with pytest.raises(akindb.CollectionNotFoundError):
            await db.get_collection("nope")
        col = await db.create_collection("docs", model=HashEmbedder())
        with pytest.raises(akindb.InvalidArgumentError):
            await col.search("x", k=0)
        with pytest.raises(akindb.InvalidArgumentError):
            await akindb.aopen(tmp_path / "db2", max_workers=0)
        await db.close()

    asyncio.run(go())
