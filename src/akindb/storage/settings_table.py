"""SQL of ``collection_settings`` (schema migration 3): one JSON text per collection holding
its retrieval settings (analyzer, fusion); ``retrieval.settings`` reads and writes its form."""

from __future__ import annotations

import sqlite3


def read_settings(conn: sqlite3.Connection, collection_id: int) -> str | None:
    """The stored settings JSON of one collection, or ``None`` when it has no row."""
    row = conn.execute(
        "SELECT settings FROM collection_settings WHERE collection_id = ?", (collection_id,)
    ).fetchone()
    return None if row is None else str(row[0])


def write_settings(conn: sqlite3.Connection, collection_id: int, settings_json: str) -> None:
    """Store (replace) one collection's settings JSON; inside the caller's write transaction."""
    conn.execute(
        "INSERT OR REPLACE INTO collection_settings(collection_id, settings) VALUES (?, ?)",
        (collection_id, settings_json),
    )
