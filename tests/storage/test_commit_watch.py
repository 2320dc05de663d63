"""``storage.commit_watch``: the WAL-index header changes on every commit of any connection,
own or other, in this process or another, and on nothing else that matters; the cached log
head (``CollectionStore.head_seq``) is therefore never stale."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np

import akindb
from akindb.storage import sqlite as sq
from akindb.storage.commit_watch import CommitWatch


def test_the_header_moves_on_every_commit_and_only_then(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite"
    conn = sq.connect(path)
    try:
        watch = conn.watch
        assert watch is not None and watch.active
        conn.execute("CREATE TABLE t (x)")
        a = watch.stamp()
        conn.execute("SELECT count(*) FROM t").fetchone()
        assert watch.stamp() == a  # a read changes nothing
        conn.execute("INSERT INTO t VALUES (1)")
        b = watch.stamp()
        assert b != a  # our own commit
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t VALUES (2)")
        assert watch.stamp() == b  # uncommitted: nothing to see yet
        conn.execute("ROLLBACK")
        assert watch.stamp() == b
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("INSERT INTO t VALUES (3)")
        other.close()
        c = watch.stamp()
        assert c != b  # another connection
        code = ("import sqlite3, sys; c = sqlite3.connect(sys.argv[1], isolation_level=None);"
                "c.execute('INSERT INTO t VALUES (4)'); c.close()")
        subprocess.run([sys.executable, "-c", code, str(path)], check=True)
        assert watch.stamp() != c  # another process
    finally:
        conn.close()
    assert conn.watch is not None and not conn.watch.active  # closed with the connection


def test_no_header_no_watch(tmp_path: Path) -> None:
    assert CommitWatch(tmp_path / "missing.sqlite").stamp() is None
    plain = tmp_path / "plain.sqlite"
    sqlite3.connect(plain).execute("CREATE TABLE t (x)").connection.commit()
    (tmp_path / "plain.sqlite-shm").write_bytes(b"\0" * 200)  # not a WAL-index header
    assert not CommitWatch(plain).active


def test_the_cached_head_follows_other_connections(tmp_path: Path) -> None:
    vecs = np.eye(8, dtype=np.float32)
    with akindb.open(tmp_path / "db") as db, akindb.open(tmp_path / "db") as other:
        col = db.create_collection("c", model=None, dim=8)
        store = col.parts.store
        heads = []
        for i in range(8):
            other.get_collection("c").add(texts=[f"t{i}"], ids=[f"d{i}"], vectors=vecs[i : i + 1])
            with col.parts.lock:
                heads.append(store.head_seq())
                assert store.head_seq() == heads[-1]  # the second read is the cached one
                fresh = store.conn.execute(
                    "SELECT max(seq) FROM oplog WHERE collection_id = ?", (store.cid,)
                ).fetchone()[0]
            assert heads[-1] == fresh
        assert heads == sorted(set(heads))


def test_the_map_reads_what_pread_reads(tmp_path: Path) -> None:
    """``stamp()`` reads the header out of a map of the file's first page (no system call);
    after every kind of commit it holds the bytes a ``pread`` of the file returns, and after
    close it says nothing (then every head read is a query)."""
    path = tmp_path / "x.sqlite"
    conn = sq.connect(path)
    try:
        watch = conn.watch
        assert watch is not None and watch.header_map is not None  # mapped on this platform
        conn.execute("CREATE TABLE t (x)")
        code = ("import sqlite3, sys; c = sqlite3.connect(sys.argv[1], isolation_level=None);"
                "c.execute('INSERT INTO t VALUES (4)'); c.close()")
        seen = set()
        for i in range(4):
            conn.execute("INSERT INTO t VALUES (?)", (i,))
            seen.add(watch.stamp())
            assert watch.stamp() == watch._pread()
            subprocess.run([sys.executable, "-c", code, str(path)], check=True)
            seen.add(watch.stamp())
            assert watch.stamp() == watch._pread()
        assert len(seen) == 8  # every commit, own or another process's, moved it
    finally:
        conn.close()
    assert watch.stamp() is None and watch.header_map is None
