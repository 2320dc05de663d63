"""Word -> Porter stem by SQLite's own FTS5 ``porter unicode61`` tokenizer.

RM3 (``retrieval/rm3.py``) counts feedback words by the stem the keyword index stores; asking
SQLite itself (an in-memory FTS5 table and its ``fts5vocab`` instance view) means no second
stemmer can disagree with the index. The SQL lives here, with the rest of akindb's SQL.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence

_CACHE_MAX = 50_000


class PorterStems:
    """A bounded word -> stem cache over one private in-memory connection, behind one lock
    (the connection is shared by every thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._cache: dict[str, str] = {}

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            c = sqlite3.connect(":memory:", check_same_thread=False)
            c.execute("CREATE VIRTUAL TABLE w USING fts5(t, tokenize='porter unicode61')")
            c.execute("CREATE VIRTUAL TABLE v USING fts5vocab(w, 'instance')")
            self._conn = c
        return self._conn

    def stems(self, ws: Sequence[str]) -> dict[str, str]:
        """``{word: stem}`` for the distinct ``ws`` (each a run of letters/digits).

        >>> s = PorterStems().stems(["copies", "copying", "copy", "lists"])
        >>> s["copies"] == s["copying"] == s["copy"], s["lists"]
        (True, 'list')
        """
        with self._lock:
            new = sorted({w for w in ws if w not in self._cache})
            if len(self._cache) + len(new) > _CACHE_MAX:
                self._cache.clear()
                new = sorted(set(ws))
            if new:
                c = self._connect()
                c.executemany("INSERT INTO w(rowid, t) VALUES (?, ?)", enumerate(new))
                for doc, term in c.execute("SELECT doc, term FROM v"):
                    self._cache[new[int(doc)]] = str(term)
                c.execute("DELETE FROM w")
                for w in new:  # a word the tokenizer drops entirely stems to itself
                    self._cache.setdefault(w, w)
            return {w: self._cache[w] for w in ws}
