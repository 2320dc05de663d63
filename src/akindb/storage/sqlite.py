"""SQLite connection setup, numbered schema migrations and error translation.

SQLite in WAL mode is the single source of truth. Writers take the write lock up front
(``BEGIN IMMEDIATE``) and wait up to ``busy_timeout`` for another writer; readers never block.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from akindb.errors import (
    CorruptDatabaseError,
    DatabaseLockedError,
    DiskFullError,
    ReadOnlyError,
    StorageError,
)
from akindb.storage.commit_watch import CommitWatch
from akindb.storage.writer_queue import NestedWriteError, QueueTimeout, WriterQueue

BUSY_TIMEOUT_S = 30.0

MIGRATIONS: list[str] = [
    # 1: collections, documents, chunks (+ vectors), operations log, FTS5 over chunk text.
    """
    CREATE TABLE collections (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        uuid TEXT NOT NULL UNIQUE,
        metric TEXT NOT NULL,
        dim INTEGER NOT NULL,
        model TEXT,
        index_kind TEXT NOT NULL,
        index_params TEXT NOT NULL,
        chunking TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE TABLE documents (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
        doc_id TEXT NOT NULL,
        source TEXT,
        text TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        metadata TEXT NOT NULL,
        updated_at REAL NOT NULL,
        UNIQUE (collection_id, doc_id)
    );
    CREATE INDEX documents_source ON documents(collection_id, source);
    CREATE TABLE chunks (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
        collection_id INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        start INTEGER NOT NULL,
        "end" INTEGER NOT NULL,
        text TEXT NOT NULL,
        vector BLOB NOT NULL
    );
    CREATE INDEX chunks_document ON chunks(document_id);
    CREATE INDEX chunks_collection ON chunks(collection_id);
    CREATE TABLE oplog (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        collection_id INTEGER NOT NULL,
        op TEXT NOT NULL CHECK (op IN ('add', 'delete')),
        chunk_id INTEGER NOT NULL
    );
    CREATE INDEX oplog_collection ON oplog(collection_id, seq);
    CREATE VIRTUAL TABLE chunks_fts USING fts5(
        text, content='chunks', content_rowid='id', tokenize='porter unicode61'
    );
    CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN
        INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text);
        INSERT INTO oplog(collection_id, op, chunk_id) VALUES (new.collection_id, 'add', new.id);
    END;
    CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN
        INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
        INSERT INTO oplog(collection_id, op, chunk_id) VALUES (old.collection_id, 'delete', old.id);
    END;
    """,
    # 2: the operations log can be trimmed (Collection.compact); readers whose index is older
    # than the floor reload the index file or rebuild instead of catching up.
    """
    CREATE TABLE oplog_floor (
        collection_id INTEGER PRIMARY KEY,
        seq INTEGER NOT NULL
    );
    """,
    # 3: the recall monitor (akindb.monitor): a moving recall@k estimate per collection and the
    # last sampled real queries (tune can use them).
    """
    CREATE TABLE recall_monitor (
        collection_uuid TEXT PRIMARY KEY,
        rate REAL NOT NULL,
        k INTEGER NOT NULL,
        target REAL NOT NULL,
        samples INTEGER NOT NULL DEFAULT 0,
        recall REAL,
        updated_at REAL
    );
    CREATE TABLE recall_queries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        collection_uuid TEXT NOT NULL,
        k INTEGER NOT NULL,
        recall REAL NOT NULL,
        vector BLOB NOT NULL,
        at REAL NOT NULL
    );
    CREATE INDEX recall_queries_collection ON recall_queries(collection_uuid, id);
    """,
    # 4: per-collection retrieval settings (keyword analyzer, hybrid fusion) as one JSON row;
    # a collection without a row uses the defaults (akindb.retrieval.settings).
    """
    CREATE TABLE collection_settings (
        collection_id INTEGER PRIMARY KEY REFERENCES collections(id) ON DELETE CASCADE,
        settings TEXT NOT NULL
    );
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


def translate(exc: sqlite3.Error, path: Path) -> StorageError:
    """Turn a sqlite3 error into our error tree with a message that says what to do."""
    msg = str(exc).lower()
    if "locked" in msg or "busy" in msg:
        return DatabaseLockedError(
            f"database {path} is locked by another writer for more than {BUSY_TIMEOUT_S:.0f} s; "
            "retry when the other process has finished"
        )
    if (
        "disk is full" in msg
        or "disk or database is full" in msg
        or "database or disk is full" in msg
    ):
        return DiskFullError(
            f"the disk holding {path} is full; the last write was rolled back and nothing "
            "acknowledged was lost. Free space and retry"
        )
    if "readonly" in msg or "read-only" in msg or "query_only" in msg or "query-only" in msg:
        return ReadOnlyError(
            f"database {path} cannot be written (read-only file or directory); "
            "check permissions or open a writable copy"
        )
    if "disk i/o error" in msg:
        # EIO from write/fsync (a failing disk, a network filesystem gone away): found by
        # bench/reliability/eio.py, which injects it; SQLite's own words say nothing to do.
        # When fsync fails at COMMIT the frames are already in the WAL: SQLite treats the
        # write as failed, but the next start's recovery may find it whole unless a later
        # write succeeded first (found by eio.py too), so the outcome is unknown, never partial.
        return StorageError(
            f"the disk or filesystem holding {path} reported an I/O error ({exc}); nothing "
            "acknowledged before was lost, but this write may or may not have been saved (as "
            "when a process is killed during a write: read it back after the disk recovers). "
            "Check the disk (system log, free space, the filesystem's health) and retry; if it "
            "keeps failing, copy the database directory to a healthy disk or restore a backup"
        )
    if "unable to open" in msg:
        return StorageError(
            f"cannot open {path} ({exc}); check that the directory exists and is writable"
        )
    if "malformed json" in msg:
        # One row's metadata that SQLite's JSON functions cannot parse (e.g. NaN written by an
        # akindb that did not check it yet): bad data in a row, not a corrupt file.
        return StorageError(
            f"a stored metadata value in {path} is not valid JSON (NaN or Infinity written by "
            "an older akindb), so a filter over it cannot run; find the record with get() and "
            "upsert it with finite numbers"
        )
    if "not a database" in msg or "malformed" in msg or "corrupt" in msg:
        return CorruptDatabaseError(
            f"{path} is not a valid akindb database ({exc}); restore it from a backup"
        )
    return StorageError(f"database error on {path}: {exc}")


@contextlib.contextmanager
def translated(path: Path) -> Iterator[None]:
    """Re-raise sqlite3 errors inside the block as akindb StorageErrors."""
    try:
        yield
    except sqlite3.Error as exc:
        raise translate(exc, path) from exc


def connect(path: Path) -> sqlite3.Connection:
    """Open (and migrate) the SQLite file with our pragmas, in autocommit mode (callers use
    ``write_txn``). A database on a read-only filesystem opens read-only (``immutable``): reads
    work and every write raises ``ReadOnlyError``."""
    with translated(path):
        if path.exists() and not os.access(path.parent, os.W_OK):
            conn = _connect_read_only(path)
            conn.execute("PRAGMA query_only = ON")
            _tune_reads(conn)
            return conn
        conn = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False,
            factory=Connection,
        )
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StorageError(f"could not switch {path} to WAL mode (got {mode})")
        conn.execute("PRAGMA synchronous = FULL")
        _tune_reads(conn)
        conn.writer = WriterQueue(path)
        _migrate(conn, path)
        conn.file_id = _file_id(path)
        watch = CommitWatch(path)
        conn.watch = watch if watch.active else None
        return conn


def _connect_read_only(path: Path) -> sqlite3.Connection:
    """Open a database whose directory cannot be written.

    ``immutable=1`` skips the write-ahead log, so it is used only when the WAL is empty or
    absent (then the main file holds every acknowledged write). With a non-empty WAL (a writer
    was killed, or is still running) the file is opened ``mode=ro`` so SQLite reads the log;
    where SQLite cannot do that on this filesystem the open is refused, never served stale.
    """
    wal = path.with_name(path.name + "-wal")

    def open_uri(uri: str) -> sqlite3.Connection:
        return sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                               check_same_thread=False)

    if not wal.exists() or wal.stat().st_size == 0:
        return open_uri(f"file:{path}?immutable=1")
    try:
        conn = open_uri(f"file:{path}?mode=ro")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.Error as exc:
        raise ReadOnlyError(
            f"database {path} has acknowledged writes in its write-ahead log ({wal.name}) that "
            f"SQLite cannot read on this read-only filesystem ({exc}); open it once where its "
            "directory is writable (or copy the directory somewhere writable) so the log is "
            "folded into the database, then it can be served read-only"
        ) from None


class Connection(sqlite3.Connection):
    """A connection that remembers which file it opened (device, inode), so a write can
    notice that the path now names another file or none."""

    file_id: tuple[int, int] | None = None
    watch: CommitWatch | None = None
    """Set on read-write opens: whether anything was committed since (``commit_watch``)."""
    writer: WriterQueue | None = None
    """Set on read-write opens: the fair queue in front of SQLite's write lock."""

    def close(self) -> None:
        if self.watch is not None:
            self.watch.close()
        super().close()
        if self.writer is not None:
            self.writer.close()


def _file_id(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_dev, st.st_ino


def _check_same_file(conn: sqlite3.Connection, path: Path) -> None:
    """Refuse to write when the database file was deleted or replaced under this process:
    SQLite would keep writing to the deleted file and every "acknowledged" write would vanish
    (found by bench/reliability/disk_faults.py)."""
    want = getattr(conn, "file_id", None)
    if want is None:
        return
    try:
        same = _file_id(path) == want
    except FileNotFoundError:
        same = False
    if not same:
        raise StorageError(
            f"the database file {path} was deleted or replaced while this process had it "
            "open; nothing was written. Restore it from a backup (or restart the process to "
            "open the file now at that path)"
        )


CACHE_KIB = 64 * 1024
"""SQLite page cache per connection (the default is 2 MiB)."""

MMAP_BYTES = 1 << 30
"""Read the database file through a memory map of up to this size. A search fetches its hits'
rows by id, scattered over the file; with read() calls and the default 2 MiB cache each row
costs a few system calls (measured: ~180 us of a single-query search for 10 rows on 100k
chunks), with the map they are memory reads. Writes still go through the WAL."""


def _tune_reads(conn: sqlite3.Connection) -> None:
    conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
    conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise StorageError(
            f"database schema version {version} is newer than this akindb ({SCHEMA_VERSION}); "
            "upgrade akindb"
        )
    if version == SCHEMA_VERSION:
        return
    with writer_turn(conn, path):
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            for i in range(version, SCHEMA_VERSION):
                for stmt in _split_sql(MIGRATIONS[i]):
                    conn.execute(stmt)
                conn.execute(f"PRAGMA user_version = {i + 1}")
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            raise


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements (triggers contain ';' inside BEGIN ... END)."""
    out: list[str] = []
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out


@contextlib.contextmanager
def impatient(conn: sqlite3.Connection, wait_ms: int) -> Iterator[None]:
    """Inside, wait at most ``wait_ms`` for another writer (instead of ``BUSY_TIMEOUT_S``):
    for optional bookkeeping that would rather be skipped than hold the database lock while
    other processes write. Hold the database lock around it (the setting is the connection's)."""
    patience = int(conn.execute("PRAGMA busy_timeout").fetchone()[0])
    conn.execute(f"PRAGMA busy_timeout = {min(patience, wait_ms)}")
    try:
        yield
    finally:
        conn.execute(f"PRAGMA busy_timeout = {patience}")


@contextlib.contextmanager
def unsynced(conn: sqlite3.Connection) -> Iterator[None]:
    """Commits inside skip the fsync (``synchronous = NORMAL``; the WAL stays consistent and a
    later synced commit makes them durable too): for bookkeeping whose last moments may be
    lost to a power cut, like the recall monitor's running estimate, whose synced commit
    held the database lock for 8-30 ms on a busy disk and stalled every search meanwhile.
    Hold the database lock around it (the setting is the connection's)."""
    conn.execute("PRAGMA synchronous = NORMAL")
    try:
        yield
    finally:
        conn.execute("PRAGMA synchronous = FULL")


@contextlib.contextmanager
def writer_turn(conn: sqlite3.Connection, path: Path | None = None) -> Iterator[None]:
    """Inside, this connection has its turn in the cross-process writer queue
    (``writer_queue``: a ``flock`` that wakes the next writer at release, where SQLite's busy
    handler polls and starved writers for 30 s). Wrap everything that takes SQLite's write
    lock in it, and never wait for it while holding that lock. The wait is bounded by the
    connection's busy timeout (``impatient`` shortens both), then ``DatabaseLockedError``
    as from SQLite. A connection without a queue (read-only opens) goes straight on."""
    queue = getattr(conn, "writer", None)
    if queue is None:
        yield
        return
    path = path or queue.db_file
    try:
        queue.acquire(lambda: _busy_timeout_s(conn))
    except QueueTimeout:
        raise translate(sqlite3.OperationalError("database is locked"), path) from None
    except NestedWriteError:
        raise StorageError(
            f"a write to {path} was started inside another write to it on the same thread "
            "(it would wait for itself); finish the outer write first"
        ) from None
    try:
        yield
    finally:
        queue.release()


def _busy_timeout_s(conn: sqlite3.Connection) -> float:
    return int(conn.execute("PRAGMA busy_timeout").fetchone()[0]) / 1000.0


@contextlib.contextmanager
def write_txn(conn: sqlite3.Connection, path: Path) -> Iterator[sqlite3.Connection]:
    """One atomic write: BEGIN IMMEDIATE … COMMIT, rolled back on any exception (Ctrl-C too),
    after this connection's turn in the writer queue (``writer_turn``)."""
    with translated(path), writer_turn(conn, path):
        conn.execute("BEGIN IMMEDIATE")
        try:
            _check_same_file(conn, path)
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            raise


@contextlib.contextmanager
def read_snapshot(conn: sqlite3.Connection) -> Iterator[None]:
    """Everything read inside sees one committed state (one SQLite read transaction). Hold the
    database lock around it: the connection is shared. Nested use joins the open transaction.
    """
    if conn.in_transaction:
        yield
        return
    conn.execute("BEGIN")
    try:
        yield
    finally:
        if conn.in_transaction:
            conn.execute("COMMIT")


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back after a failure without hiding it: after an I/O error SQLite may already have
    rolled back (a second ROLLBACK raises "no transaction is active", which used to replace
    the real error; found by bench/reliability/eio.py)."""
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
