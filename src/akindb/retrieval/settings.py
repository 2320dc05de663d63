"""A collection's retrieval settings: its keyword analyzer and its hybrid fusion, stored in SQLite.

One JSON row per collection in ``collection_settings`` (schema migration 3), written when the
collection is created, so a collection keeps the analyzer and the fusion it was made (or tuned)
with even when a later akindb ships other defaults. A collection created before migration 3 has
no row and reads the defaults (which, for the analyzer's stop words and the fusion, are the
ones measured in docs/benchmarks.md, "Finding the right passage").

Changing the analyzer changes only how queries are analysed: the FTS5 table keeps every
chunk's full text under the Porter tokenizer (stop words in the index only lengthen every
document alike; ``bench/analyzers.py`` measured index-side removal as no better), so nothing is
rebuilt. ``set_settings`` writes in one transaction; every search reads the row (one primary-key
lookup), so another process sees a change at its next query.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from akindb.errors import InvalidArgumentError, refuse_unknown
from akindb.retrieval import keyword as kw
from akindb.retrieval.analyzer import LUCENE_STOP_WORDS, STOP_WORDS_EN
from akindb.retrieval.feedback import RocchioParams
from akindb.retrieval.fusion import FusionMethod, FusionParams
from akindb.retrieval.rm3 import Rm3Params
from akindb.storage import settings_table
from akindb.storage import sqlite as sq

STOP_LISTS: dict[str, frozenset[str]] = {
    "english": STOP_WORDS_EN,
    "lucene": LUCENE_STOP_WORDS,
    "none": frozenset(),
}
STEMMERS = ("porter",)


@dataclass(frozen=True)
class KeywordAnalyzer:
    """How BM25 analyses text (round-trips to JSON).

    * ``stop_words``: ``english`` (NLTK's 179 words, the default: question words and
      auxiliaries such as "how", "does", "can" are not searched for), ``lucene`` (the 33 words
      akindb used before; keeps "how", "what", "does"), or ``none``. A query made only of stop
      words still searches for them. Costs nothing; can change at any time.
    * ``stemmer``: ``porter`` (SQLite FTS5's built-in Porter stemmer; "copies", "copying" and
      "copy" match). The only one: Snowball (PyStemmer) measured no better on the dev splits.
    """

    stop_words: str = "english"
    stemmer: str = "porter"

    def __post_init__(self) -> None:
        if self.stop_words not in STOP_LISTS:
            raise InvalidArgumentError(
                f"unknown stop-word list {self.stop_words!r}; use one of: {', '.join(STOP_LISTS)}"
            )
        if self.stemmer not in STEMMERS:
            raise InvalidArgumentError(
                f"unknown stemmer {self.stemmer!r}; use one of: {', '.join(STEMMERS)}"
            )

    def query_terms(self, text: str) -> list[str]:
        """The terms BM25 looks for (``keyword.query_terms`` with this stop-word list).

        >>> KeywordAnalyzer().query_terms("How does one copy a list?")
        ['one', 'copy', 'list']
        >>> KeywordAnalyzer("lucene").query_terms("How does one copy a list?")
        ['how', 'does', 'one', 'copy', 'list']
        """
        return kw.query_terms(text, stop_words=STOP_LISTS[self.stop_words])

    def to_dict(self) -> dict[str, Any]:
        return {"stop_words": self.stop_words, "stemmer": self.stemmer}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> KeywordAnalyzer:
        refuse_unknown(d, (f.name for f in fields(cls)), "analyzer settings")
        return cls(**d)


DEFAULT_FUSION = FusionParams(
    method=FusionMethod.CONVEX, vector_weight=0.4, keyword_weight=0.6,
    keyword_gate_low=0.2, keyword_gate_high=0.3,
)
"""Chosen with ``DEFAULT_ROCCHIO`` on two development tasks at once, nothing else (session 6,
``python bench/prf_rescore.py --split dev``; docs/benchmarks.md, "Dense feedback on by
default"): of 10 feedback settings x 9 convex settings, ranked by the smaller of the two tasks'
gains over the previous default (convex 0.5, same gate, no feedback), among those not below
vector-only on either, the first under which every existing test passes (the two better ones,
Rocchio 0.4 and 0.5 on 3 passages, put the second chunk of the quickstart's "indentation"
answer a hair above its heading chunk: tests/test_quickstart.py). NFCorpus dev 0.3448 (+0.0038
± 0.0027 paired), Python-docs "see also" dev 0.8906 (+0.0134 ± 0.0086). Without feedback 0.6 is
slightly worse than 0.5 (-0.0017, -0.0022): the moved dense scores want more keyword weight.
The previous choice (session 4: convex 0.5, gate 0.2/0.3, the best of 62 settings without
feedback) stays recorded in every collection created before; the gate is kept for collections
whose BM25 matches are weak (tests/retrieval/test_hybrid_real.py)."""

S5_FUSION = FusionParams(
    method=FusionMethod.CONVEX, vector_weight=0.5, keyword_weight=0.5,
    keyword_gate_low=0.2, keyword_gate_high=0.3,
)
"""The default before session 6 (no feedback), kept for benchmarks that compare with it."""

DEFAULT_ROCCHIO = RocchioParams(enabled=True, beta=0.4, docs=5, rounds=3, relative_cut=0.8)
"""Dense feedback for new collections (``akindb.retrieval.feedback.moved``): the query moves
0.4 of the way towards its best fused passages and the candidates are re-scored, no second
index search; three rounds, the first from the first ranking's top 5 that score at least 0.8 of
the best, each later one from the previous round's top 5. Session 6 chose β 0.4 / 5 passages
with ``DEFAULT_FUSION`` (one round, no cut); session 7 added the rounds and the cut, chosen on
the same two dev tasks by a rule written first (docs/benchmarks.md, "Session 7: quality"):
NFCorpus dev 0.3474 (+0.0026 ± 0.0012 paired), Python-docs dev 0.8932 (+0.0025 ± 0.0022).
A collection whose settings row predates rounds reads one round, no cut; one that predates
feedback reads it as off."""


@dataclass(frozen=True)
class RetrievalSettings:
    """A collection's analyzer, fusion, keyword feedback (RM3) and dense feedback (Rocchio),
    and where the fusion came from (``tuned``: the judgements and score ``tune-hybrid`` chose
    it on, or ``None`` for the shipped default). A row written before a part existed reads
    that part as off (it was not there when the collection was made)."""

    analyzer: KeywordAnalyzer = field(default_factory=KeywordAnalyzer)
    fusion: FusionParams = DEFAULT_FUSION
    tuned: dict[str, Any] | None = None
    rm3: Rm3Params = field(default_factory=Rm3Params)
    rocchio: RocchioParams = field(default_factory=lambda: DEFAULT_ROCCHIO)

    def to_dict(self) -> dict[str, Any]:
        return {"analyzer": self.analyzer.to_dict(), "fusion": self.fusion.to_dict(),
                "tuned": self.tuned, "rm3": self.rm3.to_dict(),
                "rocchio": self.rocchio.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RetrievalSettings:
        return cls(
            analyzer=KeywordAnalyzer.from_dict(dict(d.get("analyzer") or {})),
            fusion=FusionParams.from_dict(d["fusion"]) if d.get("fusion") else DEFAULT_FUSION,
            tuned=d.get("tuned"),
            rm3=Rm3Params.from_dict(d["rm3"]) if d.get("rm3") else Rm3Params(),
            rocchio=(RocchioParams.from_dict(d["rocchio"]) if d.get("rocchio")
                     else RocchioParams(enabled=False)),
        )


def load_settings(conn: sqlite3.Connection, collection_id: int) -> RetrievalSettings:
    """The stored settings of one collection, or the defaults when it has no row."""
    text = settings_table.read_settings(conn, collection_id)
    if text is None:
        return RetrievalSettings()
    return _parsed(text)


@functools.lru_cache(maxsize=64)
def _parsed(text: str) -> RetrievalSettings:
    """The settings a stored JSON text means. Every text search reads the row (a write from
    another process must show at once) but the text rarely changes, so its parse (~50 µs of
    a ~3 ms hybrid query) is kept per text; the settings are frozen, shared read-only."""
    return RetrievalSettings.from_dict(json.loads(text))


def save_settings(
    conn: sqlite3.Connection, path: Path, collection_id: int, settings: RetrievalSettings
) -> None:
    """Store ``settings`` for the collection (one transaction; replaces the row)."""
    with sq.write_txn(conn, path):
        settings_table.write_settings(
            conn, collection_id, json.dumps(settings.to_dict(), sort_keys=True)
        )


def updated(
    settings: RetrievalSettings,
    *,
    analyzer: KeywordAnalyzer | None = None,
    fusion: FusionParams | None = None,
    tuned: dict[str, Any] | None = None,
    rm3: Rm3Params | None = None,
    rocchio: RocchioParams | None = None,
) -> RetrievalSettings:
    """``settings`` with the given parts replaced (a new fusion drops the old provenance)."""
    out = settings
    if rm3 is not None:
        out = replace(out, rm3=rm3)
    if rocchio is not None:
        out = replace(out, rocchio=rocchio)
    if analyzer is not None:
        out = replace(out, analyzer=analyzer)
    if fusion is not None:
        out = replace(out, fusion=fusion, tuned=tuned)
    return out


def record_defaults(conn: sqlite3.Connection, collection_id: int) -> None:
    """Inside the transaction that creates a collection: record today's defaults for it."""
    settings_table.write_settings(
        conn, collection_id, json.dumps(RetrievalSettings().to_dict(), sort_keys=True)
    )
