"""SQL of ``akindb doctor`` (``hygiene.doctor``): SQLite's integrity check, and the rows no
collection can reach (orphans) counted and removed."""

from __future__ import annotations

import sqlite3

ORPHANS: dict[str, tuple[str, tuple[str, ...]]] = {
    "chunks without a document": (
        "SELECT count(*) FROM chunks c LEFT JOIN documents d ON d.id = c.document_id"
        " WHERE d.id IS NULL",
        ("DELETE FROM chunks WHERE document_id NOT IN (SELECT id FROM documents)",),
    ),
    "chunks filed under another collection than their document": (
        "SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.document_id"
        " WHERE c.collection_id != d.collection_id",
        ("DELETE FROM chunks WHERE id IN (SELECT c.id FROM chunks c JOIN documents d"
         " ON d.id = c.document_id WHERE c.collection_id != d.collection_id)",),
    ),
    "documents of a collection that no longer exists": (
        "SELECT count(*) FROM documents WHERE collection_id NOT IN (SELECT id FROM collections)",
        ("DELETE FROM chunks WHERE document_id IN (SELECT id FROM documents WHERE collection_id"
         " NOT IN (SELECT id FROM collections))",
         "DELETE FROM documents WHERE collection_id NOT IN (SELECT id FROM collections)"),
    ),
    "log entries of a collection that no longer exists": (
        "SELECT count(*) FROM oplog WHERE collection_id NOT IN (SELECT id FROM collections)",
        ("DELETE FROM oplog WHERE collection_id NOT IN (SELECT id FROM collections)",),
    ),
}
"""Each kind of unreachable row: (what) → (its count, the statements that remove it)."""


def integrity_problems(conn: sqlite3.Connection) -> list[str]:
    """``PRAGMA integrity_check``'s lines: ``["ok"]`` for a sound file."""
    return [str(r[0]) for r in conn.execute("PRAGMA integrity_check").fetchall()]


def count_orphans(conn: sqlite3.Connection, what: str) -> int:
    """How many rows of the kind ``what`` (a key of ``ORPHANS``) no collection can reach."""
    return int(conn.execute(ORPHANS[what][0]).fetchone()[0])


def remove_orphans(conn: sqlite3.Connection, what: str) -> None:
    """Delete the unreachable rows of the kind ``what``; inside the caller's write
    transaction."""
    for stmt in ORPHANS[what][1]:
        conn.execute(stmt)


def documents_without_chunks(conn: sqlite3.Connection) -> list[tuple[str, int]]:
    """``(collection name, how many)`` of documents that have no chunk (not searchable)."""
    return [(str(n), int(c)) for n, c in conn.execute(
        "SELECT c.name, count(*) FROM documents d JOIN collections c ON c.id = d.collection_id"
        " WHERE NOT EXISTS (SELECT 1 FROM chunks k WHERE k.document_id = d.id) GROUP BY c.name"
    ).fetchall()]


def wrong_size_vectors(conn: sqlite3.Connection) -> list[tuple[str, int]]:
    """``(collection name, how many)`` of chunks whose vector is not ``dim`` float32s."""
    return [(str(n), int(c)) for n, c in conn.execute(
        "SELECT l.name, count(*) FROM chunks c JOIN collections l ON l.id = c.collection_id"
        " WHERE length(c.vector) != 4 * l.dim GROUP BY l.name"
    ).fetchall()]


def collection_uuids(conn: sqlite3.Connection) -> set[str]:
    """The uuid of every collection (index files are named after them)."""
    return {str(r[0]) for r in conn.execute("SELECT uuid FROM collections")}
