"""``update`` behaves the same embedded and over HTTP (issue 12.1)."""

from __future__ import annotations

import pytest

from akindb import errors
from tests.server.conftest import Backend


def test_update_and_metadata_upsert(backend: Backend) -> None:
    col = backend.create("docs")
    col.add(["same text", "a second text"], ids=["a", "b"], metadatas=[{"n": 1}, {"n": 2}])
    col.upsert(["same text"], ids=["a"], metadatas=[{"n": 5}])
    assert col.get("a")[0].metadata == {"n": 5}
    assert col.update(["a", "b"], metadatas=[{"tag": "x"}, {"n": None}]) == ["a", "b"]
    assert col.get("a")[0].metadata == {"n": 5, "tag": "x"}
    assert col.get("b")[0].metadata == {}
    col.update(["b"], texts=["now about bread"])
    assert col.get("b")[0].text == "now about bread"
    with pytest.raises(errors.DocumentNotFoundError):
        col.update(["missing"], metadatas=[{"n": 1}])
