"""Fusion shapes beyond bench/feedback.py's grid, on the dev tasks (issue 17, part 2).

Offline over the cached candidate lists: the convex weight and gate on a finer grid, the dense
score min-max normalised per query instead of the raw cosine, a z-score fusion, and the combined
feedback (RM3 + dense Rocchio). Dev only; nothing here is chosen on test.

    python bench/fusion_variants.py
"""

from __future__ import annotations

import dataclasses
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
from akindb.retrieval.settings import KeywordAnalyzer


def zscore_ndcg(t: Task, wk: float) -> float:
    """Per-query z-scores of cosine and BM25 (missing BM25: the list's minimum), mixed by wk."""
    scores = []
    for q, c in t.cands.items():
        items = set(c.vector) | set(c.keyword)
        d = {i: c.dense.get(i, c.vector.get(i, 0.0)) for i in items}

        def z(xs: dict[int, float]) -> dict[int, float]:
            if len(xs) < 2:
                return {i: 0.0 for i in xs}
            m, s = statistics.fmean(xs.values()), statistics.pstdev(xs.values()) or 1.0
            return {i: (v - m) / s for i, v in xs.items()}

        dz = z(d)
        kz = z(dict(c.keyword))
        low = min(kz.values(), default=0.0)
        f = {i: (1 - wk) * dz[i] + wk * kz.get(i, low) for i in items}
        docs: list[str] = []
        for ch in sorted(f, key=lambda i: (-f[i], i)):
            dd = t.doc_of[ch]
            if dd not in docs:
                docs.append(dd)
            if len(docs) == 10:
                break
        scores.append(ndcg_at_k(docs, t.qrels[q], 10))
    return statistics.fmean(scores)


def convex(wk: float, lo: float, hi: float) -> FusionParams:
    return FusionParams(FusionMethod.CONVEX, vector_weight=round(1 - wk, 2), keyword_weight=wk,
                        keyword_gate_low=lo, keyword_gate_high=hi)


def main() -> None:
    an = KeywordAnalyzer()
    names = ("nfcorpus", "pydocs")
    base = {n: load_task(n, "dev", an, 100) for n in names}
    vec = {n: base[n].ndcg(None, "vector") for n in names}
    rows: list[dict[str, object]] = []

    def add(label: str, s: dict[str, float]) -> None:
        rows.append({"setting": label, "mean": round(statistics.fmean(s.values()), 4),
                     **{k: round(v, 4) for k, v in s.items()},
                     "ok": all(s[n] >= vec[n] for n in names)})

    for wk in (0.45, 0.5, 0.55):
        for lo, hi in ((0.2, 0.3), (0.25, 0.35), (0.3, 0.4)):
            p = convex(wk, lo, hi)
            add(f"convex {wk:g} gate {lo:g}/{hi:g}", {n: base[n].ndcg(p) for n in names})
    unb = {n: Task(t.name, t.qrels, {q: dataclasses.replace(c, bounded=False)
                                     for q, c in t.cands.items()}, t.doc_of)
           for n, t in base.items()}
    for wk in (0.3, 0.4, 0.5):
        p = convex(wk, 0.2, 0.3)
        add(f"convex {wk:g} gate 0.2/0.3, dense min-max per query",
            {n: unb[n].ndcg(p) for n in names})
    for wk in (0.3, 0.4, 0.5):
        add(f"z-score {wk:g}, no gate", {n: zscore_ndcg(base[n], wk) for n in names})
    for rm3, prf in ((Rm3Params(True, 5, 20, 0.5), (0.3, 3)), (None, (0.3, 3))):
        tasks = {n: load_task(n, "dev", an, 100, prf, rm3) for n in names}
        for wk in (0.4, 0.5, 0.6):
            for lo, hi in ((0.2, 0.3), (0.3, 0.4)):
                p = convex(wk, lo, hi)
                tag = "rm3 5/20/0.5 + " if rm3 else ""
                add(f"{tag}prf 0.3/3, convex {wk:g} gate {lo:g}/{hi:g}",
                    {n: tasks[n].ndcg(p) for n in names})
    rows.sort(key=lambda r: -float(r["mean"]))  # type: ignore[arg-type]
    print(json.dumps({"vector": vec, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
