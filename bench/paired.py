"""How sure is a dev difference? Per-query paired nDCG@10 differences against the default
pipeline, with their standard error, on dev and test (issue 17: the dev/test disagreement of
RM3 and dense feedback on NFCorpus is within this noise).

    python bench/paired.py
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from quality import load_task

from akindb.eval.metrics import ndcg_at_k
from akindb.eval.tuning import Task
from akindb.retrieval.fusion import FusionMethod, FusionParams
from akindb.retrieval.rm3 import Rm3Params
from akindb.retrieval.settings import DEFAULT_FUSION, KeywordAnalyzer


def per_query(t: Task, p: FusionParams) -> dict[str, float]:
    run = t.run(p)
    return {q: ndcg_at_k(run.get(q, []), g, 10) for q, g in t.qrels.items()}


def main() -> None:
    an = KeywordAnalyzer()
    finer = FusionParams(FusionMethod.CONVEX, vector_weight=0.45, keyword_weight=0.55,
                         keyword_gate_low=0.25, keyword_gate_high=0.35)
    out: dict[str, object] = {}
    for split in ("dev", "test"):
        for name in ("nfcorpus", "pydocs"):
            base = load_task(name, split, an, 100)
            ref = per_query(base, DEFAULT_FUSION)
            variants = {
                "finer grid (convex 0.55, gate 0.25/0.35)": per_query(base, finer),
                "rm3 5/20/0.5": per_query(load_task(name, split, an, 100,
                                                    rm3=Rm3Params(True, 5, 20, 0.5)),
                                          DEFAULT_FUSION),
                "dense prf 0.3/3": per_query(load_task(name, split, an, 100, (0.3, 3)),
                                             DEFAULT_FUSION),
            }
            for label, s in variants.items():
                d = [s[q] - ref[q] for q in ref]
                se = statistics.stdev(d) / len(d) ** 0.5
                out[f"{split} {name} {label}"] = {"diff": round(statistics.fmean(d), 4),
                                                  "se": round(se, 4), "queries": len(d)}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
