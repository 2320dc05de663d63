"""SQL for one collection's rows: documents, chunks with their vectors, and the operations log.

Every write happens inside ``sqlite.write_txn`` (one transaction per acknowledged write); the
insert/delete triggers keep the FTS5 table and the operations log in that same transaction.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from akindb.storage import in_list
from akindb.storage.filters import compile_where
from akindb.types import F32, I64, Chunk, HitRow, Record

_IN_BATCH = 900  # stay under SQLite's default host-parameter limit


class LogTrimmedError(Exception):
    """``delta_since`` was asked for entries the log no longer holds. Internal: the index
    reloads its file (saved at or after the trim point) or rebuilds."""


@dataclass(frozen=True, slots=True)
class LogDelta:
    """Net effect of the operations log between two sequence numbers."""

    head: int
    added: I64
    vectors: F32
    deleted: I64


def _batches(items: Sequence[Any], size: int = _IN_BATCH) -> list[list[Any]]:
    """Lists for ``IN (...)``, padded to a few lengths so the statements stay few
    (``storage.in_list``: a statement per length seen made long-running readers grow)."""
    return in_list.batches(items, size)


class CollectionStore:
    """Row-level operations of one collection over a shared connection."""

    def __init__(self, conn: sqlite3.Connection, collection_id: int, dim: int) -> None:
        self.conn = conn
        self.cid = collection_id
        self.dim = dim
        self.head_seen: tuple[bytes | None, int] = (None, 0)
        """The WAL-index header read before the last head query, and the head it returned
        (one tuple: a reader never pairs one query's header with another's head)."""
        watch = getattr(conn, "watch", None)
        self.header_map = None if watch is None else watch.header_map
        """The connection's ``CommitWatch.header_map`` (or None). ``collection.lean`` runs
        ``head_seq``'s no-commit test inline with it and ``head_seen``: not in a transaction
        and ``header_map[:HEADER_BYTES] == head_seen[0]`` means ``head_seen[1]`` is the head
        (no call: 2-4 µs of a single query after a graph walk, docs/benchmarks.md "Session
        8: the single query"); anything else, or a ValueError (closed), calls ``head_seq``."""

    # ---- writes (call inside write_txn) ------------------------------------------------------
    def insert_document(
        self,
        doc_id: str,
        *,
        source: str | None,
        text: str,
        content_hash: str,
        metadata: Mapping[str, Any],
        chunks: Sequence[Chunk],
        vectors: F32,
    ) -> None:
        cur = self.conn.execute(
            "INSERT INTO documents(collection_id, doc_id, source, text, content_hash, metadata,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                self.cid,
                doc_id,
                source,
                text,
                content_hash,
                json.dumps(dict(metadata), sort_keys=True),
                time.time(),
            ),
        )
        rowid = cur.lastrowid
        vec = np.ascontiguousarray(vectors, dtype="<f4")
        self.conn.executemany(
            'INSERT INTO chunks(document_id, collection_id, idx, start, "end", text, vector)'
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (rowid, self.cid, c.index, c.start, c.end, c.text, vec[i].tobytes())
                for i, c in enumerate(chunks)
            ],
        )

    def metadatas(self, doc_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Stored metadata of the documents among ``doc_ids`` that exist."""
        out: dict[str, dict[str, Any]] = {}
        for part in _batches(list(doc_ids)):
            marks = ",".join("?" * len(part))
            for doc_id, meta in self.conn.execute(
                f"SELECT doc_id, metadata FROM documents WHERE collection_id = ?"
                f" AND doc_id IN ({marks})",
                (self.cid, *part),
            ):
                out[doc_id] = json.loads(meta)
        return out

    def delete_documents(self, doc_ids: Sequence[str]) -> int:
        n = 0
        for part in _batches(list(doc_ids)):
            marks = ",".join("?" * len(part))
            rows = self.conn.execute(
                f"SELECT id FROM documents WHERE collection_id = ? AND doc_id IN ({marks})",
                (self.cid, *part),
            ).fetchall()
            ids = in_list.padded([r[0] for r in rows])
            if not ids:
                continue
            m2 = in_list.marks(ids)
            # Delete chunks explicitly (not via cascade) so the triggers log each one.
            self.conn.execute(f"DELETE FROM chunks WHERE document_id IN ({m2})", ids)
            self.conn.execute(f"DELETE FROM documents WHERE id IN ({m2})", ids)
            n += len(rows)
        return n

    # ---- reads --------------------------------------------------------------------------------
    def hashes(self, doc_ids: Sequence[str]) -> dict[str, str]:
        """content_hash of the documents among ``doc_ids`` that exist."""
        out: dict[str, str] = {}
        for part in _batches(list(doc_ids)):
            marks = ",".join("?" * len(part))
            for doc_id, h in self.conn.execute(
                f"SELECT doc_id, content_hash FROM documents WHERE collection_id = ?"
                f" AND doc_id IN ({marks})",
                (self.cid, *part),
            ):
                out[doc_id] = h
        return out

    def content_hashes(self) -> dict[str, str]:
        """``doc id -> content hash`` of every document (what a replica sync compares)."""
        rows = self.conn.execute(
            "SELECT doc_id, content_hash FROM documents WHERE collection_id = ?", (self.cid,)
        ).fetchall()
        return {str(d): str(h) for d, h in rows}

    def count(self) -> int:
        return int(
            self.conn.execute(
                "SELECT count(*) FROM documents WHERE collection_id = ?", (self.cid,)
            ).fetchone()[0]
        )

    def count_chunks(self) -> int:
        return int(
            self.conn.execute(
                "SELECT count(*) FROM chunks WHERE collection_id = ?", (self.cid,)
            ).fetchone()[0]
        )

    def head_seq(self) -> int:
        """The operations log's head: the last committed write to this collection. When
        nothing was committed to the database since the last query (``commit_watch``: one
        ``pread`` of SQLite's WAL-index header), that query's answer, without SQL."""
        conn = self.conn
        watch = getattr(conn, "watch", None)
        stamp = None
        if watch is not None and not conn.in_transaction:
            stamp = watch.stamp()
            seen, head = self.head_seen
            if stamp is not None and stamp == seen:
                return head
        row = conn.execute(
            "SELECT max(seq) FROM oplog WHERE collection_id = ?", (self.cid,)
        ).fetchone()
        head = int(row[0] or 0)
        self.head_seen = (stamp, head)
        return head

    def all_vectors(self) -> tuple[int, I64, F32]:
        """(head seq, labels, vectors) from one consistent snapshot: what a rebuild starts from."""
        own = not self.conn.in_transaction  # inside a caller's snapshot: read within it
        if own:
            self.conn.execute("BEGIN")
        try:
            head = self.head_seq()
            rows = self.conn.execute(
                "SELECT id, vector FROM chunks WHERE collection_id = ? ORDER BY id", (self.cid,)
            ).fetchall()
        finally:
            if own:
                self.conn.execute("COMMIT")
        labels = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f4").astype(np.float32)
        return head, labels, vecs.reshape(len(rows), self.dim)

    def log_floor(self) -> int:
        """Oldest sequence number ``delta_since`` can start from (0: the log was never trimmed)."""
        row = self.conn.execute(
            "SELECT seq FROM oplog_floor WHERE collection_id = ?", (self.cid,)
        ).fetchone()
        return int(row[0]) if row else 0

    def trim_log(self, through: int) -> int:
        """Forget log entries older than ``through`` (an index file holds everything up to it),
        keeping the entry at ``through`` so ``head_seq`` stays put. Call inside a write
        transaction. Returns how many entries were dropped."""
        cur = self.conn.execute(
            "DELETE FROM oplog WHERE collection_id = ? AND seq < ?", (self.cid, through)
        )
        self.conn.execute(
            "INSERT INTO oplog_floor(collection_id, seq) VALUES (?, ?)"
            " ON CONFLICT(collection_id) DO UPDATE SET seq = max(seq, excluded.seq)",
            (self.cid, max(through - 1, 0)),
        )
        return int(cur.rowcount)

    def delta_since(self, seq: int) -> LogDelta:
        """Net adds (with vectors) and deletes after ``seq``, from one consistent snapshot.

        Raises ``LogTrimmedError`` when entries after ``seq`` were trimmed away: the caller
        must reload or rebuild its index instead.
        """
        own = not self.conn.in_transaction  # inside a caller's snapshot: read within it
        if own:
            self.conn.execute("BEGIN")
        try:
            if seq < self.log_floor():
                raise LogTrimmedError(f"log trimmed past seq {seq}")
            head = self.head_seq()
            added: dict[int, None] = {}
            deleted: set[int] = set()
            for op, cid in self.conn.execute(
                "SELECT op, chunk_id FROM oplog WHERE collection_id = ? AND seq > ? AND seq <= ?"
                " ORDER BY seq",
                (self.cid, seq, head),
            ):
                if op == "add":
                    added[cid] = None
                elif cid in added:
                    del added[cid]
                else:
                    deleted.add(cid)
            ids = list(added)
            found: dict[int, bytes] = {}
            for part in _batches(ids):
                marks = ",".join("?" * len(part))
                for cid, blob in self.conn.execute(
                    f"SELECT id, vector FROM chunks WHERE id IN ({marks})", part
                ):
                    found[cid] = blob
        finally:
            if own:
                self.conn.execute("COMMIT")
        labels = np.array([c for c in ids if c in found], dtype=np.int64)
        vecs = np.frombuffer(b"".join(found[c] for c in labels.tolist()), dtype="<f4")
        return LogDelta(
            head=head,
            added=labels,
            vectors=vecs.astype(np.float32).reshape(len(labels), self.dim),
            deleted=np.array(sorted(deleted), dtype=np.int64),
        )

    def filter_chunk_ids(self, where: Mapping[str, Any]) -> I64:
        sql, params = compile_where(where)
        rows = self.conn.execute(
            "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id"
            f" WHERE c.collection_id = ? AND {sql}",
            (self.cid, *params),
        ).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    def hit_rows(self, chunk_ids: Sequence[int]) -> dict[int, HitRow]:
        """Rows needed to build ``Hit`` objects, by chunk id (missing ids are left out).

        On the single-query hot path: one statement per batch, and metadata JSON is decoded
        only when there is some (``"{}"`` is by far the common value).
        """
        out: dict[int, HitRow] = {}
        loads = json.loads
        for part in _batches(list(chunk_ids)):
            marks = ",".join("?" * len(part))
            for r in self.conn.execute(
                'SELECT c.id, d.doc_id, c.idx, c.start, c."end", c.text, d.source, d.metadata'
                " FROM chunks c JOIN documents d ON d.id = c.document_id"
                f" WHERE c.id IN ({marks})",
                part,
            ):
                meta = r[7]
                out[r[0]] = HitRow(
                    r[0], r[1], r[2], r[3], r[4], r[5], r[6], {} if meta == "{}" else loads(meta)
                )
        return out

    def doc_ids_of(self, chunk_ids: Sequence[int]) -> dict[int, str]:
        """chunk id -> document id (the lean lookup behind ``include=[...]`` searches)."""
        out: dict[int, str] = {}
        for part in _batches(list(chunk_ids)):
            marks = ",".join("?" * len(part))
            for cid, doc_id in self.conn.execute(
                "SELECT c.id, d.doc_id FROM chunks c JOIN documents d ON d.id = c.document_id"
                f" WHERE c.id IN ({marks})",
                part,
            ):
                out[cid] = doc_id
        return out

    def vectors_by_chunk(self, chunk_ids: Sequence[int]) -> dict[int, F32]:
        """Stored vectors of the given chunks (ids not found are left out)."""
        out: dict[int, F32] = {}
        for part in _batches(list(chunk_ids)):
            marks = ",".join("?" * len(part))
            for cid, blob in self.conn.execute(
                f"SELECT id, vector FROM chunks WHERE id IN ({marks})", list(part)
            ):
                out[int(cid)] = np.frombuffer(blob, dtype="<f4").astype(np.float32)
        return out

    def chunk_vectors(self, doc_id: str) -> F32:
        rows = self.conn.execute(
            "SELECT c.vector FROM chunks c JOIN documents d ON d.id = c.document_id"
            " WHERE d.collection_id = ? AND d.doc_id = ? ORDER BY c.idx",
            (self.cid, doc_id),
        ).fetchall()
        vecs = np.frombuffer(b"".join(r[0] for r in rows), dtype="<f4")
        return vecs.astype(np.float32).reshape(len(rows), self.dim)

    def records(
        self,
        doc_ids: Sequence[str] | None = None,
        where: Mapping[str, Any] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Record]:
        sql = (
            "SELECT d.id, d.doc_id, d.text, d.source, d.metadata, d.content_hash"
            " FROM documents d WHERE d.collection_id = ?"
        )
        params: list[Any] = [self.cid]
        if doc_ids is not None:
            if not doc_ids:
                return []
            wanted = in_list.padded(doc_ids)
            sql += f" AND d.doc_id IN ({in_list.marks(wanted)})"
            params.extend(wanted)
        if where is not None:
            wsql, wparams = compile_where(where)
            sql += f" AND {wsql}"
            params.extend(wparams)
        sql += " ORDER BY d.id"
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params.extend([limit, offset])
        docs = self.conn.execute(sql, params).fetchall()
        out: list[Record] = []
        for rowid, doc_id, text, source, meta, h in docs:
            chunks = tuple(
                Chunk(text=t, start=s, end=e, index=i)
                for i, s, e, t in self.conn.execute(
                    'SELECT idx, start, "end", text FROM chunks WHERE document_id = ? ORDER BY idx',
                    (rowid,),
                )
            )
            out.append(Record(doc_id, text, source, json.loads(meta), h, chunks))
        if doc_ids is not None:
            order = {d: i for i, d in enumerate(doc_ids)}
            out.sort(key=lambda r: order.get(r.id, 0))
        return out

    def doc_ids_under(self, prefix: str) -> list[str]:
        """Ids of the documents whose ``source`` starts with ``prefix`` (a folder path ending in
        its separator): a range scan on the ``(collection_id, source)`` index."""
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        rows = self.conn.execute(
            "SELECT doc_id FROM documents WHERE collection_id = ? AND source >= ?"
            " AND source < ?",
            (self.cid, prefix, upper),
        ).fetchall()
        return [r[0] for r in rows]

    def doc_ids_where(self, where: Mapping[str, Any]) -> list[str]:
        sql, params = compile_where(where)
        rows = self.conn.execute(
            f"SELECT d.doc_id FROM documents d WHERE d.collection_id = ? AND {sql}",
            (self.cid, *params),
        ).fetchall()
        return [r[0] for r in rows]
