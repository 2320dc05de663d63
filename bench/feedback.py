"""Feedback and fusion, measured together on the two dev tasks (issue 17, parts 2, 3 and 6).

Each configuration is one pass of every judged query through both retrievers (query vectors
cached by ``bench/quality.py``; no re-embedding): keyword feedback (RM3: docs, terms, λ), dense
feedback (Rocchio: β, m), candidate depth. Per configuration, a grid of fusion settings is
fused offline and scored by nDCG@10; the choice is the best mean over both tasks among the
settings at least as good as vector-only on both (vector-only *without* feedback: the baseline a
user has). Tune on dev only; ``--split test --only LABEL`` reports one chosen configuration.

    python bench/feedback.py --split dev                  # the grid (minutes)
    python bench/feedback.py --split test --only 'rm3 10/10/0.5' \
        --fusion 'convex w_kw=0.5 gate=0.2/0.3'
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from quality import CACHE, load_task

from akindb.eval.tuning import Task, label
from akindb.retrieval.fusion import FusionMethod, FusionParams
from akindb.retrieval.rm3 import Rm3Params
from akindb.retrieval.settings import KeywordAnalyzer

Config = tuple[str, Rm3Params | None, tuple[float, int] | None, int]


def configs() -> list[Config]:
    """Feedback settings to try: none, RM3 around Anserini's defaults, dense Rocchio, both."""
    out: list[Config] = [("none", None, None, 100)]
    for docs in (5, 10):
        for terms in (10, 20):
            for lam in (0.3, 0.5, 0.7):
                out.append((f"rm3 {docs}/{terms}/{lam:g}", Rm3Params(True, docs, terms, lam),
                            None, 100))
    for beta, m in ((0.3, 3), (0.5, 5)):
        out.append((f"prf {beta:g}/{m}", None, (beta, m), 100))
    out += [("none n=50", None, None, 50), ("none n=200", None, None, 200)]
    return out


def fusion_grid(n: int) -> list[FusionParams]:
    out: list[FusionParams] = []
    for lo, hi in ((0.0, 0.0), (0.2, 0.3), (0.3, 0.4)):
        for wk in (0.3, 0.4, 0.5, 0.6):
            out.append(FusionParams(FusionMethod.CONVEX, vector_weight=round(1 - wk, 2),
                                    keyword_weight=wk, candidates=n,
                                    keyword_gate_low=lo, keyword_gate_high=hi))
    out.append(FusionParams(FusionMethod.RRF, rrf_k=60, candidates=n))
    # the finer grid's best mean on dev (bench/fusion_variants.py), to report it on test
    out.append(FusionParams(FusionMethod.CONVEX, vector_weight=0.45, keyword_weight=0.55,
                            candidates=n, keyword_gate_low=0.25, keyword_gate_high=0.35))
    return out


def evaluate(tasks: list[Task], base_vec: dict[str, float], grid: list[FusionParams]
             ) -> list[dict[str, Any]]:
    rows = []
    for p in grid:
        s = {t.name: t.ndcg(p) for t in tasks}
        rows.append({"fusion": label(p), "mean": sum(s.values()) / len(s), **s,
                     "ok": all(s[t] >= base_vec[t] for t in s)})
    rows.sort(key=lambda r: -r["mean"])
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--split", default="dev")
    ap.add_argument("--tasks", default="nfcorpus,pydocs")
    ap.add_argument("--only", default=None,
                    help="run only the configurations with these labels (comma-separated)")
    ap.add_argument("--fusion", default=None, help="report only this fusion label")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    an = KeywordAnalyzer()
    names = args.tasks.split(",")
    base = {n: load_task(n, args.split, an, 100) for n in names}
    base_vec = {n: t.ndcg(None, "vector") for n, t in base.items()}
    base_key = {n: t.ndcg(None, "keyword") for n, t in base.items()}
    report: dict[str, Any] = {"split": args.split, "vector": base_vec, "keyword": base_key,
                              "configs": []}
    for name, rm3, prf, n in configs():
        if args.only is not None and name not in args.only.split(","):
            continue
        t0 = time.perf_counter()
        tasks = [base[x] if (rm3, prf, n) == (None, None, 100) else
                 load_task(x, args.split, an, n, prf, rm3) for x in names]
        secs = time.perf_counter() - t0
        rows = evaluate(tasks, base_vec, fusion_grid(n))
        if args.fusion is not None:
            rows = [r for r in rows if r["fusion"] == args.fusion]
        best = next((r for r in rows if r["ok"]), rows[0])
        entry = {"config": name, "seconds": round(secs, 1),
                 "vector": {t.name: round(t.ndcg(None, "vector"), 4) for t in tasks},
                 "keyword": {t.name: round(t.ndcg(None, "keyword"), 4) for t in tasks},
                 "best": {k: (round(v, 4) if isinstance(v, float) else v)
                          for k, v in best.items()},
                 "top": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}
                         for r in rows[:5]]}
        report["configs"].append(entry)
        print(json.dumps({k: entry[k] for k in ("config", "seconds", "vector", "keyword",
                                                 "best")}), flush=True)
    out = Path(args.out) if args.out else CACHE / f"feedback-{args.split}.json"
    out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
