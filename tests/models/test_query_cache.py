"""The query-vector LRU (``akindb.models.query_cache``, issue 14): a repeated query does not
run the model, a vector is never served for another model, and size 0 turns it off."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pytest

import akindb
from akindb.models import query_cache
from akindb.models.base import FloatMatrix
from tests.conftest import HashEmbedder


class Counting(HashEmbedder):
    """The hash embedder, counting model calls; ``flip`` makes a different model's vectors."""

    def __init__(self, name: str, flip: bool = False) -> None:
        super().__init__(dim=64, name=name)
        self.calls = 0
        self.flip = flip

    def embed_batch(self, texts: Sequence[str]) -> FloatMatrix:
        self.calls += 1
        out = super().embed_batch(texts)
        return -out if self.flip else out


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    before = query_cache.size()
    query_cache.set_size(0)
    query_cache.set_size(16)
    yield
    query_cache.set_size(0)
    query_cache.set_size(before)


def test_repeated_query_skips_the_model() -> None:
    emb = Counting("m")
    a = query_cache.embed_query(emb, "red apples")
    b = query_cache.embed_query(emb, "red apples")
    assert emb.calls == 1 and b is a and not a.flags.writeable
    assert np.array_equal(a, emb.embed(["red apples"]))
    query_cache.embed_query(emb, "red apples ")  # another text: another entry
    assert emb.calls == 3


def test_never_serves_another_models_vector() -> None:
    one, other = Counting("same-name"), Counting("same-name", flip=True)
    other.spec = type(other.spec)(**{**{f: getattr(one.spec, f) for f in
                                       one.spec.__slots__}, "weights_sha256": "0" * 64})
    a = query_cache.embed_query(one, "green pears")
    b = query_cache.embed_query(other, "green pears")
    assert other.calls == 1 and np.array_equal(b, -a)


def test_bounded_and_off() -> None:
    emb = Counting("m")
    query_cache.set_size(3)
    for t in ("a b", "c d", "e f", "g h"):
        query_cache.embed_query(emb, t)
    assert query_cache.count() == 3
    query_cache.embed_query(emb, "a b")  # evicted (least recently used): the model again
    assert emb.calls == 5
    query_cache.set_size(0)
    assert query_cache.count() == 0
    query_cache.embed_query(emb, "a b")
    query_cache.embed_query(emb, "a b")
    assert emb.calls == 7 and query_cache.count() == 0


def test_collection_search_uses_it(tmp_db: akindb.Database) -> None:
    emb = Counting("m")
    col = tmp_db.create_collection("c", model=emb)
    col.add(["red apples and green pears", "blue sky"], ids=["a", "b"])
    calls = emb.calls
    first = col.search("red apples", k=1)
    again = col.search("red apples", k=1)
    assert first == again and first[0].id == "a"
    assert emb.calls == calls + 1
    col.search("red apples", k=1, explain=True)  # explain embeds its variants: the model runs
    assert emb.calls == calls + 2
