"""Searches share the index, filtered ones included, while another thread writes.

Since the HNSW engine takes its filter and width per call, every search runs under the
index's shared lock; whatever an index builds lazily is built by ``ready()`` under the write
lock. This runs many threads of filtered and unfiltered searches against a collection opened
from its index file (for HNSW: searched zero-copy from the file's memory map) while a writer
adds vectors (the first add copies the mapped graph into memory) and deletes some: no search
may fail, return a filtered-out or deleted document, or miss a document it was told exists.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

import akindb

N, DIM, GROUPS = 2000, 24, 10


def _vectors(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, DIM)).astype(np.float32)


@pytest.mark.parametrize("kind", ["hnsw", "lsh", "quantized"])
def test_parallel_searches_with_a_writer(kind: str, tmp_path: Path) -> None:
    base = _vectors(N, 1)
    with akindb.open(tmp_path / "db") as db:
        col = db.create_collection("c", model=None, dim=DIM, index=kind)
        col.add(ids=[f"d{i}" for i in range(N)], vectors=base,
                metadatas=[{"g": i % GROUPS} for i in range(N)])
        col.search_vector(base[0])
        col.flush()

    extra = _vectors(400, 2)
    errors: list[BaseException] = []
    stop = threading.Event()
    deleted = {f"d{i}" for i in range(0, 200, 2)}
    with akindb.open(tmp_path / "db") as db:
        col = db.get_collection("c")
        col.search_vector(base[0])
        assert "loaded" in col.parts.live.last_event

        def reader(seed: int) -> None:
            rng = np.random.default_rng(seed)
            try:
                while not stop.is_set():
                    i = int(rng.integers(N))
                    g = int(rng.integers(GROUPS))
                    hits = col.search_vector(base[i], k=10, where={"g": g})
                    assert hits and all(h.metadata["g"] == g for h in hits)
                    top = col.search_vector(base[i], k=5)
                    if f"d{i}" not in deleted:  # a stored vector finds itself
                        assert f"d{i}" in {h.id for h in top}
                    batch = col.search_vectors(base[i : i + 3], k=5, include=[])
                    assert len(batch["ids"]) == 3
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=reader, args=(s,)) for s in range(4)]
        for t in threads:
            t.start()
        try:
            for lo in range(0, len(extra), 50):
                col.add(ids=[f"e{lo + j}" for j in range(50)], vectors=extra[lo : lo + 50],
                        metadatas=[{"g": GROUPS} for _ in range(50)])
            col.delete(sorted(deleted))
        finally:
            stop.set()
            for t in threads:
                t.join()
        assert not errors, errors[0]
        assert col.search_vector(extra[123], k=1)[0].id == "e123"
        assert {h.id for h in col.search_vector(extra[7], k=20, where={"g": GROUPS})} <= {
            f"e{j}" for j in range(400)
        }
        hits = col.search_vector(base[10], k=50)
        assert not {h.id for h in hits} & deleted
