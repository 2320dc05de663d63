"""One suite, two backends: every call gives the same results and raises the same errors
embedded and over HTTP (``backend`` is parametrised in conftest)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import akindb
from akindb import errors
from akindb.types import Hit, Record
from tests.server.conftest import Backend

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


def _filled(backend: Backend) -> object:
    col = backend.create("docs")
    assert col.add(TEXTS, ids=IDS, metadatas=METAS, sources=[f"{i}.txt" for i in IDS]) == IDS
    return col


def test_add_search_get_count(backend: Backend) -> None:
    col = _filled(backend)
    assert col.count() == 5
    hits = col.search("cat on the mat", k=3, mode="vector")
    assert all(isinstance(h, Hit) for h in hits)
    assert [h.id for h in hits][:2] == ["cat", "kitten"]
    assert hits[0].source == "cat.txt" and hits[0].metadata == {"topic": "pets"}
    assert hits[0].score >= hits[1].score >= hits[2].score
    assert math.isclose(hits[0].distance, 1 - hits[0].score, abs_tol=1e-6)
    recs = col.get(["bread"])
    assert isinstance(recs[0], Record) and recs[0].text == TEXTS[2]
    assert recs[0].chunks[0].start == 0 and recs[0].chunks[0].end == len(TEXTS[2])
    assert [r.id for r in col.get(where={"topic": "pets"})] == ["cat", "dog", "kitten"]
    assert len(col.get(limit=2, offset=1)) == 2
    assert col.search("mat", k=5, where={"topic": "pets"})[0].id in {"cat", "kitten"}
    assert all(h.score >= 0.2 for h in col.search("mat cat", k=5, min_score=0.2, mode="vector"))
    for mode in ("vector", "keyword", "hybrid"):
        hit = col.search("kitten yarn", k=1, mode=mode, explain=True)[0]
        assert hit.id == "kitten"
        assert hit.explain().mode == mode


def test_same_results_both_ways(backend: Backend, tmp_path: object) -> None:
    col = _filled(backend)
    got = [[(h.id, round(h.score, 5), h.explain().to_dict()) for h in col.search(q, k=4)]
           for q in ("yarn", "bread flour", "postman", "markets")]
    # the embedded oracle on a fresh database with the same data
    import tempfile

    from tests.server.conftest import EMBEDDER

    with tempfile.TemporaryDirectory() as d, akindb.open(d) as db:
        ref = db.create_collection("docs", model=EMBEDDER)
        ref.add(TEXTS, ids=IDS, metadatas=METAS, sources=[f"{i}.txt" for i in IDS])
        want = [[(h.id, round(h.score, 5), h.explain().to_dict()) for h in ref.search(q, k=4)]
                for q in ("yarn", "bread flour", "postman", "markets")]
    assert got == want


def test_vectors_and_batch(backend: Backend) -> None:
    col = backend.create("vecs", model=None, dim=4, metric="l2")
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(20, 4)).astype(np.float32)
    ids = col.add(vectors=vecs, ids=[f"v{i}" for i in range(20)])
    assert len(ids) == 20 and col.count() == 20
    hits = col.search_vector(vecs[3], k=3)
    assert hits[0].id == "v3" and math.isclose(hits[0].score, 0.0, abs_tol=1e-5)
    batch = col.search_vectors(vecs[:5], k=2)
    assert [b[0].id for b in batch] == [f"v{i}" for i in range(5)]
    res = col.search_vectors(vecs[:2], k=2, include=["scores", "metadatas"])
    assert res["ids"][0][0] == "v0" and len(res["scores"][1]) == 2
    assert set(res) == {"ids", "scores", "metadatas"}
    assert col.search_vectors(vecs[:1], k=2, include=[]) == {"ids": [["v0", res["ids"][0][1]]]}
    with pytest.raises(errors.ModelError):
        col.search("text on a vectors-only collection")


def test_upsert_delete(backend: Backend) -> None:
    col = _filled(backend)
    with pytest.raises(errors.InvalidArgumentError, match="upsert"):
        col.add(["different content"], ids=["cat"])
    assert col.add([TEXTS[0]], ids=["cat"]) == ["cat"]  # same content: a no-op
    col.upsert(["The cat now sleeps on the sofa."], ids=["cat"])
    assert col.get("cat")[0].text == "The cat now sleeps on the sofa."
    assert col.delete(["dog"]) == 1
    assert col.delete(where={"topic": "food"}) == 1
    assert col.count() == 3
    with pytest.raises(errors.InvalidArgumentError):
        col.delete()


def test_tokenize_info(backend: Backend) -> None:
    col = _filled(backend)
    tv = col.tokenize("Hello, World")
    assert tv.tokens == ["hello", "world"] and tv.offsets == [(0, 5), (7, 12)]
    info = col.info()
    assert info["documents"] == 5 and info["dim"] == 256 and info["model"] == "test-hash"


def test_database_level(backend: Backend) -> None:
    backend.create("a")
    backend.create("b")
    assert backend.db.list_collections() == ["a", "b"]
    with pytest.raises(errors.CollectionExistsError):
        backend.create("a")
    assert backend.db.get_collection("a").name == "a"
    backend.db.drop_collection("a")
    assert backend.db.list_collections() == ["b"]
    with pytest.raises(errors.CollectionNotFoundError):
        backend.db.get_collection("a")


@pytest.mark.parametrize("name", ["../x", "/etc", "a/b", "..", ".hidden", "x" * 200, "a b"])
def test_path_like_names_refused(backend: Backend, name: str) -> None:
    with pytest.raises(errors.InvalidArgumentError):
        backend.create(name)


def test_same_errors(backend: Backend) -> None:
    col = _filled(backend)
    with pytest.raises(errors.InvalidVectorError, match="dimension"):
        col.search_vector([0.1, 0.2], k=1)
    with pytest.raises(errors.InvalidVectorError):
        col.search_vector([float("nan")] * 256, k=1)
    with pytest.raises(errors.EmptyTextError):
        col.search("   ")
    with pytest.raises(errors.InvalidArgumentError):
        col.search("cat", k=0)
    with pytest.raises(errors.InvalidFilterError):
        col.search("cat", where={"$nonsense": 1})
    with pytest.raises(errors.InvalidArgumentError):
        col.search_vectors([[0.1] * 256], include=["bogus"])
    with pytest.raises(errors.EmptyTextError):
        col.add([""], ids=["e"])
