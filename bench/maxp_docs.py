"""MaxP dense scores fused with whole-document BM25 (NFCorpus, offline; a what-if, not a product
path).

``bench/passages.py`` showed that 128-token passages lift NFCorpus's dense list a little but
lower its BM25 list (BM25 over passages loses the abstract's other words), so fused they lose.
This asks what the fusion would give if the two lists came from different units: the dense
score of a document is its best passage's cosine (the ``nfcorpus-128`` collection, every
passage of every document scored exactly), and BM25 stays on whole abstracts (the
``beir-nfcorpus`` collection). akindb's keyword index is per chunk, so shipping this would need
a second, per-document FTS5 table.

    python bench/maxp_docs.py --split dev
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from passages import db_of, grid, load
from quality import CACHE, TASKS

import akindb
from akindb.eval.judgements import load_judgements
from akindb.eval.tuning import Task, label
from akindb.retrieval.hybrid import Candidates
from akindb.retrieval.settings import S5_FUSION


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--split", default="dev")
    ap.add_argument("--size", default="128")
    args = ap.parse_args()
    whole = load("nfcorpus", "whole", args.split)
    path, name = db_of("nfcorpus", args.size)
    db = akindb.open(path, create=False)
    col = db.get_collection(name)
    with col.parts.lock:
        n = col.parts.store.count_chunks()
        rows = col.parts.store.hit_rows(list(range(1, 4 * n)))
        vecs = col.parts.store.vectors_by_chunk(list(rows))
    db.close()
    ids = sorted(vecs)
    mat = np.stack([vecs[i] for i in ids])
    mat /= np.linalg.norm(mat, axis=1, keepdims=True)
    docs = sorted({rows[i].doc_id for i in ids})
    doc_index = {d: j for j, d in enumerate(docs)}
    owner = np.array([doc_index[rows[i].doc_id] for i in ids])
    wpath, wname = db_of("nfcorpus", "whole")
    wdb = akindb.open(wpath, create=False)
    wcol = wdb.get_collection(wname)
    with wcol.parts.lock:
        wn = wcol.parts.store.count_chunks()
        wrows = wcol.parts.store.hit_rows(list(range(1, 4 * wn)))
    wdb.close()
    chunk_of = {r.doc_id: c for c, r in wrows.items()}
    queries, _ = load_judgements(TASKS["nfcorpus"][2], args.split)
    qids = [q for q in queries if queries[q].strip()]
    qv = np.load(CACHE / f"qvec-nfcorpus-{args.split}.npy")
    qv = qv / np.linalg.norm(qv, axis=1, keepdims=True)
    cands: dict[str, Candidates] = {}
    for i, q in enumerate(qids):
        if q not in whole.cands:
            continue
        s = mat @ qv[i]
        best = np.full(len(docs), -1.0, np.float32)
        np.maximum.at(best, owner, s)
        top = np.argsort(-best)[:100]
        vec = {chunk_of[docs[j]]: float(best[j]) for j in top}
        c = whole.cands[q]
        dense = {chunk_of[d]: float(best[doc_index[d]]) for d in
                 (whole.doc_of[x] for x in c.keyword) if d in doc_index}
        dense.update(vec)
        cands[q] = Candidates(vec, c.keyword, dense, c.bm25_max, c.strength, c.bounded)
    doc_of = {**whole.doc_of, **{c: d for d, c in chunk_of.items()}}
    maxp = Task("nfcorpus", whole.qrels, cands, doc_of)
    out = {"whole": {"vector": round(whole.ndcg(None, "vector"), 4),
                     "keyword": round(whole.ndcg(None, "keyword"), 4),
                     "s5": round(whole.ndcg(S5_FUSION), 4)},
           "maxp dense + whole bm25": {
               "vector": round(maxp.ndcg(None, "vector"), 4),
               **{label(p): round(maxp.ndcg(p), 4) for p in grid(100)}}}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
