"""Fine-tune MiniLM on NFCorpus train with hard negatives; a measured curve (issue 17, part 5).

Uses the NFCorpus collection built for bench/quality.py (``bench/.cache/nf``): hard negatives
from its BM25 and dense lists (``akindb.eval.hard_negatives.mine``), gradient-cached
multiple-negatives training with early stopping on dev nDCG@10 over a fixed candidate pool
(``akindb.models.finetune_hard``), then base vs fine-tuned on test queries with the same pool
proxy. On a CPU, keep it short:

    python bench/finetune_hard.py --train-queries 400 --steps 20 --eval-every 10 \
        --batch 32 --dev-queries 30 --test-queries 100 --out bench/.cache/ft-hard

On a GPU (the whole train split, then the real full-corpus number):

    python bench/finetune_hard.py --steps 400 --eval-every 25 --batch 128 --dev-queries 324 \
        --test-queries 323 --out /tmp/ft-hard --device cuda
    akindb eval beir ../shared/data/ir/nfcorpus --model /tmp/ft-hard --db /tmp/ft-db
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import akindb
from akindb.eval.hard_negatives import mine, pool_evaluator
from akindb.eval.judgements import load_judgements
from akindb.models.finetune_hard import HardParams, finetune_hard
from akindb.models.registry import load_embedder

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "ir" / "nfcorpus"


def subset(queries: dict[str, str], qrels: dict[str, dict[str, int]], n: int
           ) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    keep = sorted(qrels)[:n]
    return {q: queries[q] for q in keep}, {q: qrels[q] for q in keep}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", type=Path, default=REPO / "bench" / ".cache" / "nf")
    ap.add_argument("--train-queries", type=int, default=10**9)
    ap.add_argument("--dev-queries", type=int, default=30)
    ap.add_argument("--test-queries", type=int, default=100)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--eval-every", type=int, default=10)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--depth", type=int, default=20)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--device", default="cpu", help="cpu | cuda")
    ap.add_argument("--lr", type=float, default=2e-5)
    ap.add_argument("--patience", type=int, default=3)
    args = ap.parse_args()
    col = akindb.open(args.db, create=False).get_collection("beir-nfcorpus")
    t0 = time.perf_counter()
    tq, tr = subset(*load_judgements(DATA, "train"), args.train_queries)
    triples = mine(col, tq, tr)
    mined_s = time.perf_counter() - t0
    dq, dr = subset(*load_judgements(DATA, "dev"), args.dev_queries)
    dev_eval = pool_evaluator(col, dq, dr, depth=args.depth)
    params = HardParams(batch_size=args.batch, max_steps=args.steps, eval_every=args.eval_every,
                        device=args.device, lr=args.lr, patience=args.patience)
    report, curve = finetune_hard("default", triples, args.out, dev_eval, params,
                                  on_note=lambda m: print(m, flush=True))
    sq, sr = subset(*load_judgements(DATA, "test"), args.test_queries)
    test_eval = pool_evaluator(col, sq, sr, depth=args.depth)
    base = load_embedder()
    tuned = load_embedder(args.out)
    out = {
        "triples": len(triples), "mine_seconds": round(mined_s, 1),
        "params": params.to_dict(), "curve_dev_pool_ndcg@10": curve.points,
        "best_step": report.best_step, "train_seconds": report.train_seconds,
        "onnx_max_abs_diff": report.onnx_max_abs_diff,
        f"test_pool_ndcg@10 ({len(sr)} queries, depth {args.depth})": {
            "base": round(test_eval(lambda t: base.embed(t, role="query")), 4),
            "fine-tuned": round(test_eval(lambda t: tuned.embed(t, role="query")), 4),
        },
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
