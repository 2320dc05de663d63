"""The ``collections`` table and database-wide maintenance statements.

All SQL lives in ``storage/``: the collection layer asks for rows and changes through these
functions and ``CollectionStore``, never through its own SQL.
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from akindb.storage.heap import give_back
from akindb.storage.sqlite import impatient, writer_turn

COLUMNS = "id, name, uuid, metric, dim, model, index_kind, index_params, chunking"
"""The order ``CollectionConfig.from_row`` reads."""


def collection_row(conn: sqlite3.Connection, name: str) -> tuple[Any, ...] | None:
    """The catalog row of collection ``name`` (``COLUMNS`` order), or ``None``."""
    row = conn.execute(f"SELECT {COLUMNS} FROM collections WHERE name = ?", (name,)).fetchone()
    return None if row is None else tuple(row)


def collection_names(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT name FROM collections ORDER BY name")]


def insert_collection(
    conn: sqlite3.Connection,
    *,
    name: str,
    uuid: str,
    metric: str,
    dim: int,
    model_json: str | None,
    index_kind: str,
    index_params: dict[str, Any],
    chunking: dict[str, Any],
) -> int | None:
    """Insert a catalog row; ``None`` when ``name`` is taken (inside the caller's transaction)."""
    if conn.execute("SELECT 1 FROM collections WHERE name = ?", (name,)).fetchone():
        return None
    cur = conn.execute(
        "INSERT INTO collections(name, uuid, metric, dim, model, index_kind, index_params,"
        " chunking, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            name, uuid, metric, dim, model_json, index_kind,
            json.dumps(index_params, sort_keys=True), json.dumps(chunking, sort_keys=True),
            time.time(),
        ),
    )
    return int(cur.lastrowid or 0)


def delete_collection(conn: sqlite3.Connection, collection_id: int) -> None:
    """Every row of one collection (inside the caller's transaction)."""
    for table in ("chunks", "documents", "oplog", "oplog_floor"):
        conn.execute(f"DELETE FROM {table} WHERE collection_id = ?", (collection_id,))
    conn.execute("DELETE FROM collections WHERE id = ?", (collection_id,))


def set_index_params(conn: sqlite3.Connection, collection_id: int, params: dict[str, Any]) -> None:
    conn.execute(
        "UPDATE collections SET index_params = ? WHERE id = ?",
        (json.dumps(params, sort_keys=True), collection_id),
    )


def page_stats(conn: sqlite3.Connection) -> tuple[int, int, int]:
    """``(pages, free pages, page size)`` of the database file."""
    pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
    free = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
    size = int(conn.execute("PRAGMA page_size").fetchone()[0])
    return pages, free, size


CHECKPOINT_WAIT_MS = 1000
"""How long ``vacuum``'s WAL truncation waits for readers. A TRUNCATE checkpoint holds the
write lock while it waits (SQLite: it "blocks new database writers while it is pending"), so
with the connection's own busy timeout (30 s) one long read transaction elsewhere kept every
writer waiting until they gave up with ``DatabaseLockedError`` (found by the 10-minute soak on
a busy machine). Waiting briefly and giving up leaves the WAL for a later checkpoint."""


def vacuum(conn: sqlite3.Connection) -> None:
    """Rewrite the file without its free pages and truncate the WAL if no reader holds it
    (``CHECKPOINT_WAIT_MS``). Both take SQLite's write lock: they wait their turn in the
    writer queue first (``sqlite.writer_turn``). The memory the rewrite took is given back
    afterwards (``heap.give_back``)."""
    with writer_turn(conn):
        conn.execute("VACUUM")
        with impatient(conn, CHECKPOINT_WAIT_MS):
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    give_back(conn)


def rename_collection(conn: sqlite3.Connection, old: str, new: str) -> None:
    """Rename one catalog row (inside the caller's transaction)."""
    conn.execute("UPDATE collections SET name = ? WHERE name = ?", (new, old))
