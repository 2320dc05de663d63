"""SQL of the recall monitor (``collection.monitor``): ``recall_monitor`` (one row per
collection: sampling rate, k, target, sample count, moving-average recall) and
``recall_queries`` (the last sampled query vectors, for ``tune``)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

import numpy as np

from akindb.types import F32


@dataclass(frozen=True)
class MonitorRow:
    """A collection's ``recall_monitor`` row."""

    rate: float
    k: int
    target: float
    samples: int
    recall: float | None
    updated_at: float | None


def read_monitor(conn: sqlite3.Connection, uuid: str) -> MonitorRow | None:
    """The collection's row; ``None`` when absent, or when the table is (a read-only database
    of an older schema)."""
    try:
        row = conn.execute(
            "SELECT rate, k, target, samples, recall, updated_at FROM recall_monitor"
            " WHERE collection_uuid = ?", (uuid,),
        ).fetchone()
    except sqlite3.OperationalError:
        return None
    if row is None:
        return None
    rate, k, target, samples, recall, at = row
    return MonitorRow(float(rate), int(k), float(target), int(samples), recall, at)


def save_average(conn: sqlite3.Connection, uuid: str, *, rate: float, k: int, target: float,
                 samples: int, recall: float, at: float) -> None:
    """Store the moving average after a sample (creating the row with this rate, k and target
    when there is none); inside the caller's write transaction."""
    conn.execute(
        "INSERT INTO recall_monitor(collection_uuid, rate, k, target, samples, recall,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(collection_uuid) DO"
        " UPDATE SET samples = excluded.samples, recall = excluded.recall,"
        " updated_at = excluded.updated_at",
        (uuid, rate, k, target, samples, recall, at),
    )


def add_query(conn: sqlite3.Connection, uuid: str, *, k: int, recall: float, vector: F32,
              at: float, keep: int) -> None:
    """Record one sampled query vector and its recall, keeping the last ``keep``; inside the
    caller's write transaction."""
    cur = conn.execute(
        "INSERT INTO recall_queries(collection_uuid, k, recall, vector, at)"
        " VALUES (?, ?, ?, ?, ?)",
        (uuid, k, recall, np.ascontiguousarray(vector, dtype="<f4").tobytes(), at),
    )
    conn.execute(
        "DELETE FROM recall_queries WHERE collection_uuid = ? AND id <= ?",
        (uuid, int(cur.lastrowid or 0) - keep),
    )


def save_config(conn: sqlite3.Connection, uuid: str, *, rate: float, k: int, target: float,
                at: float, reset: bool) -> None:
    """Store the sampling rate, k and target (``reset``: forget the average, its k changed);
    inside the caller's write transaction."""
    conn.execute(
        "INSERT INTO recall_monitor(collection_uuid, rate, k, target, samples, recall,"
        " updated_at) VALUES (?, ?, ?, ?, 0, NULL, ?) ON CONFLICT(collection_uuid) DO"
        " UPDATE SET rate = excluded.rate, k = excluded.k, target = excluded.target"
        + (", samples = 0, recall = NULL" if reset else ""),
        (uuid, rate, k, target, at),
    )


def recent_queries(conn: sqlite3.Connection, uuid: str, dim: int, limit: int) -> F32:
    """The last ``limit`` sampled query vectors, newest first, as an (n, dim) array."""
    rows = conn.execute(
        "SELECT vector FROM recall_queries WHERE collection_uuid = ? ORDER BY id DESC"
        " LIMIT ?", (uuid, limit),
    ).fetchall()
    vecs = np.frombuffer(b"".join(r[0] for r in rows), dtype="<f4").astype(np.float32)
    return vecs.reshape(len(rows), dim)
