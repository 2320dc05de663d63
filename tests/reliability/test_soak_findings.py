"""Defects found by the 10-minute soak (bench/reliability/soak.py, issue 13)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import akindb


def test_row_cache_drops_the_rows_of_deleted_chunks(tmp_path: Path) -> None:
    """The row cache kept every chunk ever returned (up to 200,000 rows): under upserts, the
    dead versions of each document, so a long-running reader grew with every update (soak:
    readers +13-23 % RSS in 10 minutes of updates over a steady 4,000 documents)."""
    rng = np.random.default_rng(0)
    with akindb.open(tmp_path / "db") as db:
        col = db.create_collection("c", model=None, dim=8, index="hnsw")
        ids = [f"d{i}" for i in range(50)]
        for version in range(4):
            col.upsert([f"{i} v{version}" for i in ids], ids=ids,
                       vectors=rng.normal(size=(50, 8)).astype(np.float32),
                       metadatas=[{"v": version}] * 50)
            hits = col.search_vector(rng.normal(size=8).astype(np.float32), k=50)
            assert {h.metadata["v"] for h in hits} == {version}
        assert len(col.parts.rows) <= 50  # was 200: every version ever returned
        col.delete(ids[:20])
        col.search_vector(rng.normal(size=8).astype(np.float32), k=50)
        assert len(col.parts.rows) <= 30
