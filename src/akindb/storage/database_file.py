"""Whole-file operations on a database file, for backup and restore: copy one committed state,
check a copy, fold the write-ahead log into the file, and ask whether anyone has it open."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from akindb.storage.sqlite import BUSY_TIMEOUT_S, translated, writer_turn


def vacuum_into(db_file: Path, out: Path) -> None:
    """Copy one committed state of ``db_file`` to ``out`` (``VACUUM INTO``: one read
    transaction on a read-only connection, so writers go on)."""
    with translated(db_file):
        conn = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True, isolation_level=None,
                               timeout=BUSY_TIMEOUT_S)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            conn.execute("VACUUM INTO ?", (str(out),))
        finally:
            conn.close()


def file_integrity(db_file: Path) -> list[str]:
    """``PRAGMA integrity_check``'s lines for the file (``["ok"]`` for a sound one), on a
    connection of its own."""
    with translated(db_file):
        conn = sqlite3.connect(db_file)
        try:
            return [str(r[0]) for r in conn.execute("PRAGMA integrity_check").fetchall()]
        finally:
            conn.close()


def checkpoint(conn: sqlite3.Connection) -> None:
    """Fold the write-ahead log into the main file and empty it (``wal_checkpoint(TRUNCATE)``,
    which takes the write lock: after this connection's turn in the writer queue)."""
    with writer_turn(conn):
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def is_open_elsewhere(db_file: Path) -> bool:
    """Whether any other connection (any process, this one included) has ``db_file`` open:
    an exclusive-mode lock cannot be taken while one does."""
    if not db_file.exists():
        return False
    conn = sqlite3.connect(db_file, isolation_level=None, timeout=0.2)
    try:
        conn.execute("PRAGMA locking_mode = EXCLUSIVE")
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("COMMIT")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        conn.close()
