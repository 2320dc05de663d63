"""A sharded collection on a local 3-node Ray cluster answers like one embedded collection."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import akindb
from akindb.distributed import Cluster, DistributedCollection
from akindb.errors import CollectionNotFoundError, InvalidArgumentError

pytestmark = [pytest.mark.distributed, pytest.mark.timeout(300)]

QUERIES = ["vitamin D deficiency", "breast cancer risk", "cholesterol and heart disease",
           "gut bacteria", "statins side effects", "sugar intake children"]


@pytest.fixture(scope="module")
def pair(cluster: Cluster, nf_docs: list[tuple[str, str]], tmp_path_factory: pytest.TempPathFactory
         ) -> tuple[DistributedCollection, akindb.Collection]:
    """The same 120 NFCorpus documents in a 3-shard x 2-replica collection and embedded."""
    ids = [d for d, _ in nf_docs]
    texts = [t for _, t in nf_docs]
    metas = [{"n": i, "even": i % 2 == 0} for i in range(len(ids))]
    dcol = cluster.create_collection("nf", shards=3, replicas=2)
    dcol.add(texts, ids=ids, metadatas=metas)
    db = akindb.open(tmp_path_factory.mktemp("embedded"))
    col = db.create_collection("nf")
    col.add(texts, ids=ids, metadatas=metas)
    return dcol, col


def test_same_top_k_as_embedded_with_exact_search(pair: tuple[DistributedCollection,
                                                              akindb.Collection]) -> None:
    dcol, col = pair
    assert dcol.count() == col.count() == 120
    assert dcol.count_chunks() == col.count_chunks()
    for q in QUERIES:
        got = dcol.search(q, k=10, mode="vector", exact=True)
        want = col.search(q, k=10, mode="vector", exact=True)
        assert [h.id for h in got] == [h.id for h in want], q
        assert np.allclose([h.score for h in got], [h.score for h in want], atol=1e-6)
        assert [(h.start, h.end, h.chunk) for h in got] == [(h.start, h.end, h.chunk)
                                                            for h in want]
    qv = col.embedder.embed(QUERIES)
    got_rows = dcol.search_vectors(qv, 5, exact=True)
    want_rows = col.search_vectors(qv, 5, exact=True)
    for g, w in zip(got_rows, want_rows, strict=True):
        assert [h.id for h in g] == [h.id for h in w]
    res = dcol.search_vectors(qv[:2], 5, exact=True, include=["distances", "documents"])
    want_res = col.search_vectors(qv[:2], 5, exact=True, include=["distances", "documents"])
    assert res["ids"] == want_res["ids"] and res["documents"] == want_res["documents"]
    assert np.allclose(res["distances"], want_res["distances"], atol=1e-6)


def test_filters_reads_and_writes_match_embedded(pair: tuple[DistributedCollection,
                                                             akindb.Collection]) -> None:
    dcol, col = pair
    got = dcol.search("heart", k=5, mode="vector", exact=True, where={"even": True})
    want = col.search("heart", k=5, mode="vector", exact=True, where={"even": True})
    assert [h.id for h in got] == [h.id for h in want]
    assert all(h.metadata["even"] for h in got)
    assert len(dcol.search("heart disease", k=5)) == 5  # hybrid runs on every shard
    some = [d for d in col.get(limit=7)]
    recs = dcol.get([r.id for r in some])
    assert [r.to_dict() for r in recs] == [r.to_dict() for r in some]
    assert sorted(r.id for r in dcol.get(where={"n": {"$lt": 10}})) == sorted(
        r.id for r in col.get(where={"n": {"$lt": 10}}))
    assert np.allclose(dcol.vectors_of(some[0].id), col.vectors_of(some[0].id))
    assert [h.id for h in dcol.more_like(some[0].id, 4)] == [h.id for h in
                                                              col.more_like(some[0].id, 4)]
    assert dcol.tokenize("statins").ids == col.tokenize("statins").ids
    ctx = dcol.context("vitamin D", max_tokens=200)
    assert ctx.passages and ctx.tokens <= 200
    assert dcol.info()["documents"] == 120 and dcol.info()["shards"] == 3
    stats = dcol.index_stats()
    assert stats["total"]["size"] == col.count_chunks() and len(stats["shards"]) == 3
    # writes: add is idempotent, add with new content is refused, upsert replaces, delete
    assert dcol.add(["extra one", "extra two"], ids=["x1", "x2"]) == ["x1", "x2"]
    assert dcol.add(["extra one"], ids=["x1"]) == ["x1"]
    with pytest.raises(InvalidArgumentError, match="upsert"):
        dcol.add(["other text"], ids=["x1"])
    dcol.upsert(["replaced"], ids=["x1"])
    assert dcol.get("x1")[0].text == "replaced"
    assert dcol.delete(["x1", "x2", "never"]) == 2
    assert dcol.count() == 120
    dcol.flush()


def test_export_and_import_move_without_re_embedding(
        cluster: Cluster, pair: tuple[DistributedCollection, akindb.Collection],
        tmp_path: Path) -> None:
    dcol, col = pair
    assert dcol.export(tmp_path / "down") == 120
    with akindb.open(tmp_path / "down") as db:
        down = db.get_collection("nf")
        assert down.count() == 120
        one = col.get(limit=1)[0].id
        assert np.array_equal(down.vectors_of(one), col.vectors_of(one))
    up = cluster.import_collection(tmp_path / "down", "nf-up", shards=2, source="nf")
    assert up.count() == 120
    q = "vitamin D deficiency"
    assert [h.id for h in up.search(q, k=5, mode="vector", exact=True)] == [
        h.id for h in col.search(q, k=5, mode="vector", exact=True)]
    again = cluster.import_collection(tmp_path / "down", "nf-up", source="nf")
    assert again.count() == 120  # rerun: no duplicates
    cluster.drop_collection("nf-up")
    with pytest.raises(CollectionNotFoundError, match="nf-up"):
        cluster.get_collection("nf-up")


def test_layout_errors_name_the_numbers(cluster: Cluster) -> None:
    with pytest.raises(InvalidArgumentError, match="replicas=4 > nodes=3"):
        cluster.create_collection("bad", shards=1, replicas=4, model=None, dim=4)
    with pytest.raises(InvalidArgumentError, match="shards=0"):
        cluster.create_collection("bad", shards=0, model=None, dim=4)


def test_status_reports_every_replica(cluster: Cluster,
                                      pair: tuple[DistributedCollection, akindb.Collection]
                                      ) -> None:
    st = cluster.status()
    assert sum(n["alive"] for n in st["nodes"]) == 3
    shards = st["collections"]["nf"]["shards"]
    assert len(shards) == 3
    for sh in shards:
        nodes = {r["node"] for r in sh["replicas"]}
        assert len(nodes) == 2  # STRICT_SPREAD: replicas of a shard on distinct nodes
        assert all(r["lag"] == 0 and r["ready"] for r in sh["replicas"])


def test_a_node_with_another_model_is_refused_and_nothing_is_left(
        cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pin is checked cluster-wide: here the driver pins a different model than the one
    the nodes load (the worker processes do not see this monkeypatch)."""
    import akindb.models.registry as registry
    from akindb.errors import ModelMismatchError
    from tests.conftest import HashEmbedder

    monkeypatch.setattr(registry, "load_embedder",
                        lambda name=None: HashEmbedder(dim=384, name="all-MiniLM-L6-v2"))
    with pytest.raises(ModelMismatchError, match="pinned cluster-wide"):
        cluster.create_collection("pin", shards=1, replicas=2)
    assert "pin" not in cluster.list_collections()
    monkeypatch.undo()
    col = cluster.create_collection("pin", shards=1, replicas=2)  # the name is free again
    assert col.count() == 0
    cluster.drop_collection("pin")
