"""Issue 12 behaves the same embedded and over HTTP: update (12.1), grouped search (12.4)."""

from __future__ import annotations

from pathlib import Path

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


def test_grouped_search(backend: Backend) -> None:
    col = backend.create("docs")
    long = "\n\n".join(" ".join(f"The cat sat on the mat {i}." for _ in range(12))
                       for i in range(20))
    col.add([long, "A cat and a dog.", "Bread and butter."], ids=["long", "pets", "bread"])
    hits = col.search("cat mat", k=2, mode="keyword", group_by="document")
    assert [h.id for h in hits] == ["long", "pets"]
    assert len(hits[0].others) >= 10 and all(o.id == "long" for o in hits[0].others)
    batch = col.search_batch(["cat mat"], k=2, mode="keyword", group_by="document") if (
        backend.kind == "http") else [hits]
    assert [h.id for h in batch[0]] == ["long", "pets"]


def test_add_files_prunes_both_ways(backend: Backend, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("The cat sat on the mat.")
    (docs / "b.txt").write_text("Dogs bark at the postman.")
    (docs / "c.txt").write_text("The cat sat on the mat.")
    col = backend.create("files")
    rep = col.add_files([docs])
    a, b, c = (str((docs / n).resolve()) for n in ("a.txt", "b.txt", "c.txt"))
    assert rep.duplicates == [(c, a)] and col.count() == 3
    (docs / "b.txt").unlink()
    assert col.add_files([docs], prune=False).removed == []
    assert col.count() == 3
    rep = col.add_files([docs], skip_duplicates=True)
    assert sorted(rep.removed) == [b, c] and rep.skipped["duplicate"] == 1
    assert [r.id for r in col.get()] == [a]
