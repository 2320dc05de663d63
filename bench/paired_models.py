"""Two models' collections on one BEIR split, per query: nDCG@10 of each, and the paired
difference with its standard error (issue 17, part 5: is a fine-tune's gain more than noise?).

Reads the collections ``akindb compare beir --db DB --models minilm,FOLDER`` built (one per
model) and searches every query of the split the way ``compare`` does (queries embedded by each
collection's own model, a document scored by its best chunk).

    python bench/paired_models.py --db /tmp/cmp --a cmp-minilm --b cmp-ft-xxxx \
        --b-model FOLDER --split test
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import akindb
from akindb.eval.beir import load_beir
from akindb.eval.metrics import ndcg_at_k

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ir" / "nfcorpus"


def per_query(col: akindb.Collection, queries: dict[str, str], k: int = 10) -> dict[str, list[str]]:
    qids = list(queries)
    vecs = col.embedder.embed([queries[q] for q in qids], role="query")
    out: dict[str, list[str]] = {}
    for lo in range(0, len(qids), 64):
        for qid, row in zip(qids[lo:lo + 64], col.search_vectors(vecs[lo:lo + 64], k * 4),
                            strict=True):
            best: dict[str, float] = {}
            for h in row:
                best[h.id] = max(h.score, best.get(h.id, float("-inf")))
            out[qid] = [d for d, _ in sorted(best.items(), key=lambda x: (-x[1], x[0]))[:k]]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--a", required=True, help="the baseline's collection")
    ap.add_argument("--b", required=True, help="the other model's collection")
    ap.add_argument("--b-model", help="the other model's folder, when it is not a known name")
    ap.add_argument("--split", action="append", help="dev and/or test (default both)")
    args = ap.parse_args()
    report = {}
    with akindb.open(args.db) as db:
        for split in args.split or ["dev", "test"]:
            data = load_beir(args.data, split)
            qrels = {q: g for q, g in data.qrels.items() if q in data.queries}
            queries = {q: data.queries[q] for q in qrels}
            cols = [db.get_collection(args.a),
                    db.get_collection(args.b, model=args.b_model) if args.b_model
                    else db.get_collection(args.b)]
            runs = [per_query(c, queries) for c in cols]
            a, b = ([ndcg_at_k(r[q], qrels[q], 10) for q in qrels] for r in runs)
            diff = [y - x for x, y in zip(a, b, strict=True)]
            report[split] = {
                "queries": len(diff), args.a: round(statistics.fmean(a), 4),
                args.b: round(statistics.fmean(b), 4),
                "b_minus_a": round(statistics.fmean(diff), 4),
                "paired_se": round(statistics.stdev(diff) / len(diff) ** 0.5, 4),
                "b_wins": sum(d > 0 for d in diff), "a_wins": sum(d < 0 for d in diff),
            }
            print(json.dumps({split: report[split]}), flush=True)


if __name__ == "__main__":
    main()
