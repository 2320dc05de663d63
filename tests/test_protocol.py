"""Every collection implementation satisfies ``akindb.CollectionAPI``: statically (mypy on an
assignment) and at run time (the same parameters, kinds and defaults as the protocol)."""

from __future__ import annotations

import inspect
import typing
from pathlib import Path
from typing import Any

import pytest

import akindb
from akindb.client import RemoteCollection
from akindb.collection import Collection
from akindb.protocol import PROTOCOL_METHODS, PROTOCOL_PROPERTIES, CollectionAPI

IMPLEMENTATIONS: dict[str, type[Any]] = {"embedded": Collection, "http": RemoteCollection}
try:  # the Ray collection (extra [ray]); its module imports ray only when a cluster starts
    from akindb.distributed.collection import DistributedCollection

    IMPLEMENTATIONS["distributed"] = DistributedCollection
except ImportError:  # pragma: no cover - without the extra
    pass


def _params(fn: Any, *, defaults: bool = True) -> list[tuple[str, Any, Any]]:
    sig = inspect.signature(fn)
    return [(p.name, p.kind, p.default if defaults else None) for p in sig.parameters.values()]


def _signatures(fn: Any) -> list[list[tuple[str, Any, Any]]]:
    """A method's signatures: its overloads (names and kinds; their defaults are ``...``)
    when it has any, else its one signature."""
    overloads = typing.get_overloads(fn)
    return [_params(o, defaults=False) for o in overloads] + [_params(fn)]


def test_protocol_lists_every_public_method_of_collection() -> None:
    public = {
        n for n, v in vars(Collection).items()
        if not n.startswith("_") and callable(v) and not isinstance(v, property)
    }
    # Embedded-only helpers (the model object, the internal parts) are not the contract.
    embedded_only = {"check_model", "use_model", "drop_index"}
    assert public - embedded_only == set(PROTOCOL_METHODS)
    assert set(PROTOCOL_METHODS) <= set(dir(CollectionAPI))
    assert akindb.CollectionAPI is CollectionAPI


@pytest.mark.parametrize("impl", sorted(IMPLEMENTATIONS))
@pytest.mark.parametrize("method", PROTOCOL_METHODS)
def test_signatures_match_the_protocol(impl: str, method: str) -> None:
    cls = IMPLEMENTATIONS[impl]
    assert hasattr(cls, method), f"{cls.__name__} lacks {method}()"
    want = _signatures(getattr(CollectionAPI, method))
    got = _signatures(getattr(cls, method))
    assert got == want, f"{cls.__name__}.{method} differs from CollectionAPI.{method}"


@pytest.mark.parametrize("impl", sorted(IMPLEMENTATIONS))
def test_properties_are_there(impl: str) -> None:
    cls = IMPLEMENTATIONS[impl]
    for name in PROTOCOL_PROPERTIES:
        assert name in dir(cls) or name in inspect.signature(cls.__init__).parameters or (
            name in getattr(cls, "__annotations__", {})
        ) or impl == "http", f"{cls.__name__} lacks {name}"


def test_a_live_embedded_collection_is_an_instance(tmp_path: Path) -> None:
    db = akindb.open(tmp_path / "db")
    col = db.create_collection("v", model=None, dim=3)
    assert isinstance(col, CollectionAPI)


def test_mypy_accepts_every_implementation_as_the_protocol() -> None:
    api = pytest.importorskip("mypy.api")
    here = Path(__file__).parent
    out, err, status = api.run([
        "--strict", "--no-error-summary", "--follow-imports=silent",
        str(here / "protocol_static.py"),
    ])
    assert status == 0, out + err
