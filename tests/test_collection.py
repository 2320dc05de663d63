"""The Python API on a real SQLite file: writes, reads, filters, thresholds, idempotence and the
errors a user meets. The fake hash embedder stands in where the model is beside the point."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import akindb
from akindb import errors
from tests.conftest import HashEmbedder

TEXTS = [
    "The cat sat on the warm mat by the fire.",
    "Stock markets fell sharply on interest rate fears.",
    "A recipe for bread needs flour, water, salt and yeast.",
    "The cat chased a mouse across the kitchen floor.",
]


def _col(db: akindb.Database, **kw: object) -> akindb.Collection:
    return db.create_collection("docs", model=HashEmbedder(), **kw)  # type: ignore[arg-type]


def test_add_search_get_delete_roundtrip(tmp_db: akindb.Database) -> None:
    col = _col(tmp_db)
    ids = col.add(
        TEXTS,
        ids=["a", "b", "c", "d"],
        metadatas=[
            {"topic": "pets", "n": 1},
            {"topic": "money", "n": 2},
            {"topic": "food", "n": 3},
            {"topic": "pets", "n": 4},
        ],
    )
    assert ids == ["a", "b", "c", "d"] and col.count() == 4
    hits = col.search("cat sat on the warm mat", k=2, mode="vector")  # cosine scores
    assert hits[0].id == "a" and hits[0].text == TEXTS[0]
    assert hits[0].score >= hits[1].score
    assert hits[0].distance == pytest.approx(1 - hits[0].score, abs=1e-6)
    rec = col.get("c")[0]
    assert rec.text == TEXTS[2] and rec.metadata == {"topic": "food", "n": 3}
    assert col.delete(["a"]) == 1 and col.count() == 3
    assert all(h.id != "a" for h in col.search("cat sat on the warm mat", k=4))


def test_filters_all_operators(tmp_db: akindb.Database) -> None:
    col = _col(tmp_db)
    col.add(
        TEXTS,
        ids=["a", "b", "c", "d"],
        metadatas=[
            {"topic": "pets", "n": 1},
            {"topic": "money", "n": 2},
            {"topic": "food", "n": 3},
            {"topic": "pets", "n": 4, "x": True},
        ],
    )

    def ids(where: object) -> set[str]:
        return {h.id for h in col.search("cat", k=10, where=where)}  # type: ignore[arg-type]

    assert ids({"topic": "pets"}) == {"a", "d"}
    assert ids({"topic": {"$eq": "pets"}}) == {"a", "d"}
    assert ids({"topic": {"$ne": "pets"}}) == {"b", "c"}
    assert ids({"n": {"$gt": 2}}) == {"c", "d"}
    assert ids({"n": {"$gte": 2}}) == {"b", "c", "d"}
    assert ids({"n": {"$lt": 2}}) == {"a"}
    assert ids({"n": {"$lte": 2}}) == {"a", "b"}
    assert ids({"topic": {"$in": ["food", "money"]}}) == {"b", "c"}
    assert ids({"topic": {"$nin": ["food", "money"]}}) == {"a", "d"}
    assert ids({"$and": [{"topic": "pets"}, {"n": {"$gt": 1}}]}) == {"d"}
    assert ids({"$or": [{"topic": "food"}, {"n": 1}]}) == {"a", "c"}
    assert ids({"x": True}) == {"d"}
    assert ids('{"topic": "money"}') == {"b"}
    assert ids({"topic": "nothing"}) == set()
    for bad in ['{"topic": ', {"n": {"$regex": "x"}}, {"$and": {}}, {"n": {"$in": 3}}, []]:
        with pytest.raises(errors.InvalidFilterError):
            col.search("cat", where=bad)  # type: ignore[arg-type]
    # Injection attempts are just values that match nothing.
    assert ids({"topic": "pets' OR 1=1 --"}) == set()
    assert col.delete(where={"topic": "pets"}) == 2 and col.count() == 2


def test_thresholds_per_metric(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    vecs = rng.normal(size=(50, 8)).astype(np.float32)
    with akindb.open(tmp_path / "db") as db:
        for metric in ("cosine", "l2", "dot"):
            col = db.create_collection(f"v-{metric}", model=None, dim=8, metric=metric)
            col.add(ids=[str(i) for i in range(50)], vectors=vecs)
            hits = col.search_vector(vecs[0], k=50)
            assert hits[0].id == "0"
            cut = hits[10].score
            kept = col.search_vector(vecs[0], k=50, min_score=cut)
            assert len(kept) == 11 and all(h.score >= cut for h in kept)
            dcut = hits[5].distance
            kept = col.search_vector(vecs[0], k=50, max_distance=dcut)
            assert len(kept) == 6 and all(h.distance <= dcut for h in kept)
            if metric == "l2":
                assert hits[0].score == pytest.approx(0.0, abs=1e-3)
                assert hits[1].distance == pytest.approx(
                    float(np.linalg.norm(vecs[0] - vecs[int(hits[1].id)])), rel=1e-4
                )


def test_bad_vectors_are_refused_and_nothing_is_written(tmp_db: akindb.Database) -> None:
    col = tmp_db.create_collection("v", model=None, dim=4)
    good = np.eye(4, dtype=np.float32)
    col.add(ids=list("abcd"), vectors=good, texts=["w", "x", "y", "z"])
    cases = [
        np.ones((2, 3)),
        np.array([[1, np.nan, 0, 0]]),
        np.array([[np.inf, 0, 0, 0]]),
        np.zeros((1, 4)),
        [["a", "b", "c", "d"]],
    ]
    for bad in cases:
        with pytest.raises(errors.InvalidVectorError):
            col.add(ids=[f"bad{i}" for i in range(len(bad))], vectors=bad)
    assert col.count() == 4
    with pytest.raises(errors.InvalidVectorError):
        col.search_vector(np.ones(5))
    with pytest.raises(errors.ModelError):
        col.search("text needs a model")
    with pytest.raises(errors.InvalidArgumentError):
        col.search_vector(np.ones(4), k=0)


def test_empty_and_binary_text(tmp_db: akindb.Database) -> None:
    col = _col(tmp_db)
    with pytest.raises(errors.EmptyTextError):
        col.add(["ok", "   "])
    with pytest.raises(errors.EmptyTextError):
        col.search("  ")
    with pytest.raises(errors.InvalidArgumentError):
        col.add(["bin\x00ary"])
    with pytest.raises(errors.InvalidArgumentError):
        col.add("a single string")  # type: ignore[arg-type]
    assert col.count() == 0


def test_add_is_idempotent_and_upsert_replaces(tmp_db: akindb.Database) -> None:
    col = _col(tmp_db)
    col.add(TEXTS[:2], ids=["a", "b"])
    seq = col.parts.store.head_seq()
    col.add(TEXTS[:2], ids=["a", "b"])  # same content: no work, no log entries
    assert col.parts.store.head_seq() == seq
    with pytest.raises(errors.InvalidArgumentError, match="upsert"):
        col.add([TEXTS[2]], ids=["a"])
    col.upsert([TEXTS[2]], ids=["a"])
    assert col.get("a")[0].text == TEXTS[2] and col.count() == 2
    assert col.search("bread flour yeast", k=1)[0].id == "a"
    auto = col.add(["no id given"])
    assert col.add(["no id given"]) == auto  # content-derived ids: re-adding is a no-op


def test_model_mismatch_names_both_models(tmp_path: Path) -> None:
    with akindb.open(tmp_path / "db") as db:
        db.create_collection("docs", model=HashEmbedder(name="model-one"))
    with akindb.open(tmp_path / "db") as db:
        with pytest.raises(errors.ModelMismatchError) as exc:
            db.get_collection("docs", model=HashEmbedder(name="model-two"))
        assert "model-one" in str(exc.value) and "model-two" in str(exc.value)


def test_unknown_things_have_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(errors.DatabaseNotFoundError, match="akindb index"):
        akindb.open(tmp_path / "nope", create=False)
    with akindb.open(tmp_path / "db") as db:
        with pytest.raises(errors.CollectionNotFoundError, match="missing"):
            db.get_collection("missing")
        for bad in ["../x", "/etc", "a/b", "", ".hidden"]:
            with pytest.raises(errors.InvalidArgumentError):
                db.create_collection(bad, model=None, dim=2)
        with pytest.raises(errors.InvalidArgumentError, match="cosine"):
            db.create_collection("m", model=None, dim=2, metric="manhattan")
        with pytest.raises(errors.InvalidArgumentError, match="flat"):
            db.create_collection("m", model=None, dim=2, index="annoy")
        db.create_collection("m", model=None, dim=2)
        with pytest.raises(errors.CollectionExistsError):
            db.create_collection("m", model=None, dim=2)
        assert db.list_collections() == ["m"]
        db.drop_collection("m")
        assert db.list_collections() == []


def test_index_file_persists_and_catches_up(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    vecs = rng.normal(size=(200, 16)).astype(np.float32)
    with akindb.open(tmp_path / "db") as db:
        col = db.create_collection("v", model=None, dim=16)
        col.add(ids=[str(i) for i in range(100)], vectors=vecs[:100])
        col.search_vector(vecs[0])
    files = list((tmp_path / "db" / "indexes").glob("*.flat"))
    assert len(files) == 1
    # Another writer adds after the file was saved: the reader catches up from the log.
    with akindb.open(tmp_path / "db") as db:
        db.get_collection("v").add(ids=[str(i) for i in range(100, 200)], vectors=vecs[100:])
        db.get_collection("v").delete(["5"])
    with akindb.open(tmp_path / "db") as db:
        col = db.get_collection("v")
        assert col.search_vector(vecs[150], k=1)[0].id == "150"
        assert all(h.id != "5" for h in col.search_vector(vecs[5], k=5))
        assert "loaded" in col.parts.live.last_event
    # A truncated or foreign index file is detected and rebuilt, never trusted.
    data = files[0].read_bytes()
    files[0].write_bytes(data[: len(data) // 2])
    with akindb.open(tmp_path / "db") as db:
        col = db.get_collection("v")
        assert col.search_vector(vecs[42], k=1)[0].id == "42"
        assert "rebuilt" in col.parts.live.last_event
