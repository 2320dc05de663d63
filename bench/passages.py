"""Passage-level dense scoring (MaxP) on the two dev tasks: does a smaller chunk find more?

NFCorpus is normally evaluated one unit per abstract, truncated at MiniLM's 256-token window
(MTEB's way), and MiniLM was trained on 128-token inputs. Here each task is indexed again with
the collection's own chunker at ``--max-tokens`` (and ``--overlap``), so a long abstract
becomes several passages, and a document ranks at its best passage (dense, BM25 and fused
alike: ``akindb.eval.tuning.Task`` ranks documents by their best chunk). A user's folder is
chunked the same way (``ChunkingParams``), so a size that wins here is a product default, not
an evaluation trick.

    python bench/passages.py build --task nfcorpus --max-tokens 128       # minutes (embeds)
    python bench/passages.py build --task pydocs --max-tokens 128
    python bench/passages.py eval --split dev --sizes whole,128           # grid over fusions

``whole`` is the collection ``bench/quality.py`` uses (NFCorpus: one unit per abstract;
pydocs: ``akindb index`` at the default 256 tokens). Query vectors are shared with
``bench/quality.py`` (``bench/.cache/qvec-<task>-<split>.npy``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from quality import CACHE, TASKS

import akindb
from akindb.eval.beir import load_beir
from akindb.eval.judgements import load_judgements
from akindb.eval.tuning import Task, collect, label
from akindb.retrieval.fusion import FusionMethod, FusionParams
from akindb.retrieval.settings import S5_FUSION, KeywordAnalyzer
from akindb.text.chunking import ChunkingParams

PASS = CACHE / "pass"


def db_of(task: str, size: str) -> tuple[Path, str]:
    """Database folder and collection name of one task at one chunk size."""
    if size == "whole":
        db, col, _ = TASKS[task]
        return db, col
    return PASS / f"{task}-{size}", f"{task}-{size}"


def build(task: str, max_tokens: int, overlap: int) -> dict[str, Any]:
    size = f"{max_tokens}" if overlap == 32 else f"{max_tokens}o{overlap}"
    path, name = db_of(task, size)
    db = akindb.open(path)
    params = ChunkingParams(max_tokens=max_tokens, overlap_tokens=overlap)
    col = db.get_or_create_collection(name) if name in db.list_collections() else \
        db.create_collection(name, chunking=params)
    t0 = time.perf_counter()
    if task == "nfcorpus":
        data = load_beir(TASKS[task][2], split="dev")
        ids = list(data.corpus)
        have = col.count()
        for lo in range(have, len(ids), 256):  # resumable: documents are added in order
            part = ids[lo: lo + 256]
            col.add([data.corpus[i].full_text or i for i in part], ids=part, chunk=True)
            print(f"{name}: {lo + len(part)}/{len(ids)} docs, {time.perf_counter() - t0:.0f} s",
                  file=sys.stderr, flush=True)
    else:
        col.add_files([CACHE / "pydocs" / "library"])
    col.flush()
    info = {"collection": name, "docs": col.count(), "chunks": col.info().chunks,
            "seconds": round(time.perf_counter() - t0, 1), "chunking": params.to_dict()}
    db.close()
    return info


def load(task: str, size: str, split: str, n_cand: int = 100) -> Task:
    path, name = db_of(task, size)
    qdir = TASKS[task][2]
    queries, qrels = load_judgements(qdir, split)
    qids = [q for q in queries if queries[q].strip()]
    db = akindb.open(path, create=False)
    col = db.get_collection(name)
    cache = CACHE / f"qvec-{task}-{split}.npy"
    if cache.exists():
        vecs = np.load(cache)
    else:
        vecs = col.embedder.embed([queries[q] for q in qids], role="query")
        np.save(cache, vecs)
    t = collect(col, {q: queries[q] for q in qids}, qrels, name=task, candidates=n_cand,
                qvecs=vecs, analyzer=KeywordAnalyzer())
    if task == "pydocs":
        t.doc_of = {c: Path(d).name for c, d in t.doc_of.items()}
    db.close()
    return t


def grid(n: int) -> list[FusionParams]:
    out: list[FusionParams] = []
    for lo, hi in ((0.0, 0.0), (0.2, 0.3), (0.3, 0.4)):
        for wk in (0.3, 0.4, 0.5, 0.6, 0.7):
            out.append(FusionParams(FusionMethod.CONVEX, vector_weight=round(1 - wk, 2),
                                    keyword_weight=wk, candidates=n,
                                    keyword_gate_low=lo, keyword_gate_high=hi))
    return out


def evaluate(split: str, sizes: list[str], tasks: list[str], n_cand: int) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for size in sizes:
        loaded = {t: load(t, size, split, n_cand) for t in tasks}
        entry: dict[str, Any] = {
            "vector": {t: round(x.ndcg(None, "vector"), 4) for t, x in loaded.items()},
            "keyword": {t: round(x.ndcg(None, "keyword"), 4) for t, x in loaded.items()},
            "fused": {}}
        for p in grid(n_cand):
            s = {t: round(x.ndcg(p), 4) for t, x in loaded.items()}
            entry["fused"][label(p)] = s
        rows[size] = entry
        print(json.dumps({"size": size, "vector": entry["vector"], "keyword": entry["keyword"],
                          "s5 default": entry["fused"][label(S5_FUSION)]}), flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--task", choices=list(TASKS), required=True)
    b.add_argument("--max-tokens", type=int, default=128)
    b.add_argument("--overlap", type=int, default=32)
    e = sub.add_parser("eval")
    e.add_argument("--split", default="dev")
    e.add_argument("--sizes", default="whole,128")
    e.add_argument("--tasks", default="nfcorpus,pydocs")
    e.add_argument("--candidates", type=int, default=100)
    e.add_argument("--out", default=None)
    args = ap.parse_args()
    if args.cmd == "build":
        print(json.dumps(build(args.task, args.max_tokens, args.overlap)))
        return
    res = evaluate(args.split, args.sizes.split(","), args.tasks.split(","), args.candidates)
    out = Path(args.out) if args.out else CACHE / f"passages-{args.split}.json"
    out.write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
