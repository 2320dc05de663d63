"""Word -> tokens and Porter stem by SQLite's own FTS5 ``porter unicode61`` tokenizer.

RM3 (``retrieval/rm3.py``) counts feedback words by the stem the keyword index stores, and the
in-memory BM25 copy (``retrieval/keyword_memory.py``) looks query words up by the tokens the
index holds; asking SQLite itself (a private in-memory FTS5 table and its ``fts5vocab``
instance view) means no second stemmer can disagree with the index. The SQL lives here, with
the rest of akindb's SQL.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence

TOKENIZER = "porter unicode61"
"""``chunks_fts``' tokenizer (``storage.keyword_index``), which this module mirrors."""
_CACHE_MAX = 50_000


class QueryTokens:
    """Word -> the tokens the keyword index's tokenizer makes of it (stemmed, folded): a
    bounded cache over one private in-memory connection, behind one lock (the connection is
    shared by every thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._cache: dict[str, tuple[str, ...]] = {}

    def tokens(self, ws: Sequence[str]) -> list[tuple[str, ...]]:
        """The tokens of each word of ``ws``, in order.

        >>> QueryTokens().tokens(["copies", "Lists", "x_y", "?"])
        [('copi',), ('list',), ('x', 'y'), ()]
        """
        with self._lock:
            new = sorted({w for w in ws if w not in self._cache})
            if new:
                if len(self._cache) + len(new) > _CACHE_MAX:
                    self._cache.clear()
                    new = sorted(set(ws))
                c = self._connect()
                c.executemany("INSERT INTO w(rowid, t) VALUES (?, ?)", enumerate(new))
                found: dict[int, list[str]] = {}
                for doc, term in c.execute("SELECT doc, term FROM v ORDER BY doc, offset"):
                    found.setdefault(int(doc), []).append(str(term))
                c.execute("DELETE FROM w")
                for j, w in enumerate(new):
                    self._cache[w] = tuple(found.get(j, ()))
            return [self._cache[w] for w in ws]

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            c = sqlite3.connect(":memory:", check_same_thread=False)
            c.execute(f"CREATE VIRTUAL TABLE w USING fts5(t, tokenize='{TOKENIZER}')")
            c.execute("CREATE VIRTUAL TABLE v USING fts5vocab(w, 'instance')")
            self._conn = c
        return self._conn


class PorterStems:
    """Word -> stem, from ``QueryTokens`` (one word, one token for RM3's words)."""

    def __init__(self) -> None:
        self._tokens = QueryTokens()

    def stems(self, ws: Sequence[str]) -> dict[str, str]:
        """``{word: stem}`` for the distinct ``ws`` (each a run of letters/digits). A word the
        tokenizer drops entirely stems to itself; one it cuts in two, to its last token in
        the index's term order.

        >>> s = PorterStems().stems(["copies", "copying", "copy", "lists"])
        >>> s["copies"] == s["copying"] == s["copy"], s["lists"]
        (True, 'list')
        """
        return {w: max(t) if t else w for w, t in zip(ws, self._tokens.tokens(ws), strict=True)}
