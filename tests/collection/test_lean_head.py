"""The lean single query's log-head test, inline (session 8): ``CollectionStore.head_seq``'s
"no commit since" rule run without a call (``header_map`` and ``head_seen``), falling back to
``head_seq`` whenever the header moved, the map is closed, or our own connection is inside a
transaction. A deleted row is never served on any of those paths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import akindb
from akindb.collection import monitor

N, DIM = 300, 16


def _open(path: Path, base: np.ndarray) -> akindb.Database:
    db = akindb.open(path)
    col = db.create_collection("c", model=None, dim=DIM, index="hnsw")
    # no recall monitor: its samples commit their estimate, which moves the header (a real
    # commit, so head_seq is called then, but these tests count calls)
    monitor.configure(col, rate=0.0)
    col.add(texts=[f"text {i}" for i in range(N)], ids=[f"d{i}" for i in range(N)],
            vectors=base)
    return db


def _count_head_reads(store: Any) -> list[int]:
    calls = [0]
    real = store.head_seq

    def counting() -> int:
        calls[0] += 1
        return int(real())

    store.head_seq = counting
    return calls


def test_no_call_until_a_commit_then_the_delete_is_seen(tmp_path: Path) -> None:
    base = np.random.default_rng(1).normal(size=(N, DIM)).astype(np.float32)
    with _open(tmp_path / "db", base) as db, akindb.open(tmp_path / "db") as other:
        col, col2 = db.get_collection("c"), other.get_collection("c")
        col.search_vector(base[0])  # loads the index, reads the head once
        store = col.parts.store
        assert store.header_map is not None  # a WAL database on this platform: mapped
        calls = _count_head_reads(store)
        for i in range(20):
            assert col.search_vector(base[i], k=1)[0].id == f"d{i}"
        assert calls[0] == 0  # nothing committed: the inline test answered every time
        served = col.parts.rows.hits
        assert len(col.search_vector(base[0], k=5)) == 5
        assert col.parts.rows.hits == served + 5  # index_stats' row-cache hits still counted
        for i in range(20, 30):
            col2.delete([f"d{i}"])  # another connection: the header moves
            assert f"d{i}" not in {h.id for h in col.search_vector(base[i], k=3)}
        assert calls[0] >= 10


def test_a_closed_map_or_an_open_transaction_calls_head_seq(tmp_path: Path) -> None:
    base = np.random.default_rng(2).normal(size=(N, DIM)).astype(np.float32)
    with _open(tmp_path / "db", base) as db, akindb.open(tmp_path / "db") as other:
        col, col2 = db.get_collection("c"), other.get_collection("c")
        col.search_vector(base[0])
        store = col.parts.store
        calls = _count_head_reads(store)
        conn = store.conn
        with col.parts.lock:
            conn.execute("BEGIN")  # our own connection inside a transaction (a snapshot)
            try:
                assert col.search_vector(base[3], k=1)[0].id == "d3"
            finally:
                conn.execute("COMMIT")
        assert calls[0] >= 1  # the header says nothing about our own transaction
        assert store.header_map is not None
        store.header_map.close()  # as Connection.close does: slicing it now raises
        before = calls[0]
        for i in range(5, 10):
            assert col.search_vector(base[i], k=1)[0].id == f"d{i}"
            col2.delete([f"d{i}"])
            assert f"d{i}" not in {h.id for h in col.search_vector(base[i], k=3)}
        assert calls[0] >= before + 10  # every head read went through head_seq
