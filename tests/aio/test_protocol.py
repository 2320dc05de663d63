"""The async mirror is checked like the sync one: every coroutine takes exactly the parameters
of the ``akindb.Collection`` method of the same name (names, kinds, defaults)."""

from __future__ import annotations

import inspect

import pytest

import akindb
from akindb.aio.embedded import AsyncCollection, AsyncDatabase
from akindb.aio.http import AsyncClient, AsyncRemoteCollection
from akindb.aio.protocol import PROTOCOL_METHODS, AsyncCollectionAPI

# Collection's public names that are not calls into the engine, so have no coroutine.
SYNC_ONLY = {"name", "metric", "dim", "embedder", "check_model", "use_model", "drop_index",
             "config", "parts"}


def _params(fn: object) -> list[tuple[str, object, object]]:
    sig = inspect.signature(fn)  # type: ignore[arg-type]
    return [(p.name, p.kind, p.default) for p in sig.parameters.values()]


def _public(cls: type) -> set[str]:
    return {n for n in dir(cls) if not n.startswith("_")}


def test_protocol_lists_its_coroutines() -> None:
    declared = {n for n, v in vars(AsyncCollectionAPI).items()
                if inspect.iscoroutinefunction(v)}
    assert declared == set(PROTOCOL_METHODS)


@pytest.mark.parametrize("name", PROTOCOL_METHODS)
def test_protocol_matches_collection(name: str) -> None:
    assert _params(getattr(AsyncCollectionAPI, name)) == _params(getattr(akindb.Collection, name))


@pytest.mark.parametrize("cls", [AsyncCollection, AsyncRemoteCollection], ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", PROTOCOL_METHODS)
def test_implementations_match_protocol(cls: type, name: str) -> None:
    method = getattr(cls, name)
    assert inspect.iscoroutinefunction(method), f"{cls.__name__}.{name} is not async"
    assert _params(method) == _params(getattr(akindb.Collection, name))


def test_embedded_mirrors_every_public_collection_method() -> None:
    missing = _public(akindb.Collection) - SYNC_ONLY - _public(AsyncCollection)
    assert not missing, f"AsyncCollection lacks {sorted(missing)}"
    for name in _public(akindb.Collection) - SYNC_ONLY:
        method = getattr(AsyncCollection, name)
        assert inspect.iscoroutinefunction(method), name
        assert _params(method) == _params(getattr(akindb.Collection, name)), name


@pytest.mark.parametrize(
    ("sync", "aio"), [(akindb.Database, AsyncDatabase), (akindb.client.Client, AsyncClient)],
    ids=["embedded", "http"],
)
def test_database_methods_mirror_the_sync_ones(sync: type, aio: type) -> None:
    for name in ("create_collection", "get_collection", "get_or_create_collection",
                 "list_collections", "drop_collection", "close"):
        assert inspect.iscoroutinefunction(getattr(aio, name)), name
        assert _params(getattr(aio, name)) == _params(getattr(sync, name)), name
