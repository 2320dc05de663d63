"""Which keyword analyzer: BM25 nDCG@10 per analyzer on a judged collection (dev split only).

Reads the chunks of an existing akindb collection (``--db``, ``--collection``), builds one
in-memory SQLite FTS5 table per analyzer over the same texts, runs every judged query through
the same ``bm25()`` (k1 = 1.2, b = 0.75) and scores the documents (best chunk per document)
against ``--qrels DIR`` (``queries.jsonl`` + ``qrels/<split>.tsv``; a BEIR folder works).
Analyzers differ in stemming (FTS5's built-in Porter tokenizer, or Snowball "english" =
Porter2 from PyStemmer applied in Python before a plain ``unicode61`` table, or none) and stop
words (Lucene's 33, NLTK's 179 English words, applied to the query only or to both sides).

    python bench/analyzers.py --db bench/.cache/nf -c beir-nfcorpus \
        --qrels ../shared/data/ir/nfcorpus --split dev
    python bench/analyzers.py --db bench/.cache/pydocs/db -c pydocs \
        --qrels bench/.cache/pydocs/task --split dev --basename
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import Stemmer

from akindb.eval.judgements import load_judgements
from akindb.eval.metrics import ndcg_at_k, recall_at_k
from akindb.retrieval.analyzer import LUCENE_STOP_WORDS, STOP_WORDS_EN, words
from akindb.retrieval.keyword import fts_query

_snow = Stemmer.Stemmer("english")


def _pipeline(stem: str, stops: frozenset[str]) -> Callable[[str], list[str]]:
    def run(text: str) -> list[str]:
        ws = [w for w in words(text) if w not in stops]
        return _snow.stemWords(ws) if stem == "snowball" else ws
    return run


VARIANTS: dict[str, tuple[str, str, frozenset[str]]] = {
    # name: (fts tokenizer, what Python does to the text first, query stop words)
    "porter+lucene33(query)": ("porter unicode61", "raw", LUCENE_STOP_WORDS),
    "porter+nltk179(query)": ("porter unicode61", "raw", STOP_WORDS_EN),
    "porter+nltk179(both)": ("porter unicode61", "stop", STOP_WORDS_EN),
    "snowball+nltk179(both)": ("unicode61", "snowball", STOP_WORDS_EN),
    "snowball+lucene33(both)": ("unicode61", "snowball-lucene", LUCENE_STOP_WORDS),
    "none+nltk179(both)": ("unicode61", "stop", STOP_WORDS_EN),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("-c", "--collection", required=True)
    ap.add_argument("--qrels", type=Path, required=True)
    ap.add_argument("--split", default="dev")
    ap.add_argument("--candidates", type=int, default=100)
    ap.add_argument("--basename", action="store_true",
                    help="judgements name a document by its file name (akindb index ids are paths)")
    args = ap.parse_args()
    src = sqlite3.connect(f"file:{args.db / 'akindb.sqlite'}?mode=ro", uri=True)
    rows = src.execute(
        "SELECT c.id, d.doc_id, c.text FROM chunks c JOIN documents d ON d.id = c.document_id"
        " JOIN collections k ON k.id = c.collection_id WHERE k.name = ?", (args.collection,)
    ).fetchall()
    doc_of = {int(r[0]): Path(r[1]).name if args.basename else str(r[1]) for r in rows}
    queries, qrels = load_judgements(args.qrels, args.split)
    out: dict[str, object] = {"chunks": len(rows), "queries": len(qrels), "split": args.split}
    for name, (tok, prep, qstops) in VARIANTS.items():
        t0 = time.perf_counter()
        conn = sqlite3.connect(":memory:")
        conn.execute(f"CREATE VIRTUAL TABLE f USING fts5(text, tokenize='{tok}')")
        if prep == "raw":
            docs = ((cid, text) for cid, _, text in rows)
            qproc: Callable[[str], list[str]] = _pipeline("none", qstops)
        else:
            stem = "snowball" if prep.startswith("snowball") else "none"
            proc = _pipeline(stem, qstops)
            docs = ((cid, " ".join(proc(text))) for cid, _, text in rows)
            qproc = proc
        conn.executemany("INSERT INTO f(rowid, text) VALUES (?, ?)", docs)
        ndcg: list[float] = []
        rec: list[float] = []
        for qid, judged in qrels.items():
            terms = list(dict.fromkeys(qproc(queries[qid])))
            ranked: list[str] = []
            if terms:
                for (cid,) in conn.execute(
                    "SELECT rowid FROM f WHERE f MATCH ? ORDER BY rank LIMIT ?",
                    (fts_query(terms), args.candidates),
                ):
                    d = doc_of[int(cid)]
                    if d not in ranked:
                        ranked.append(d)
            ndcg.append(ndcg_at_k(ranked, judged, 10))
            rec.append(recall_at_k(ranked, judged, 100))
        out[name] = {"ndcg@10": round(statistics.fmean(ndcg), 4),
                     "recall@100": round(statistics.fmean(rec), 4),
                     "seconds": round(time.perf_counter() - t0, 1)}
        conn.close()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
