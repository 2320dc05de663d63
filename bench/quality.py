"""Finding the right passage: fusion and analyzer chosen on two dev tasks, reported on test.

Tasks (each an akindb collection plus judgements; built once, reused):

* NFCorpus (``akindb eval beir ../shared/data/ir/nfcorpus --db bench/.cache/nf --split dev``
  builds ``beir-nfcorpus``: 3,633 abstracts, one chunk each), dev / test qrels;
* Python docs "see also" (``python bench/pydocs_task.py`` then ``akindb index
  bench/.cache/pydocs/library --db bench/.cache/pydocs/db -c pydocs``: 317 library pages,
  chunked as ``akindb index`` chunks them), dev / test judgements.

    python bench/quality.py --split dev      # grid, choice (tune on this only)
    python bench/quality.py --split test     # the chosen default vs single modes on test

Query vectors are cached under bench/.cache (one model pass per task and split).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path
from typing import Any

import numpy as np

import akindb
from akindb.eval.judgements import load_judgements
from akindb.eval.tuning import Task, choose, collect, default_grid, label
from akindb.retrieval.feedback import rocchio
from akindb.retrieval.fusion import FusionParams
from akindb.retrieval.hybrid import fuse_candidates
from akindb.retrieval.rm3 import Rm3Params
from akindb.retrieval.settings import DEFAULT_FUSION, KeywordAnalyzer

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / "bench" / ".cache"
TASKS = {
    "nfcorpus": (CACHE / "nf", "beir-nfcorpus", REPO.parent / "shared/data/ir/nfcorpus"),
    "pydocs": (CACHE / "pydocs" / "db", "pydocs", CACHE / "pydocs" / "task"),
}


def prf_vectors(col: akindb.Collection, vecs: np.ndarray, beta: float, m: int) -> np.ndarray:
    """Dense Rocchio (akindb.retrieval.feedback): each query moved towards its top m chunks."""
    labels, _ = col.parts.live.search(np.asarray(vecs, np.float32), m)
    out = []
    for i, row in enumerate(labels):
        ids = [int(x) for x in row if x >= 0]
        with col.parts.lock:
            stored = col.parts.store.vectors_by_chunk(ids)
        out.append(rocchio(vecs[i], [stored[c] for c in ids if c in stored], beta))
    return np.stack(out)


def load_task(name: str, split: str, analyzer: KeywordAnalyzer, n_cand: int,
              prf: tuple[float, int] | None = None, rm3: Rm3Params | None = None) -> Task:
    db_path, col_name, qdir = TASKS[name]
    queries, qrels = load_judgements(qdir, split)
    db = akindb.open(db_path, create=False)
    col = db.get_collection(col_name)
    qids = [q for q in queries if queries[q].strip()]
    cache = CACHE / f"qvec-{name}-{split}.npy"
    if cache.exists():
        vecs = np.load(cache)
    else:
        vecs = col.embedder.embed([queries[q] for q in qids], role="query")
        np.save(cache, vecs)
    if prf is not None:
        vecs = prf_vectors(col, vecs, *prf)
    task = collect(col, {q: queries[q] for q in qids}, qrels, name=name, candidates=n_cand,
                   qvecs=vecs, analyzer=analyzer, rm3=rm3)
    if name == "pydocs":  # documents are paths; judgements name the page file
        task.doc_of = {c: Path(d).name for c, d in task.doc_of.items()}
    db.close()
    return task


def score_scale(task: Task, params: FusionParams) -> dict[str, object]:
    """Scores of relevant top-10 documents, vector mode vs hybrid (is min_score comparable?)."""
    vec: list[float] = []
    hyb: list[float] = []
    for q, c in task.cands.items():
        judged = task.qrels.get(q, {})
        for source, scores in (("v", sorted(c.vector.items(), key=lambda x: -x[1])),
                               ("h", [(f.item, s) for f, s in zip(*fuse_candidates(c, params),
                                                                  strict=True)])):
            seen: set[str] = set()
            for chunk, sc in scores:
                d = task.doc_of[chunk]
                if d in seen:
                    continue
                seen.add(d)
                if judged.get(d, 0) > 0:
                    (vec if source == "v" else hyb).append(sc)
                if len(seen) == 10:
                    break

    def summary(xs: list[float]) -> dict[str, float]:
        xs = sorted(xs)
        return {"n": len(xs), "median": round(xs[len(xs) // 2], 3),
                "q1": round(xs[len(xs) // 4], 3), "share>=0.3": round(
                    sum(x >= 0.3 for x in xs) / len(xs), 3)} if xs else {}

    return {"vector": summary(vec), "hybrid": summary(hyb)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--split", default="dev")
    ap.add_argument("--stop-words", default="english")
    ap.add_argument("--candidates", type=int, default=100)
    ap.add_argument("--tasks", default="nfcorpus,pydocs")
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--prf", default=None, help="dense Rocchio BETA,M (e.g. 0.3,3)")
    args = ap.parse_args()
    an = KeywordAnalyzer(stop_words=args.stop_words)
    prf = None
    if args.prf:
        b, m = args.prf.split(",")
        prf = (float(b), int(m))
    tasks = [load_task(n, args.split, an, args.candidates, prf) for n in args.tasks.split(",")]
    # Only dev chooses; on other splits just the shipped default and the old RRF default run.
    grid = default_grid(args.candidates) if args.split == "dev" else [DEFAULT_FUSION,
                                                                      FusionParams()]
    res = choose(tasks, grid)
    out: dict[str, Any] = {"split": args.split, "analyzer": an.to_dict(), "prf": args.prf,
                           "queries": {t.name: len(t.qrels) for t in tasks},
                           "single": {t: {m: round(v, 4) for m, v in s.items()}
                                      for t, s in res.single.items()}}
    out["best"] = {"setting": label(res.params), **{t: round(v, 4) for t, v in
                                                    res.scores.items()}}
    out["default"] = {"setting": label(DEFAULT_FUSION),
                      **{t.name: round(t.ndcg(DEFAULT_FUSION), 4) for t in tasks}}
    out["grid"] = [{"setting": r["setting"], "mean": round(r["mean"], 4),
                    **{t: round(v, 4) for t, v in r["scores"].items()},
                    "never_below_vector": r["never_below_vector"]} for r in res.table[: args.top]]
    out["score_scale"] = {t.name: score_scale(t, res.params) for t in tasks}
    out["machine"] = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
