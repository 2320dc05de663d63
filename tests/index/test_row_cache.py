"""The in-process hit-row cache (``akindb.collection.row_cache``, issue 14 part 2): rows come
from memory, yet a reader never sees a deleted or replaced row, whether the write comes from
this process or another connection, before, during or right after a search."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

import akindb

N, DIM = 600, 16


def _vectors(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)


def _make(path: Path, base: np.ndarray) -> None:
    with akindb.open(path) as db:
        col = db.create_collection("c", model=None, dim=DIM)
        col.add(texts=[f"text {i}" for i in range(len(base))],
                ids=[f"d{i}" for i in range(len(base))], vectors=base,
                metadatas=[{"i": i} for i in range(len(base))])


def test_rows_come_from_memory_and_match_sqlite(tmp_path: Path) -> None:
    base = _vectors(N, 1)
    _make(tmp_path / "db", base)
    with akindb.open(tmp_path / "db") as db:
        col = db.get_collection("c")
        first = [col.search_vector(base[i], k=5) for i in range(40)]
        misses = col.parts.rows.misses
        again = [col.search_vector(base[i], k=5) for i in range(40)]
        assert again == first  # Hit equality: every public field
        assert col.parts.rows.misses == misses  # the second pass read no row from SQLite
        stats = col.index_stats()["row_cache"]
        assert stats["hits"] >= 200 and stats["misses"] == misses and stats["rows"] > 0
        assert all(h.text == f"text {h.metadata['i']}" for hs in again for h in hs)
        cols = col.search_vectors(base[:40], k=5, include=["documents", "metadatas"])
        assert cols["ids"] == [[h.id for h in hs] for hs in first]
        assert cols["documents"] == [[h.text for h in hs] for hs in first]


def test_a_delete_between_search_and_row_read_is_not_served(tmp_path: Path) -> None:
    """The race the log-head check closes: the index answered at seq S, then another
    connection deleted a hit; its row is still in the cache, but must not be served."""
    base = _vectors(N, 2)
    _make(tmp_path / "db", base)
    with akindb.open(tmp_path / "db") as db, akindb.open(tmp_path / "db") as other:
        col = db.get_collection("c")
        assert col.search_vector(base[7], k=3)[0].id == "d7"  # d7's row is now cached
        parts = col.parts
        labels, _, seq = parts.live.search_at(base[7][None, :], 3)
        other.get_collection("c").delete(["d7"])  # commits after the search
        with parts.lock:
            rows = parts.rows.reader(parts.store, seq).rows(labels[0].tolist())
        assert "d7" not in {r.doc_id for r in rows.values()}
        assert len(rows) == 2
        # and the next search does not return it at all
        assert "d7" not in {h.id for h in col.search_vector(base[7], k=3)}
        assert "d7" not in col.search_vectors(base[7:8], k=3, include=[])["ids"][0]


def test_an_upsert_replaces_the_cached_row(tmp_path: Path) -> None:
    base = _vectors(N, 3)
    _make(tmp_path / "db", base)
    with akindb.open(tmp_path / "db") as db, akindb.open(tmp_path / "db") as other:
        col = db.get_collection("c")
        assert col.search_vector(base[9], k=1)[0].text == "text 9"
        other.get_collection("c").upsert(texts=["new words"], ids=["d9"], vectors=base[9:10],
                                         metadatas=[{"i": -1}])
        hit = col.search_vector(base[9], k=1)[0]
        assert (hit.id, hit.text, hit.metadata) == ("d9", "new words", {"i": -1})


def test_readers_never_see_a_deleted_row_under_a_concurrent_writer(tmp_path: Path) -> None:
    """Four reader threads on one connection, a writer on another deleting and upserting one
    document at a time. A write is published only after it committed; a search that starts
    after the publication must not return the deleted document or the replaced text."""
    base = _vectors(N, 4)
    _make(tmp_path / "db", base)
    deleted: set[str] = set()
    replaced: dict[str, str] = {}
    pub = threading.Lock()
    stop = threading.Event()
    errors: list[BaseException] = []
    with akindb.open(tmp_path / "db") as db:
        col = db.get_collection("c")
        for i in range(N):  # warm: every row of the collection is in the cache
            col.search_vector(base[i], k=1)

        def reader(seed: int) -> None:
            rng = np.random.default_rng(seed)
            try:
                while not stop.is_set():
                    i = int(rng.integers(N))
                    with pub:
                        gone, new = set(deleted), dict(replaced)
                    for h in col.search_vector(base[i], k=8):
                        assert h.id not in gone, f"deleted {h.id} served"
                        if h.id in new:
                            assert h.text == new[h.id], f"old text of {h.id} served"
                    cols = col.search_vectors(base[i : i + 2], k=8,
                                              include=["documents"])
                    for ids, docs in zip(cols["ids"], cols["documents"], strict=True):
                        for doc_id, text in zip(ids, docs, strict=True):
                            assert doc_id not in gone
                            if doc_id in new:
                                assert text == new[doc_id]
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=reader, args=(s,)) for s in range(4)]
        for t in threads:
            t.start()
        try:
            with akindb.open(tmp_path / "db") as wdb:
                w = wdb.get_collection("c")
                for j in range(0, 120, 2):
                    w.delete([f"d{j}"])
                    with pub:
                        deleted.add(f"d{j}")
                    w.upsert(texts=[f"replaced {j + 1}"], ids=[f"d{j + 1}"],
                             vectors=base[j + 1 : j + 2])
                    with pub:
                        replaced[f"d{j + 1}"] = f"replaced {j + 1}"
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=60)
        assert not errors, errors[0]
        assert col.parts.rows.bypassed > 0 or col.parts.rows.hits > 0


def test_fast_hits_are_ordinary_hits() -> None:
    """``results.new_hit`` skips the frozen dataclass's __init__ but makes the same object."""
    import dataclasses

    import pytest

    from akindb.collection.results import new_hit
    from akindb.types import Hit

    args = ("a", 0.5, 0.5, "text", "src.txt", 1, 9, 2, {"k": 1})
    fast, slow = new_hit(*args), Hit(*args)
    assert type(fast) is Hit and fast == slow and repr(fast) == repr(slow)
    assert fast.to_dict() == slow.to_dict() and fast.chunk_id is None
    assert fast != new_hit("b", *args[1:])
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.score = 1.0  # type: ignore[misc]
    assert dataclasses.replace(fast, score=0.25).score == 0.25


def test_no_row_is_updated_in_place() -> None:
    """The row cache relies on chunk and document rows never changing under the same id (a
    change is delete + insert). An ``UPDATE chunks`` / ``UPDATE documents`` anywhere in the
    library breaks that: such a write must also clear ``CollectionParts.rows``."""
    import re

    src = Path(akindb.__file__).parent
    pattern = re.compile(r"UPDATE\s+(chunks|documents)\b", re.IGNORECASE)
    found = [str(p.relative_to(src)) for p in src.rglob("*.py") if pattern.search(p.read_text())]
    assert not found, f"in-place row updates in {found}: clear the row cache there"
