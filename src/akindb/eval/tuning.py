"""Choosing hybrid fusion on judged queries: candidate lists once, every setting offline.

``akindb tune-hybrid --qrels DIR`` and ``bench/quality.py`` use this. Each judged query is run
once through both retrievers (``candidates`` each), with the exact dense score of every
candidate and its BM25 bound; then every setting of a grid is fused offline (no model call, no
SQL) and scored by nDCG@10 over documents (a document ranks at its best chunk). The chosen
setting is the best mean over the tasks given, among those at least as good as vector-only on
every task (issue 17: fusion must not hurt).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from akindb.eval.metrics import ndcg_at_k
from akindb.retrieval import keyword as kw
from akindb.retrieval.analyzer import STOP_WORDS_EN
from akindb.retrieval.feedback import RocchioParams, applies, moved
from akindb.retrieval.fusion import FusionMethod, FusionParams
from akindb.retrieval.hybrid import Candidates, fuse_candidates
from akindb.retrieval.rm3 import Rm3Params, expand, weighted_bound
from akindb.retrieval.settings import KeywordAnalyzer
from akindb.types import Metric

if TYPE_CHECKING:
    from akindb.collection import Collection

Progress = Callable[[int, int], None]


@dataclass
class Task:
    """One collection's judged queries with their candidate lists (see ``collect``).

    With ``feedback`` (and the query vectors and every candidate's vector), a fused ranking
    gets dense feedback first, as hybrid search does (``akindb.retrieval.feedback``)."""

    name: str
    qrels: dict[str, dict[str, int]]
    cands: dict[str, Candidates]
    doc_of: dict[int, str]
    feedback: RocchioParams | None = None
    qvecs: dict[str, np.ndarray[Any, Any]] = field(default_factory=dict)
    vectors: dict[int, np.ndarray[Any, Any]] = field(default_factory=dict)
    score: Callable[[Any, Any], Any] | None = None

    def fused(self, q: str, params: FusionParams) -> list[int]:
        """Query ``q``'s chunks, fused by ``params`` (after dense feedback when it is on)."""
        c = self.cands[q]
        first = [f.item for f in fuse_candidates(c, params)[0]]
        fb = self.feedback
        if (fb is None or not fb.enabled or fb.beta <= 0 or not first or self.score is None
                or not applies(c, params)):
            return first
        out = moved(c, self.qvecs[q], self.vectors, params, fb, self.score)
        return [f.item for f in fuse_candidates(out, params)[0]]

    def run(self, params: FusionParams | None, only: str | None = None) -> dict[str, list[str]]:
        """Ranked document ids per query: one list alone (``only``) or fused by ``params``."""
        out: dict[str, list[str]] = {}
        for q, c in self.cands.items():
            if only is not None:
                lst = getattr(c, only)
                chunks = sorted(lst, key=lambda i: (-lst[i], i))
            else:
                assert params is not None
                chunks = self.fused(q, params)
            docs: list[str] = []
            for ch in chunks:
                d = self.doc_of[ch]
                if d not in docs:
                    docs.append(d)
                    if len(docs) == 10:
                        break
            out[q] = docs
        return out

    def ndcg(self, params: FusionParams | None, only: str | None = None) -> float:
        run = self.run(params, only)
        return statistics.fmean(ndcg_at_k(run.get(q, []), g, 10) for q, g in self.qrels.items())


def collect(
    col: Collection,
    queries: Mapping[str, str],
    qrels: dict[str, dict[str, int]],
    *,
    name: str = "",
    candidates: int = 100,
    qvecs: np.ndarray[Any, Any] | None = None,
    analyzer: KeywordAnalyzer | None = None,
    progress: Progress | None = None,
    rm3: Rm3Params | None = None,
    feedback: RocchioParams | None = None,
) -> Task:
    """Run every judged query through both retrievers once (``qvecs``: precomputed query
    vectors in ``queries`` order, else the collection's model embeds them; ``rm3``: expand the
    keyword list as a search with that setting would; ``feedback``: fused rankings get dense
    feedback as a search with that setting would, so every candidate's vector is kept)."""
    from akindb.retrieval.search import dense_scores

    qids = [q for q in queries if q in qrels and queries[q].strip()]
    vecs = qvecs if qvecs is not None else col.embedder.embed(
        [queries[q] for q in qids], role="query")
    metric = col.metric
    an = analyzer or KeywordAnalyzer()
    cands: dict[str, Candidates] = {}
    with col.parts.lock:
        n_rows = kw.fts_row_count(col.parts.store.conn)
    for lo in range(0, len(qids), 64):
        batch = np.asarray(vecs[lo : lo + 64], np.float32)
        labels, scores = col.parts.live.search(batch, candidates)
        for j, q in enumerate(qids[lo : lo + 64]):
            vec = {int(a): float(s) for a, s in zip(labels[j], scores[j], strict=True) if a >= 0}
            terms = an.query_terms(queries[q])
            with col.parts.lock:
                conn = col.parts.store.conn
                hits = kw.bm25_search(conn, col.config.id, terms, candidates)
                dfs = kw.doc_freqs(conn, terms)
                first = key = {h.chunk_id: h.score for h in hits}
                weights: dict[str, float] | None = None
                if rm3 is not None and rm3.enabled and key:
                    ex = expand(conn, col.config.id, terms, key, candidates, rm3, STOP_WORDS_EN)
                    key, weights = ex.scores, ex.weights
                missing = [c for c in key if c not in vec]
                stored = col.parts.store.vectors_by_chunk(missing)
                top = (kw.K1 + 1) * sum(kw.idf(n_rows, d) for d in dfs)
                if weights is not None:
                    top = weighted_bound(conn, weights)
            dense = dict(vec)
            if stored:
                ids = list(stored)
                ds = dense_scores(metric, vecs[lo + j], np.stack([stored[i] for i in ids]))
                dense.update({i: float(s) for i, s in zip(ids, ds.tolist(), strict=True)})
            strength = kw.match_strength(max(first.values()), dfs, n_rows) if first else None
            cands[q] = Candidates(vec, key, dense, top, strength, metric is Metric.COSINE)
        if progress is not None:
            progress(min(lo + 64, len(qids)), len(qids))
    every = sorted({c for x in cands.values() for c in (*x.vector, *x.keyword)})
    with col.parts.lock:
        doc_of = {c: r.doc_id for c, r in col.parts.store.hit_rows(every).items()}
        on = feedback is not None and feedback.enabled
        stored = col.parts.store.vectors_by_chunk(every) if on else {}
    task = Task(name or col.name, {q: qrels[q] for q in cands}, cands, doc_of)
    if on:
        task.feedback, task.vectors = feedback, stored
        task.qvecs = {q: np.asarray(vecs[i], np.float32) for i, q in enumerate(qids)}
        task.score = lambda qv, m: dense_scores(metric, qv, m)
    return task


def default_grid(candidates: int = 100) -> list[FusionParams]:
    """Convex weights 0.05-0.6 with the gate off and at three settings; RRF as it shipped."""
    out: list[FusionParams] = []
    gates = ((0.0, 0.0), (0.1, 0.2), (0.2, 0.3), (0.3, 0.4))
    for lo, hi in gates:
        for wk in (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6):
            out.append(FusionParams(FusionMethod.CONVEX, vector_weight=round(1 - wk, 2),
                                    keyword_weight=wk, candidates=candidates,
                                    keyword_gate_low=lo, keyword_gate_high=hi))
        for k in (20, 60):
            out.append(FusionParams(FusionMethod.RRF, rrf_k=k, candidates=candidates,
                                    keyword_gate_low=lo, keyword_gate_high=hi))
    return out


@dataclass(frozen=True)
class Choice:
    params: FusionParams
    scores: dict[str, float]
    table: list[dict[str, Any]]
    single: dict[str, dict[str, float]]


def label(p: FusionParams) -> str:
    """A short name for a setting (for tables)."""
    gate = "off" if not p.gated else f"{p.keyword_gate_low:g}/{p.keyword_gate_high:g}"
    if p.method is FusionMethod.CONVEX:
        return f"convex w_kw={p.keyword_weight:g} gate={gate}"
    if p.method is FusionMethod.RRF:
        return f"rrf k={p.rrf_k:g} w_kw={p.keyword_weight:g} gate={gate}"
    return f"weighted w_kw={p.keyword_weight:g} gate={gate}"


def choose(tasks: Sequence[Task], grid: Iterable[FusionParams]) -> Choice:
    """The setting with the best mean nDCG@10 over ``tasks`` among those not below vector-only
    on any task (if none qualifies: the best mean)."""
    single = {t.name: {"vector": t.ndcg(None, "vector"), "keyword": t.ndcg(None, "keyword")}
              for t in tasks}
    table: list[dict[str, Any]] = []
    for p in grid:
        s = {t.name: t.ndcg(p) for t in tasks}
        ok = all(s[t.name] >= single[t.name]["vector"] for t in tasks)
        table.append({"setting": label(p), "params": p, "scores": s,
                      "mean": statistics.fmean(s.values()), "never_below_vector": ok})
    table.sort(key=lambda r: -r["mean"])
    pool = [r for r in table if r["never_below_vector"]] or table
    best = pool[0]
    return Choice(best["params"], best["scores"], table, single)


def with_candidates(p: FusionParams, n: int) -> FusionParams:
    return replace(p, candidates=n)


def tune_collection(
    col: Collection,
    queries: Mapping[str, str],
    qrels: dict[str, dict[str, int]],
    *,
    candidates: int = 100,
    save: bool = True,
    source: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """``akindb tune-hybrid``: choose the fusion on ``qrels`` (the collection's current setting
    competes too) and, with ``save``, store it with the collection (``source``: provenance
    recorded beside it, e.g. the judgements' folder and split). Returns a JSON-able report."""
    from akindb.retrieval.settings import load_settings, save_settings, updated

    with col.parts.lock:
        current = load_settings(col.parts.store.conn, col.config.id)
    task = collect(col, queries, qrels, candidates=candidates, analyzer=current.analyzer,
                   progress=progress, rm3=current.rm3, feedback=current.rocchio)
    res = choose([task], [current.fusion, *default_grid(candidates)])
    name = task.name
    report: dict[str, Any] = {
        "queries": len(task.qrels),
        "vector": round(res.single[name]["vector"], 4),
        "keyword": round(res.single[name]["keyword"], 4),
        "current": {"setting": label(current.fusion),
                    "ndcg@10": round(task.ndcg(current.fusion), 4)},
        "chosen": {"setting": label(res.params), "ndcg@10": round(res.scores[name], 4),
                   "fusion": res.params.to_dict()},
        "saved": False,
    }
    if save:
        tuned = {**dict(source or {}), "queries": len(task.qrels),
                 "ndcg@10": round(res.scores[name], 4)}
        new = updated(current, fusion=res.params, tuned=tuned)
        save_settings(col.parts.store.conn, col.parts.db_file, col.config.id, new)
        report["saved"] = True
    return report
