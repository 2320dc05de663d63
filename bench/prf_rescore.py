"""Dense feedback cheap enough to be on: Rocchio that re-scores the candidates it already has.

``bench/feedback.py`` measured dense Rocchio as a second index search with the moved query
(``q' = normalise((1-β)·q + β·centroid(top m))``), fed by the *vector* list's top m. Two
cheaper and possibly better variants are measured here on the dev tasks, offline over the
same candidate lists:

* ``src``: where the top m come from: the vector list, or the *fused* list (the hybrid
  ranking, which is better than either list alone, so its top passages are more often right);
* ``rescore``: no second search: every candidate already found (vector ∪ keyword, ~150 per
  query) gets ``cos(q', v) = ((1-β)·cos(q, v) + β·cos(ĉ, v)) / ‖(1-β)·q̂ + β·ĉ‖`` from its
  stored vector, then the lists are fused again. Its cost is one small matrix product.

    python bench/prf_rescore.py --split dev --sizes whole,128
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from passages import db_of, grid
from quality import CACHE, TASKS

import akindb
from akindb.eval.judgements import load_judgements
from akindb.eval.tuning import Task, collect, label
from akindb.retrieval.feedback import applies
from akindb.retrieval.fusion import FusionParams
from akindb.retrieval.hybrid import Candidates, fuse_candidates
from akindb.retrieval.settings import DEFAULT_FUSION, S5_FUSION, KeywordAnalyzer


def load_with_vectors(task: str, size: str, split: str) -> tuple[Task, dict[str, np.ndarray],
                                                                    dict[int, np.ndarray]]:
    path, name = db_of(task, size)
    queries, qrels = load_judgements(TASKS[task][2], split)
    qids = [q for q in queries if queries[q].strip()]
    db = akindb.open(path, create=False)
    col = db.get_collection(name)
    vecs = np.load(CACHE / f"qvec-{task}-{split}.npy")
    t = collect(col, {q: queries[q] for q in qids}, qrels, name=task, candidates=100,
                qvecs=vecs, analyzer=KeywordAnalyzer())
    every = sorted({c for x in t.cands.values() for c in (*x.vector, *x.keyword)})
    with col.parts.lock:
        stored = col.parts.store.vectors_by_chunk(every)
    db.close()
    if task == "pydocs":
        t.doc_of = {c: Path(d).name for c, d in t.doc_of.items()}
    qv = {q: vecs[i] for i, q in enumerate(qids)}
    return t, qv, stored


def moved(t: Task, qv: dict[str, np.ndarray], stored: dict[int, np.ndarray], beta: float,
          m: int, src: str, first: FusionParams = S5_FUSION) -> Task:
    """The task with every candidate's dense score re-computed for the Rocchio query (``src``
    "fused": its top ``m`` of the first ranking fused by ``first``; search fuses the first
    ranking with the same setting as the final one, so ``first`` is that setting)."""
    cands: dict[str, Candidates] = {}
    for q, c in t.cands.items():
        if src == "fused" and not applies(c, first):  # as search: no keyword evidence, no
            cands[q] = c                               # feedback
            continue
        if src == "vector":
            top = sorted(c.vector, key=lambda i: (-c.vector[i], i))[:m]
        else:
            top = [f.item for f in fuse_candidates(c, first)[0][:m]]
        cen = np.mean(np.stack([stored[i] for i in top]), axis=0)
        cen /= max(float(np.linalg.norm(cen)), 1e-12)
        qn = qv[q] / max(float(np.linalg.norm(qv[q])), 1e-12)
        new_q = (1 - beta) * qn + beta * cen
        new_q /= max(float(np.linalg.norm(new_q)), 1e-12)
        ids = sorted(set(c.vector) | set(c.keyword))
        mat = np.stack([stored[i] for i in ids])
        mat = mat / np.maximum(np.linalg.norm(mat, axis=1, keepdims=True), 1e-12)
        s = dict(zip(ids, (mat @ new_q).tolist(), strict=True))
        vec = {i: s[i] for i in c.vector}
        cands[q] = replace(c, vector=vec, dense=dict(s))
    return Task(t.name, t.qrels, cands, t.doc_of)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--split", default="dev")
    ap.add_argument("--sizes", default="whole")
    ap.add_argument("--tasks", default="nfcorpus,pydocs")
    ap.add_argument("--configs", default="vector:0.3:3,fused:0.3:3,fused:0.3:5,fused:0.5:5,"
                    "fused:0.2:5,fused:0.3:10,fused:0.5:10,vector:0.5:5")
    args = ap.parse_args()
    out: dict[str, Any] = {}
    for size in args.sizes.split(","):
        base = {t: load_with_vectors(t, size, args.split) for t in args.tasks.split(",")}
        res: dict[str, Any] = {}
        for cfg in ["none", *args.configs.split(",")]:
            fused: dict[str, dict[str, float]] = {}
            vector: dict[str, float] = {}
            for p in [S5_FUSION, *[g for g in grid(100) if g.keyword_gate_low != 0.3
                                   and g.keyword_weight >= 0.4]]:
                if cfg == "none":
                    tasks = {n: b[0] for n, b in base.items()}
                else:  # the first ranking fused as the final one is, as search does
                    src, beta, m = cfg.split(":")
                    tasks = {n: moved(*b, float(beta), int(m), src, p) for n, b in base.items()}
                fused[label(p)] = {n: round(x.ndcg(p), 4) for n, x in tasks.items()}
                if p == S5_FUSION:
                    vector = {n: round(x.ndcg(None, "vector"), 4) for n, x in tasks.items()}
            row = {"vector": vector, "fused": fused}
            res[cfg] = row
            print(json.dumps({"size": size, "config": cfg, "vector": row["vector"],
                              "s5 fusion": row["fused"][label(S5_FUSION)],
                              "default fusion": row["fused"][label(DEFAULT_FUSION)]}),
                  flush=True)
        out[size] = res
    (CACHE / f"prf-rescore-{args.split}.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
