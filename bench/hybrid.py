"""Hybrid retrieval benchmark on NFCorpus: quality (nDCG@10) next to latency, per search mode.

Needs a collection of the corpus built once (minutes of embedding), reused afterwards:

    akindb eval beir ../shared/data/ir/nfcorpus --db /tmp/akb-nf        # builds beir-nfcorpus

Then:

    python bench/hybrid.py --db /tmp/akb-nf --tune              # dev split: fusion grid
    python bench/hybrid.py --db /tmp/akb-nf --split test        # vector / keyword / hybrid

``--tune`` computes each dev query's vector and BM25 candidate lists once (100 each) and its
BM25 match strength, and fuses them offline for every setting of the grids (RRF k and weights
and weighted fusion α with the keyword gate off; then the keyword gate's low/high edges), so the
defaults in ``akindb.retrieval.fusion.FusionParams`` are chosen on dev only. It also prints
nDCG@10 per fifth of the dev queries by match strength (what motivated the gate). ``--split test``
goes through the public API, ``Collection.search(q, k=10, mode=...)``, one query at a time,
interleaving the modes query by query so machine noise hits them alike; latency is per call
(embedding included) and reported as p50/p95. ``hybrid`` is the collection's own fusion (the
default: convex); ``hybrid-rrf`` the RRF k=60 + gate that was the default before;
``vector+prf`` dense pseudo-relevance feedback (``akindb.retrieval.feedback``), for its cost;
``--fts5`` adds ``hybrid-fts5``, the collection's hybrid search with BM25 from FTS5 instead of
``retrieval.keyword_memory``'s in-memory copy (built during the warm-up; ``keyword_copy`` in
the output says whether it answered).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

import akindb
from akindb.eval.beir import load_beir
from akindb.eval.metrics import ndcg_at_k
from akindb.models import query_cache
from akindb.retrieval import keyword as kw
from akindb.retrieval import keyword_memory, keyword_side, stages
from akindb.retrieval.feedback import RocchioParams, rocchio
from akindb.retrieval.fusion import FusionMethod, FusionParams, fuse
from akindb.retrieval.rm3 import Rm3Params
from akindb.retrieval.settings import (
    S5_FUSION,
    RetrievalSettings,
    load_settings,
    save_settings,
    updated,
)

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "ir" / "nfcorpus"
PRF_BETA, PRF_M = 0.3, 3
"""Dense Rocchio's best dev setting (bench/quality.py --prf 0.3,3), timed as ``vector+prf``."""


def mean_ndcg(run: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> float:
    return statistics.fmean(ndcg_at_k(run.get(q, []), qrels[q], 10) for q in qrels)


def tune(col: akindb.Collection, data_dir: Path, n_cand: int) -> dict[str, object]:
    data = load_beir(data_dir, "dev")
    qids = list(data.queries)
    vecs = col.embedder.embed([data.queries[q] for q in qids])
    lists: dict[str, dict[str, dict[int, float]]] = {}
    strength: dict[str, float | None] = {}
    with col.parts.lock:
        labels, scores = col.parts.live.search(vecs, n_cand)
        n_rows = kw.fts_row_count(col.parts.store.conn)
        for i, q in enumerate(qids):
            v = {int(a): float(s) for a, s in zip(labels[i], scores[i], strict=True) if a >= 0}
            terms = kw.query_terms(data.queries[q])
            k_ = {h.chunk_id: h.score for h in kw.bm25_search(
                col.parts.store.conn, col.config.id, terms, n_cand)}
            lists[q] = {"vector": v, "keyword": k_}
            strength[q] = kw.match_strength(
                max(k_.values()), kw.doc_freqs(col.parts.store.conn, terms), n_rows) if k_ else None
        every = sorted({c for d in lists.values() for lst in d.values() for c in lst})
        doc_of = {c: r.doc_id for c, r in col.parts.store.hit_rows(every).items()}

    def per_query(params: FusionParams | None, only: str | None = None) -> dict[str, float]:
        run: dict[str, list[str]] = {}
        for q in qids:
            if only is not None:
                ranked = sorted(lists[q][only].items(), key=lambda x: (-x[1], x[0]))
                run[q] = [doc_of[c] for c, _ in ranked[:10]]
            else:
                assert params is not None
                run[q] = [doc_of[f.item] for f in fuse(lists[q], params, strength[q])[:10]]
        return {q: ndcg_at_k(run.get(q, []), data.qrels[q], 10) for q in data.qrels}

    def evaluate(params: FusionParams | None, only: str | None = None) -> float:
        return statistics.fmean(per_query(params, only).values())

    rows: list[dict[str, object]] = []
    base = {"vector": evaluate(None, "vector"), "keyword": evaluate(None, "keyword")}
    plain = FusionParams(keyword_gate_low=0.0, keyword_gate_high=0.0, candidates=n_cand)
    for k in (1, 5, 10, 20, 30, 60, 100):
        for wk in (0.5, 0.75, 1.0, 1.25, 1.5, 2.0):
            p = dataclasses.replace(plain, rrf_k=k, keyword_weight=wk)
            rows.append({**p.to_dict(), "ndcg@10": evaluate(p)})
    for a in np.linspace(0.1, 0.9, 17):
        p = dataclasses.replace(plain, method=FusionMethod.WEIGHTED, vector_weight=float(1 - a),
                                keyword_weight=float(a))
        rows.append({**p.to_dict(), "ndcg@10": evaluate(p)})
    grid = {
        f"{r['method']} k={r['rrf_k']:g} w_kw={r['keyword_weight']:.2f}": round(
            float(r["ndcg@10"]), 4)  # type: ignore[arg-type]
        for r in rows
    }
    rows.sort(key=lambda r: -float(r["ndcg@10"]))  # type: ignore[arg-type]
    # The keyword gate on the default RRF (k=60, equal weights): low edge x width.
    gate_grid: dict[str, float] = {}
    for lo in (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35):
        for width in (0.0, 0.05, 0.1, 0.15, 0.2, 0.3):
            p = FusionParams(keyword_gate_low=lo, keyword_gate_high=round(lo + width, 4),
                             candidates=n_cand)
            gate_grid[f"low={lo:.2f} high={lo + width:.2f}"] = round(evaluate(p), 4)
    # Why a gate: nDCG@10 per fifth of the queries by BM25 match strength.
    default = FusionParams(candidates=n_cand)
    cols = {"vector": per_query(None, "vector"), "keyword": per_query(None, "keyword"),
            "rrf": per_query(plain), "rrf+gate": per_query(default)}
    order = sorted(data.qrels, key=lambda q: strength.get(q) or 0.0)
    fifths = []
    for b in range(5):
        part = order[b * len(order) // 5 : (b + 1) * len(order) // 5]
        lo_s, hi_s = (strength.get(part[i]) or 0.0 for i in (0, -1))
        fifths.append({"strength": f"{lo_s:.2f}-{hi_s:.2f}", "queries": len(part),
                       **{c: round(statistics.fmean(v[q] for q in part), 4)
                          for c, v in cols.items()}})
    return {"split": "dev", "queries": len(qids), "single": base,
            "no_gate": {**plain.to_dict(), "ndcg@10": evaluate(plain)},
            "default": {**default.to_dict(), "ndcg@10": evaluate(default)},
            "best_no_gate": rows[:5], "gate_grid": gate_grid, "by_strength": fifths,
            "grid_no_gate": grid}


def compare(col: akindb.Collection, data_dir: Path, split: str, rounds: int,
            rm3: Rm3Params | None = None, dense_fb: RocchioParams | None = None,
            k: int = 10, by_stage: bool = False, serial: bool = False,
            fts5: bool = False) -> dict[str, object]:
    data = load_beir(data_dir, split)
    qids = [q for q in data.queries if data.queries[q].strip()]
    modes: tuple[str, ...] = ("vector", "keyword", "hybrid", "hybrid-rrf", "vector+prf")
    if rm3 is not None:
        modes += ("keyword+rm3", "hybrid+rm3")
    if dense_fb is not None:
        modes += ("hybrid+rocchio", "hybrid-rocchio", "hybrid-s5")
    if serial:  # the collection's hybrid with the keyword side after / beside the embedding
        modes += ("hybrid-serial", "hybrid-beside")
    if fts5:  # the collection's hybrid with BM25 from FTS5, not keyword_memory's copy
        modes += ("hybrid-fts5",)
    rrf = FusionParams()  # the RRF k=60 + keyword gate default before "convex"
    side_default = keyword_side.mode
    with col.parts.lock:
        plain = load_settings(col.parts.store.conn, col.config.id)
    # "plain": every feedback off; "+x": only x on ("hybrid" is the collection as stored)
    off = updated(plain, rm3=Rm3Params(), rocchio=RocchioParams(enabled=False))
    fb = updated(off, rm3=rm3) if rm3 is not None else off
    fb_r = updated(off, rocchio=dense_fb) if dense_fb is not None else off
    current = [plain]

    def setting(m: str) -> None:  # outside the timed call: the collection's feedback setting
        if rm3 is None and dense_fb is None:
            return
        want = (fb if m.endswith("+rm3") else fb_r if m.endswith("+rocchio")
                else off if m.endswith(("-rocchio", "-s5")) else plain)
        if want != current[0]:
            save_settings(col.parts.store.conn, col.parts.db_file, col.config.id, want)
            current[0] = want

    def search(q: str, m: str) -> list[akindb.Hit]:
        # keyword_side.mode: the library's default unless a mode names it; read once per call
        keyword_side.mode = {"hybrid-serial": "off", "hybrid-beside": "on"}.get(m, side_default)
        if m in ("hybrid-serial", "hybrid-beside"):
            m = "hybrid"
        if m == "hybrid-fts5":
            copy_limit = keyword_memory.MAX_TOKENS
            keyword_memory.MAX_TOKENS = 0  # no copy for this call: FTS5 answers
            try:
                return col.search(q, k, mode="hybrid")
            finally:
                keyword_memory.MAX_TOKENS = copy_limit
        for tail in ("+rm3", "+rocchio", "-rocchio"):
            if m.endswith(tail):
                m = m[: -len(tail)]
        if m == "hybrid-rrf":
            return col.search(q, k, mode="hybrid", fusion=rrf)
        if m == "hybrid-s5":  # the session-5 default: convex 0.5 + gate, no feedback
            return col.search(q, k, mode="hybrid", fusion=S5_FUSION)
        if m == "vector+prf":  # dense Rocchio: a second index search from the moved query
            qv = col.embedder.embed([q], role="query")[0]
            labels, _ = col.parts.live.search(qv[None, :], PRF_M)
            with col.parts.lock:
                stored = col.parts.store.vectors_by_chunk([int(c) for c in labels[0] if c >= 0])
            return col.search_vector(rocchio(qv, list(stored.values()), PRF_BETA), k)
        return col.search(q, k, mode=m)  # type: ignore[arg-type]

    with col.parts.lock:  # a long-running process's state: the keyword copy built (~0.2 s)
        keyword_memory.ready(col.parts.store.conn)
    for q in qids[:20]:  # warm-up: model, index, SQLite pages
        for m in modes:
            setting(m)
            search(data.queries[q], m)
    lat: dict[str, list[float]] = {m: [] for m in modes}
    parts: dict[str, dict[str, list[float]]] = {m: {} for m in modes}
    runs: dict[str, dict[str, list[str]]] = {m: {} for m in modes}
    for r in range(rounds):
        for i, q in enumerate(qids):
            order = modes if (i + r) % 2 == 0 else modes[::-1]
            for m in order:
                setting(m)
                if by_stage:  # akindb.retrieval.stages: where each call's time went
                    with stages.recording() as rec:
                        t0 = time.perf_counter()
                        hits = search(data.queries[q], m)
                        lat[m].append(time.perf_counter() - t0)
                    for name, sec in rec.items():
                        parts[m].setdefault(name, []).append(sec)
                else:
                    t0 = time.perf_counter()
                    hits = search(data.queries[q], m)
                    lat[m].append(time.perf_counter() - t0)
                runs[m][q] = list(dict.fromkeys(h.id for h in hits))  # a doc at its best chunk
    out: dict[str, object] = {"split": split, "queries": len(qids), "rounds": rounds}
    for m in modes:
        xs = sorted(lat[m])
        out[m] = {
            "ndcg@10": round(mean_ndcg(runs[m], data.qrels), 4),
            "p50_ms": round(1000 * xs[len(xs) // 2], 2),
            "p95_ms": round(1000 * xs[int(len(xs) * 0.95)], 2),
        }
        if by_stage:  # median and mean per stage, over the calls that reached it
            out[m]["stages_ms"] = {  # type: ignore[index]
                name: {"p50": round(1000 * statistics.median(v), 3),
                       "mean": round(1000 * statistics.fmean(v), 3), "calls": len(v)}
                for name, v in parts[m].items()}
    setting("hybrid")
    with col.parts.lock:  # did keyword_memory's copy answer the timed calls? (built in warm-up)
        held = keyword_memory.current(col.parts.store.conn) is not None
    out["keyword_copy"] = held
    v50 = out["vector"]["p50_ms"]  # type: ignore[index]
    out["hybrid_p50_over_vector_p50"] = round(out["hybrid"]["p50_ms"] / v50, 3)  # type: ignore[index]
    for m in modes[2:]:
        out[f"{m}_p50_over_vector_p50"] = round(out[m]["p50_ms"] / v50, 3)  # type: ignore[index]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", required=True, help="database folder holding the corpus")
    ap.add_argument("--collection", default="beir-nfcorpus")
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--tune", action="store_true", help="fusion grid on the dev split")
    ap.add_argument("--split", default="test")
    ap.add_argument("--rounds", type=int, default=1, help="passes over the queries (latency)")
    ap.add_argument("--candidates", type=int, default=100)
    ap.add_argument("--rm3", default=None,
                    help="DOCS,TERMS,LAMBDA: also time keyword+rm3 and hybrid+rm3 (the "
                         "collection's RM3 setting, switched between calls, restored after)")
    ap.add_argument("--rocchio", default=None,
                    help="BETA,DOCS[,ROUNDS,CUT]: also time hybrid+rocchio (dense feedback on) and "
                         "hybrid-rocchio (every feedback off), switched like --rm3")
    ap.add_argument("--defaults", action="store_true",
                    help="time the collection with today's default settings (fusion and "
                         "feedback) instead of the ones it was created with; restored after")
    ap.add_argument("--k", type=int, default=10,
                    help="hits asked per call (a chunked collection: more, so 10 documents "
                         "remain after keeping each document's best chunk)")
    ap.add_argument("--stages", action="store_true",
                    help="also report each mode's time per stage of the search (settings, "
                         "embed, vector search, bm25, gather, feedback, fuse, hits)")
    ap.add_argument("--serial", action="store_true",
                    help="also time hybrid-serial and hybrid-beside: the collection's hybrid "
                         "search with the keyword side always after / always beside the "
                         "embedding (plain hybrid: beside only when a core is spare)")
    ap.add_argument("--fts5", action="store_true",
                    help="also time hybrid-fts5: the collection's hybrid search with BM25 from "
                         "FTS5 rather than the in-memory copy (retrieval.keyword_memory)")
    ap.add_argument("--no-query-cache", action="store_true",
                    help="embed every query (else the first mode of a query fills the cache "
                         "and the others reuse its vector)")
    args = ap.parse_args()
    if args.no_query_cache:
        query_cache.set_size(0)
    db = akindb.open(args.db, create=False)
    col = db.get_collection(args.collection)
    with col.parts.lock:
        before = load_settings(col.parts.store.conn, col.config.id)
    if args.defaults:
        save_settings(col.parts.store.conn, col.parts.db_file, col.config.id,
                      RetrievalSettings())
    rm3 = None
    if args.rm3:
        d, t, lam = args.rm3.split(",")
        rm3 = Rm3Params(True, int(d), int(t), float(lam))
    roc = None
    if args.rocchio:
        b, m, *more = args.rocchio.split(",")
        extra = (int(more[0]), float(more[1])) if more else ()
        roc = RocchioParams(True, float(b), int(m), *extra)
    try:
        res = tune(col, args.data, args.candidates) if args.tune else compare(
            col, args.data, args.split, args.rounds, rm3, roc, args.k, args.stages,
            args.serial, args.fts5)
    finally:
        save_settings(col.parts.store.conn, col.parts.db_file, col.config.id, before)
    res["rm3"] = args.rm3
    res["query_cache"] = not args.no_query_cache
    res["machine"] = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    print(json.dumps(res, indent=1))
    db.close()


if __name__ == "__main__":
    main()
