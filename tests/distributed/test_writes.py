"""Writes that read what is stored: ``update`` (merged inside the shard primary, atomic per
document) and ``add_files`` (pruning deleted files, ``skip_duplicates``), mirroring the embedded
tests in tests/test_prune.py and tests/test_update.py."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import ray

from akindb.distributed import Cluster, DistributedCollection
from akindb.errors import DocumentNotFoundError

pytestmark = [pytest.mark.distributed, pytest.mark.timeout(300)]
DIM = 8


def _on_every_replica(col: DistributedCollection, doc_id: str) -> list[dict[str, Any]]:
    """The document's metadata as each replica of its shard stores it (read directly)."""
    from akindb.distributed.placement import shard_of

    group = col._router.replicas[shard_of(doc_id, col.shards)]
    recs = ray.get([h.read.remote("get", ([doc_id],), {}) for h in group], timeout=60)
    return [dict(r[0].metadata) for r in recs]


def test_metadata_only_upsert_reaches_every_replica(cluster: Cluster) -> None:
    """Regression: the primary shipped only rows whose *content hash* changed, so a change of
    metadata alone stayed on the primary and reads from the other replica were stale."""
    col = cluster.create_collection("w-meta", shards=1, replicas=2, model=None, dim=DIM)
    v = np.eye(1, DIM, dtype=np.float32)
    col.add(["same text"], ids=["d"], vectors=v, metadatas=[{"v": 1}])
    col.upsert(["same text"], ids=["d"], vectors=v, metadatas=[{"v": 2}])
    assert _on_every_replica(col, "d") == [{"v": 2}, {"v": 2}]
    cluster.drop_collection("w-meta")


def _folder(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "cats.txt").write_text("The cat sat on the mat.")
    (docs / "sub" / "dogs.txt").write_text("Dogs bark at the postman.")
    (docs / "bread.txt").write_text("Bread needs flour, water and salt.")
    return docs


@pytest.fixture(scope="module")
def files_col(cluster: Cluster) -> DistributedCollection:
    return cluster.create_collection("w-files", shards=2, replicas=2)


def test_concurrent_updates_of_one_document_lose_nothing(cluster: Cluster,
                                                        files_col: DistributedCollection
                                                        ) -> None:
    """Two drivers merge metadata into one document at once: every key of both is kept (the
    old get-then-upsert from the driver lost some)."""
    col = files_col
    col.add(["the doc about cats", "other"], ids=["doc", "other"],
            metadatas=[{"base": 1}, {"x": 0}])
    rounds = 15
    errors: list[str] = []

    def writer(tag: str) -> None:
        # each driver thread has its own collection handle (its own router), as two drivers
        mine = cluster.get_collection("w-files")
        for i in range(rounds):
            try:
                mine.update(["doc"], metadatas=[{f"{tag}{i}": i}])
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=writer, args=(t,)) for t in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(240)
    assert errors == []
    meta = col.get("doc")[0].metadata
    want = {"base": 1, **{f"{t}{i}": i for t in "ab" for i in range(rounds)}}
    assert meta == want  # no update lost: every key of both writers is there
    assert all(m == want for m in _on_every_replica(col, "doc"))  # and on every replica
    col.update(["doc"], metadatas=[{"base": None}])  # None removes a key, as embedded
    rec = col.get("doc")[0]
    assert "base" not in rec.metadata and rec.metadata["a0"] == 0
    with pytest.raises(DocumentNotFoundError, match="nope"):
        col.update(["doc", "nope"], metadatas=[{"z": 1}, {"z": 1}])
    assert "z" not in col.get("doc")[0].metadata  # nothing written when an id is unknown
    col.update(["doc"], texts=["now about dogs"])  # new text: re-embedded, metadata kept
    rec = col.get("doc")[0]
    assert rec.text == "now about dogs" and rec.metadata["b3"] == 3
    assert col.search("dogs", k=1, mode="keyword")[0].id == "doc"
    col.delete(["doc", "other"])


def test_add_files_prunes_deleted_files(files_col: DistributedCollection,
                                        tmp_path: Path) -> None:
    col = files_col
    docs = _folder(tmp_path)
    other = tmp_path / "other.txt"
    other.write_text("A file given by name, outside the folder.")
    first = col.add_files([docs, other])
    assert first.added == 4 and first.removed == []
    col.add(["added by hand, not a file"], ids=["manual"])
    (docs / "sub" / "dogs.txt").unlink()
    rep = col.add_files([docs])
    gone = str((docs / "sub" / "dogs.txt").resolve())
    assert rep.removed == [gone] and rep.unchanged == 2
    assert col.get(gone) == []
    assert col.search("postman", k=3, mode="keyword") == []
    assert {r.id for r in col.get()} == {
        str((docs / "cats.txt").resolve()), str((docs / "bread.txt").resolve()),
        str(other.resolve()), "manual",
    }
    (docs / "cats.txt").unlink()
    kept = col.add_files([docs], prune=False)  # --no-prune keeps them
    assert kept.removed == [] and col.get(str((docs / "cats.txt").resolve()))
    col.update([str(other.resolve())], texts=["Now about the postman."])  # re-embedded
    hit = col.search("postman", k=1, mode="keyword")[0]
    assert hit.id == str(other.resolve()) and hit.metadata["filename"] == "other.txt"
    col.delete([r.id for r in col.get()])


def test_add_files_reports_and_skips_duplicates(files_col: DistributedCollection,
                                                tmp_path: Path) -> None:
    col = files_col
    docs = _folder(tmp_path)
    (docs / "sub" / "cats-copy.txt").write_text("The cat sat on the mat.")
    first = str((docs / "cats.txt").resolve())
    copy = str((docs / "sub" / "cats-copy.txt").resolve())
    rep = col.add_files([docs])
    assert rep.duplicates == [(copy, first)] and col.count() == 4
    skipped = col.add_files([docs], skip_duplicates=True)
    assert skipped.skipped["duplicate"] == 1
    assert skipped.removed == [copy]  # stored before; now the folder holds it once
    assert col.count() == 3
