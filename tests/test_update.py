"""Issue 12.1: a metadata-only change is stored (not silently dropped), without re-embedding
or touching the index; ``update`` changes documents by id as Chroma/Qdrant users expect."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

import akindb
from akindb import errors
from akindb.models.base import FloatMatrix
from tests.conftest import HashEmbedder


class CountingEmbedder(HashEmbedder):
    """The hash embedder, counting the texts it embeds (to prove nothing is re-embedded)."""

    def __init__(self) -> None:
        super().__init__()
        self.embedded = 0

    def embed_batch(self, texts: Sequence[str]) -> FloatMatrix:
        self.embedded += len(texts)
        return super().embed_batch(texts)


@pytest.fixture
def col(tmp_db: akindb.Database) -> akindb.Collection:
    emb = CountingEmbedder()
    c = tmp_db.create_collection("docs", model=emb)
    c.add(["same text", "other text about cats"], ids=["a", "b"],
          metadatas=[{"bucket": 1}, {"bucket": 2}])
    return c


def _embedded(col: akindb.Collection) -> int:
    emb = col.embedder
    assert isinstance(emb, CountingEmbedder)
    return emb.embedded


@pytest.mark.parametrize("how", ["upsert", "add"])
def test_metadata_only_change_is_stored_without_reembedding(col: akindb.Collection,
                                                            how: str) -> None:
    before, head = _embedded(col), col.parts.store.head_seq()
    getattr(col, how)(["same text"], ids=["a"], metadatas=[{"bucket": 5}])
    assert _embedded(col) == before  # nothing re-embedded
    assert col.get("a")[0].metadata == {"bucket": 5}
    assert [r.id for r in col.get(where={"bucket": 5})] == ["a"]
    hits = col.search("same text", k=2, mode="vector", where={"bucket": 5})
    assert [h.id for h in hits] == ["a"] and hits[0].metadata == {"bucket": 5}
    assert col.search("same", k=1, mode="keyword")[0].metadata == {"bucket": 5}
    # Nothing re-embedded; the rows were written again through the log (never updated in
    # place), so every process's index and row cache see the new metadata.
    assert col.parts.store.head_seq() > head


def test_readding_without_metadata_keeps_it(col: akindb.Collection) -> None:
    col.add(["same text"], ids=["a"])
    assert col.get("a")[0].metadata == {"bucket": 1}


def test_update_merges_metadata_and_reembeds_only_texts(col: akindb.Collection) -> None:
    before = _embedded(col)
    assert col.update(["a"], metadatas=[{"bucket": None, "tag": "x"}]) == ["a"]
    assert col.get("a")[0].metadata == {"tag": "x"}
    assert _embedded(col) == before
    col.update(["b"], texts=["dogs bark at night"])
    rec = col.get("b")[0]
    assert rec.text == "dogs bark at night" and rec.metadata == {"bucket": 2}
    assert _embedded(col) > before
    assert col.search("dogs bark", k=1, mode="vector")[0].id == "b"
    assert col.search("cats", k=5, mode="keyword") == []  # the old text left the FTS table


def test_update_of_unknown_id_writes_nothing(col: akindb.Collection) -> None:
    with pytest.raises(errors.DocumentNotFoundError, match="upsert"):
        col.update(["a", "nope"], metadatas=[{"bucket": 9}, {"bucket": 9}])
    assert col.get("a")[0].metadata == {"bucket": 1}
    with pytest.raises(errors.InvalidArgumentError, match="texts=, metadatas= or both"):
        col.update(["a"])
    with pytest.raises(errors.InvalidArgumentError, match="2 metadatas"):
        col.update(["a"], metadatas=[{}, {}])
