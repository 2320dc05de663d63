"""Issue 12.4: ``group_by="document"`` returns k documents (best chunk each, the other matching
chunks on ``Hit.others``), not k overlapping chunks of one file."""

from __future__ import annotations

import pytest

import akindb
from akindb import errors
from tests.conftest import HashEmbedder


@pytest.fixture
def col(tmp_db: akindb.Database) -> akindb.Collection:
    c = tmp_db.create_collection("docs", model=HashEmbedder())
    # One long document whose every chunk says "cat mat" (dozens of chunks, all strong
    # matches), and short documents that match less well.
    long = "\n\n".join(" ".join(f"The cat sat on the mat {i}." for _ in range(12))
                       for i in range(60))
    c.add([long, "A cat and a dog.", "The mat by the door.", "Bread and butter."],
          ids=["long", "pets", "mat", "bread"])
    assert c.count_chunks() > 40  # the long document really is many chunks
    return c


@pytest.mark.parametrize("mode", ["vector", "keyword", "hybrid"])
def test_k_documents_with_their_other_chunks(col: akindb.Collection, mode: str) -> None:
    plain = col.search("cat mat", k=3, mode=mode)  # type: ignore[arg-type]
    assert [h.id for h in plain] == ["long"] * 3  # the defect: three chunks of one file
    hits = col.search("cat mat", k=3, mode=mode, group_by="document")  # type: ignore[arg-type]
    ids = [h.id for h in hits]
    assert len(ids) == 3 and len(set(ids)) == 3, ids
    assert ids[0] == "long"
    first = hits[0]
    assert len(first.others) >= 40  # rounds grew past k * 4 candidates
    assert all(o.id == "long" and o.score <= first.score for o in first.others)
    assert first.chunk_id not in {o.chunk_id for o in first.others}


def test_fewer_documents_than_k_returns_what_matches(col: akindb.Collection) -> None:
    hits = col.search("cat", k=10, mode="keyword", group_by="document")
    assert sorted(h.id for h in hits) == ["long", "pets"]


def test_unknown_group_by_is_a_clear_error(col: akindb.Collection) -> None:
    with pytest.raises(errors.InvalidArgumentError, match="document"):
        col.search("cat", group_by="file")  # type: ignore[arg-type]
