"""Paired standard errors for the session-6 candidates (chunk size x dense feedback x fusion)
against the shipped default (whole units, no feedback, convex 0.5 + gate 0.2/0.3).

Each variant is ``SIZE|FEEDBACK|W_KW|GATE`` (``FEEDBACK``: ``none`` or ``fused:β:m``; ``GATE``:
``off`` or ``lo/hi``); per query, nDCG@10 minus the default's, then mean ± standard error.

    python bench/paired_s6.py --split dev \
        --variants "whole|fused:0.4:3|0.6|0.2/0.3,whole|none|vector|,128|none|0.5|0.2/0.3"
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from prf_rescore import load_with_vectors, moved

from akindb.eval.metrics import ndcg_at_k
from akindb.eval.tuning import Task
from akindb.retrieval.fusion import FusionMethod, FusionParams
from akindb.retrieval.settings import S5_FUSION


def params(wk: str, gate: str) -> FusionParams:
    lo, hi = (0.0, 0.0) if gate == "off" else (float(x) for x in gate.split("/"))
    return FusionParams(FusionMethod.CONVEX, vector_weight=round(1 - float(wk), 2),
                        keyword_weight=float(wk), keyword_gate_low=lo, keyword_gate_high=hi)


def per_query(t: Task, p: FusionParams | None, only: str | None = None) -> dict[str, float]:
    run = t.run(p, only)
    return {q: ndcg_at_k(run.get(q, []), g, 10) for q, g in t.qrels.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--split", default="dev")
    ap.add_argument("--tasks", default="nfcorpus,pydocs")
    ap.add_argument("--variants", required=True)
    args = ap.parse_args()
    cache: dict[tuple[str, str], tuple[Task, dict, dict]] = {}

    def base(task: str, size: str) -> tuple[Task, dict, dict]:  # type: ignore[type-arg]
        if (task, size) not in cache:
            cache[task, size] = load_with_vectors(task, size, args.split)
        return cache[task, size]

    out: dict[str, object] = {}
    for task in args.tasks.split(","):
        ref = per_query(base(task, "whole")[0], S5_FUSION)
        out[f"{task} default"] = round(statistics.fmean(ref.values()), 4)
        for v in args.variants.split(","):
            size, fb, wk, gate = v.split("|")
            t, qv, stored = base(task, size)
            if fb != "none":
                src, beta, m = fb.split(":")
                t = moved(t, qv, stored, float(beta), int(m), src,
                          params(wk, gate) if wk not in ("vector", "keyword") else S5_FUSION)
            if wk == "vector":
                s = per_query(t, None, "vector")
            elif wk == "keyword":
                s = per_query(t, None, "keyword")
            else:
                s = per_query(t, params(wk, gate))
            d = [s.get(q, 0.0) - ref[q] for q in ref]
            out[f"{task} {v}"] = {"ndcg": round(statistics.fmean(s.values()), 4),
                                  "diff": round(statistics.fmean(d), 4),
                                  "se": round(statistics.stdev(d) / len(d) ** 0.5, 4)}
            print(json.dumps({f"{task} {v}": out[f"{task} {v}"]}), flush=True)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
