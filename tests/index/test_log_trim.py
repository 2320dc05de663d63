"""``compact()`` trims the operations log the saved index file already holds, so disk comes
back after heavy churn, and a reader whose in-memory index is behind the trim point (another
process, here a second connection) reloads the file instead of losing the writes it missed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import akindb

DIM = 16


def _vecs(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)


def _oplog_rows(db: akindb.Database) -> int:
    return int(db.conn.execute("SELECT count(*) FROM oplog").fetchone()[0])


@pytest.mark.parametrize("kind", ["flat", "hnsw", "lsh", "quantized"])
def test_compact_trims_log_and_behind_reader_reloads(kind: str, tmp_path: Path) -> None:
    base = _vecs(600, 1)
    writer = akindb.open(tmp_path / "db")
    col = writer.create_collection("c", model=None, dim=DIM, index=kind)
    col.add(ids=[f"a{i}" for i in range(500)], vectors=base[:500])
    col.search_vector(base[0])

    reader = akindb.open(tmp_path / "db")  # a second connection: another process's view
    rcol = reader.get_collection("c")
    assert rcol.search_vector(base[3], k=1)[0].id == "a3"

    col.add(ids=[f"b{i}" for i in range(100)], vectors=base[500:600])
    col.delete([f"a{i}" for i in range(0, 500, 2)])
    before = _oplog_rows(writer)
    report = col.compact()
    assert report["log_entries_trimmed"] > 0
    assert _oplog_rows(writer) < before
    col.add(ids=["late"], vectors=base[:1] * 3)  # after the trim point

    # The reader is behind the trim point: it must reload the file and catch up, not miss
    # the deletes and adds it never saw in the log.
    got = rcol.search_vectors(base[500:600], k=1, exact=True)
    assert [h[0].id for h in got] == [f"b{i}" for i in range(100)]
    assert all(h.id not in {f"a{i}" for i in range(0, 500, 2)}
               for h in rcol.search_vector(base[0], k=50, exact=True))
    assert rcol.search_vector(base[0] * 3, k=1, exact=True)[0].id == "late"  # a0 is deleted
    assert rcol.count() == 250 + 100 + 1
    assert rcol.index_stats()["last_event"].startswith("loaded")

    # A fresh process loads the compacted file and catches up from the trimmed log.
    fresh = akindb.open(tmp_path / "db")
    fcol = fresh.get_collection("c")
    assert fcol.search_vector(base[7], k=1, exact=True)[0].id == "a7"
    assert fcol.index_stats()["size"] == 351
    for db in (fresh, reader, writer):
        db.close()
