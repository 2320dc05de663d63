"""Whole-collection reads for the tools (export, migrate, dupes, doctor): rows in id order,
a batch at a time, so a tool holds one batch in memory and the database lock only per batch.

``export_snapshot`` opens its own read-only connection inside one read transaction: every
batch read through it is one committed state while writers go on.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from akindb.storage import in_list
from akindb.storage.sqlite import BUSY_TIMEOUT_S
from akindb.types import I64

IN_BATCH = 900
"""Ids per ``IN (...)``: under SQLite's default host-parameter limit."""


@contextlib.contextmanager
def export_snapshot(file: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection to ``file`` inside one read transaction (closed after)."""
    conn = sqlite3.connect(f"file:{file}?mode=ro", uri=True, isolation_level=None,
                           timeout=BUSY_TIMEOUT_S)
    try:
        conn.execute("BEGIN")
        yield conn
        conn.execute("COMMIT")
    finally:
        conn.close()


def count_documents(conn: sqlite3.Connection, collection_id: int) -> int:
    return int(conn.execute("SELECT count(*) FROM documents WHERE collection_id = ?",
                            (collection_id,)).fetchone()[0])


def documents_after(conn: sqlite3.Connection, collection_id: int, last: int,
                    limit: int) -> list[tuple[Any, ...]]:
    """Up to ``limit`` documents with row id above ``last``, in id order, as ``(row id, doc id,
    text, source, metadata JSON, content hash)``."""
    return [tuple(r) for r in conn.execute(
        "SELECT id, doc_id, text, source, metadata, content_hash FROM documents"
        " WHERE +collection_id = ? AND id > ? ORDER BY id LIMIT ?",
        (collection_id, last, limit),
    ).fetchall()]


def chunks_of_documents(conn: sqlite3.Connection, collection_id: int, lo: int,
                        hi: int) -> Iterator[tuple[Any, ...]]:
    """The chunks of the documents with row ids in ``[lo, hi]``, by document then index, as
    ``(document row id, index, start, end, text, vector bytes)``."""
    for row in conn.execute(
        'SELECT document_id, idx, start, "end", text, vector FROM chunks'
        " WHERE +collection_id = ? AND document_id BETWEEN ? AND ?"
        " ORDER BY document_id, idx",
        (collection_id, lo, hi),
    ):
        yield tuple(row)


def document_hashes(conn: sqlite3.Connection, collection_id: int) -> list[tuple[int, str, str]]:
    """Every document as ``(row id, doc id, content hash)``, in row id order."""
    return [(int(r), str(d), str(h)) for r, d, h in conn.execute(
        "SELECT id, doc_id, content_hash FROM documents WHERE collection_id = ? ORDER BY id",
        (collection_id,),
    ).fetchall()]


def chunk_counts(conn: sqlite3.Connection, collection_id: int) -> dict[int, int]:
    """``document row id -> number of chunks`` (documents without chunks are absent)."""
    return {int(d): int(n) for d, n in conn.execute(
        "SELECT document_id, count(*) FROM chunks WHERE collection_id = ?"
        " GROUP BY document_id", (collection_id,)).fetchall()}


def chunks_after(conn: sqlite3.Connection, collection_id: int, last: int,
                 limit: int) -> list[tuple[int, int, bytes]]:
    """Up to ``limit`` chunks with id above ``last``, in id order, as ``(chunk id, document
    row id, vector bytes)``."""
    return [(int(c), int(d), v) for c, d, v in conn.execute(
        "SELECT id, document_id, vector FROM chunks WHERE collection_id = ? AND id > ?"
        " ORDER BY id LIMIT ?", (collection_id, last, limit),
    ).fetchall()]


def documents_of_chunks(conn: sqlite3.Connection, chunk_ids: Sequence[int]) -> dict[int, int]:
    """``chunk id -> document row id`` for those of ``chunk_ids`` that exist."""
    out: dict[int, int] = {}
    for lo in range(0, len(chunk_ids), IN_BATCH):
        part = in_list.padded(chunk_ids[lo : lo + IN_BATCH])  # few statement shapes
        q = f"SELECT id, document_id FROM chunks WHERE id IN ({in_list.marks(part)})"
        out.update((int(c), int(d)) for c, d in conn.execute(q, part).fetchall())
    return out


def chunk_ids(conn: sqlite3.Connection, collection_id: int) -> I64:
    """Every chunk id of the collection, ascending."""
    return np.array([r[0] for r in conn.execute(
        "SELECT id FROM chunks WHERE collection_id = ? ORDER BY id", (collection_id,))],
        dtype=np.int64)


def doc_ids(conn: sqlite3.Connection, collection_id: int) -> list[str]:
    """Every document id of the collection (no order)."""
    return [str(d) for (d,) in conn.execute(
        "SELECT doc_id FROM documents WHERE collection_id = ?", (collection_id,))]


def first_chunk_texts(conn: sqlite3.Connection, collection_id: int, limit: int) -> list[str]:
    """The text of the first chunk of up to ``limit`` documents, in chunk id order."""
    return [str(t) for (t,) in conn.execute(
        "SELECT c.text FROM chunks c WHERE c.collection_id = ? AND c.idx = 0"
        " ORDER BY c.id LIMIT ?", (collection_id, limit))]


def chunk_texts(conn: sqlite3.Connection, chunk_ids: Sequence[int]) -> dict[int, str]:
    """``{chunk id: text}`` of the given chunks (RM3's feedback passages); missing ids absent."""
    if not chunk_ids:
        return {}
    ids = in_list.padded(chunk_ids)  # few statement shapes (storage.in_list)
    rows = conn.execute(f"SELECT id, text FROM chunks WHERE id IN ({in_list.marks(ids)})", ids)
    return {int(i): str(t) for i, t in rows}
