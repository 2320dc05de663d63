"""SQL over the FTS5 table ``chunks_fts`` (keyword search's index, kept by triggers in the
same transaction as each chunk): BM25 top-k, per-term scores, row and document counts, and the
table's integrity check and rebuild.

Callers pass FTS5 ``MATCH`` expressions already built from plain terms
(``retrieval.keyword.fts_query``), bound as parameters; scores are FTS5's own ``bm25()``
(negative, lower is better): ``retrieval.keyword`` turns them into akindb's higher-is-better.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from akindb.storage import in_list
from akindb.storage.filters import compile_where


def bm25_top(
    conn: sqlite3.Connection,
    collection_id: int,
    match: str,
    k: int,
    where: Mapping[str, Any] | None = None,
) -> list[tuple[int, float]]:
    """``(chunk id, bm25)`` of one collection's ``k`` best chunks for ``match``, best first;
    ``where`` (a parsed metadata filter, see ``filters``) is applied in the same query."""
    wsql, wparams = "", []
    if where is not None:
        sql, params = compile_where(where)
        wsql, wparams = f" AND {sql}", list(params)
    join = " JOIN documents d ON d.id = c.document_id" if where is not None else ""
    rows = conn.execute(
        # ``rank`` is bm25() here; ordering by it lets FTS5 use its own top-N path.
        "SELECT f.rowid, f.rank FROM chunks_fts f"
        f" JOIN chunks c ON c.id = f.rowid{join}"
        f" WHERE chunks_fts MATCH ? AND c.collection_id = ?{wsql}"
        " ORDER BY f.rank LIMIT ?",
        (match, collection_id, *wparams, k),
    ).fetchall()
    return [(int(r[0]), float(r[1])) for r in rows]


def bm25_of(
    conn: sqlite3.Connection, match: str, chunk_ids: Sequence[int]
) -> list[tuple[int, float]]:
    """``(chunk id, bm25)`` for ``match`` of those of ``chunk_ids`` it matches."""
    ids = in_list.padded(chunk_ids)  # few statement shapes (storage.in_list)
    return [(int(rowid), float(s)) for rowid, s in conn.execute(
        f"SELECT rowid, bm25(chunks_fts) FROM chunks_fts WHERE chunks_fts MATCH ?"
        f" AND rowid IN ({in_list.marks(ids)})",
        (match, *ids),
    )]


def fts_row_count(conn: sqlite3.Connection) -> int:
    """Rows in the FTS5 table, i.e. the ``N`` that ``bm25()`` uses.

    Read from FTS5's "averages" record (``chunks_fts_data``, id 1: a varint row count first), so
    it costs one row read, not a count over every chunk; falls back to counting ``chunks``.
    """
    row = conn.execute("SELECT block FROM chunks_fts_data WHERE id = 1").fetchone()
    if row is not None and isinstance(row[0], bytes) and row[0]:
        n, _ = _varint(row[0])
        return n
    return int(conn.execute("SELECT count(*) FROM chunks").fetchone()[0])


def _varint(buf: bytes, pos: int = 0) -> tuple[int, int]:
    """SQLite's varint (big-endian 7-bit groups; a 9th byte carries 8 bits).

    >>> _varint(bytes([0x9C, 0x31]))
    (3633, 2)
    """
    v = 0
    for j in range(8):
        b = buf[pos + j]
        v = (v << 7) | (b & 0x7F)
        if b < 0x80:
            return v, pos + j + 1
    return (v << 8) | buf[pos + 8], pos + 9


def match_counts(conn: sqlite3.Connection, matches: Sequence[str]) -> list[int]:
    """How many FTS5 rows each ``MATCH`` expression matches; one query for all."""
    if not matches:
        return []
    sub = "(SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?)"
    row = conn.execute("SELECT " + ", ".join([sub] * len(matches)), list(matches)).fetchone()
    return [int(x) for x in row]


def fts_problem(conn: sqlite3.Connection) -> str | None:
    """FTS5's own integrity check of the keyword index against ``chunks``: ``None`` when it
    agrees, else SQLite's message."""
    try:
        conn.execute("INSERT INTO chunks_fts(chunks_fts, rank) VALUES('integrity-check', 1)")
    except sqlite3.DatabaseError as exc:
        return str(exc)
    return None


def rebuild_fts(conn: sqlite3.Connection) -> None:
    """Rebuild the keyword index from ``chunks`` (inside the caller's write transaction)."""
    conn.execute("INSERT INTO chunks_fts(chunks_fts) VALUES('rebuild')")
