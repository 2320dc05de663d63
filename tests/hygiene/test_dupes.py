"""dupes: exact groups by content hash, near groups by the kNN self-join, delete keeps one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import akindb
from akindb.hygiene import find_dupes
from akindb.text.chunking import ChunkingParams
from tests.conftest import HashEmbedder

EMB = HashEmbedder(dim=256)


def _planted(n: int = 400, dim: int = 64, seed: int = 0) -> tuple[np.ndarray, list[set[int]]]:
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((n, dim)).astype(np.float32)
    groups = []
    extra = []
    for g in range(20):  # 20 originals, each with 1-3 near copies (cosine > 0.99)
        src = g * 7
        copies = []
        for _ in range(1 + g % 3):
            v = base[src] + 0.05 * rng.standard_normal(dim).astype(np.float32)
            copies.append(n + len(extra))
            extra.append(v)
        groups.append({src, *copies})
    return np.vstack([base, np.array(extra)]), groups


@pytest.mark.parametrize("index", ["flat", "hnsw"])
def test_near_duplicates_found_with_the_collection_index(tmp_path: Path, index: str) -> None:
    if index == "hnsw":
        pytest.importorskip("faiss")
    vecs, planted = _planted()
    db = akindb.open(tmp_path / "db")
    col = db.create_collection("v", model=None, dim=64, index=index)
    col.add(vectors=vecs, ids=[f"v{i}" for i in range(len(vecs))])
    rep = find_dupes(col, 0.95)
    found = {frozenset(int(x[1:]) for x in [g.keep, *g.duplicates]) for g in rep.groups}
    assert found == {frozenset(g) for g in planted}
    assert all(g.kind == "near" and g.min_similarity >= 0.95 for g in rep.groups)
    assert all(g.keep == f"v{min(int(x[1:]) for x in [g.keep, *g.duplicates])}"
               for g in rep.groups)  # the oldest one is kept
    before = col.count()
    rep2 = find_dupes(col, 0.95, delete=True)
    assert rep2.deleted == sum(len(g) - 1 for g in planted) == before - col.count()
    assert find_dupes(col, 0.95).groups == []
    db.close()


def test_exact_duplicates_and_chunked_documents(tmp_path: Path) -> None:
    db = akindb.open(tmp_path / "db")
    col = db.create_collection("t", model=EMB,
                               chunking=ChunkingParams(max_tokens=12, overlap_tokens=0))
    long_a = "alpha beta gamma delta. " * 8 + "unique tail one."
    long_b = "alpha beta gamma delta. " * 8 + "a different ending entirely, many new words."
    col.add(["the same text", "the same text", "another thing here", long_a, long_b],
            ids=["a", "b", "c", "la", "lb"])
    rep = find_dupes(col, 0.95)
    exact = [g for g in rep.groups if g.kind == "exact"]
    assert [(g.keep, g.duplicates) for g in exact] == [("a", ["b"])]
    # la and lb share most chunks but not all: not duplicates
    assert all("la" not in [g.keep, *g.duplicates] for g in rep.groups)
    with pytest.raises(akindb.InvalidArgumentError):
        find_dupes(col, 1.5)
    l2 = db.create_collection("l2", model=None, dim=4, metric="l2")
    with pytest.raises(akindb.InvalidArgumentError, match="cosine"):
        find_dupes(l2, 0.9)
    db.close()
