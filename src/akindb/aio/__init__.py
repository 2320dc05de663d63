"""Async API: ``await akindb.aopen(path)`` (the embedded engine, its work run in a bounded thread
pool off the event loop) and ``akindb.aconnect(url)`` (an ``akindb serve`` server over
``httpx.AsyncClient``). Both hand out collections whose coroutine methods take the same
parameters as ``akindb.Collection`` (``akindb.aio.protocol.AsyncCollectionAPI``).

>>> import asyncio, tempfile, akindb
>>> async def main() -> list[str]:
...     db = await akindb.aopen(tempfile.mkdtemp())
...     col = await db.create_collection("v", model=None, dim=2)
...     await col.add(ids=["x", "y"], vectors=[[1.0, 0.0], [0.0, 1.0]])
...     hits = await col.search_vector([0.9, 0.1], k=1)
...     await db.close()
...     return [h.id for h in hits]
>>> asyncio.run(main())
['x']

Nothing heavy is imported here: the embedded and HTTP halves load on first call, so
``import akindb`` stays light (no httpx).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from akindb.aio.embedded import AsyncCollection, AsyncDatabase
    from akindb.aio.http import AsyncClient, AsyncRemoteCollection

__all__ = ["AsyncClient", "AsyncCollection", "AsyncDatabase", "AsyncRemoteCollection",
           "aconnect", "aopen"]


async def aopen(
    path: str | Path = "akindb_db", *, create: bool = True, max_workers: int | None = None
) -> AsyncDatabase:
    """Open (or create) the database at ``path`` for asyncio code.

    Opening reads SQLite (and may migrate it), so it runs in the pool too. ``max_workers``
    bounds the threads doing the work (default: ``min(4, CPUs)``): more threads than cores
    only add contention on the database lock and the model.
    """
    from akindb.aio.embedded import AsyncDatabase

    return await AsyncDatabase.open(path, create=create, max_workers=max_workers)


def aconnect(url: str, *, api_key: str | None = None, timeout: float = 60.0) -> AsyncClient:
    """Connect to an ``akindb serve`` server over ``httpx.AsyncClient`` (extra ``[server]``).
    Not a coroutine: no request is made until the first call."""
    from akindb.aio.http import AsyncClient

    return AsyncClient(url, api_key=api_key, timeout=timeout)


def __getattr__(name: str) -> object:
    if name in ("AsyncCollection", "AsyncDatabase"):
        from akindb.aio import embedded

        return getattr(embedded, name)
    if name in ("AsyncClient", "AsyncRemoteCollection"):
        from akindb.aio import http

        return getattr(http, name)
    raise AttributeError(f"module 'akindb.aio' has no attribute {name!r}")
