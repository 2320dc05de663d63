"""Read-path latency against the raw engines it wraps, stage by stage (issue 14).

One run, one data set, one machine: real all-MiniLM-L6-v2 vectors of ``bench/ann_data.py``
(``--n`` base vectors with their texts, the 1,000 held-out queries with theirs), stored in an
akindb collection (HNSW M=16, ef_construction=100, text + metadata per chunk). Ratios:

* single ``search_vector`` returning Hits with text + metadata ÷ raw faiss single ids-only,
  at the same ef_search, on **the same faiss graph** (the ``IndexHNSWFlat`` akindb holds,
  called directly), so graph differences cannot colour the ratio;
* batch ``search_vectors(include=[documents, metadatas, scores])`` ÷ raw faiss batch;
* ``col.search(text)`` p50 ÷ (raw ONNX Runtime embed of the same query + raw faiss search);
* flat exact single (``exact=True``) ÷ numpy matmul + argpartition;
* ``tune(0.95)`` without queries: its ef_search and the recall of the 1,000 held-out real
  queries at it, beside the smallest ef_search that reaches 0.95 on them;
* cold ``akindb search`` wall time on a 10k-chunk collection, beside its floor (a bare
  script: onnxruntime + tokenizers + faiss + numpy, session, one embed, one faiss search):
  ``bench/cold_cli.py``, which also compares source trees and tables the imports.

    python bench/latency.py --n 19480 [--json out.json] [--skip-tune] [--skip-cold]
    python bench/latency.py --n 100000 --only tune --db /tmp/mine   # tune's rows alone

Works against an older akindb tree too (``PYTHONPATH=old/src``): stages it lacks are skipped.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ann_data import load_texts, load_vectors

import akindb

HERE = Path(__file__).resolve().parent
K = 10


def _texts(n: int) -> tuple[list[str], list[str]]:
    path = HERE / ".cache" / "texts30k.json"
    texts: list[str] = json.loads(path.read_text()) if path.exists() else load_texts()
    return texts[1000 : 1000 + n], texts[:1000]


def _make(where: Path, base: np.ndarray, texts: list[str]) -> None:
    if (where / "done").exists():
        return
    with akindb.open(where) as db:
        col = db.create_collection("c", index="hnsw",
                                   index_params={"M": 16, "ef_construction": 100})
        step = 5000
        for lo in range(0, len(base), step):
            hi = min(lo + step, len(base))
            col.add(texts=texts[lo:hi], ids=[f"t{i}" for i in range(lo, hi)],
                    vectors=base[lo:hi],
                    metadatas=[{"i": i, "src": "ann_data"} for i in range(lo, hi)])
        col.search_vector(base[0])
        col.flush()
    (where / "done").write_text("ok")


def _exact(base: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    s = q @ base.T
    p = np.argpartition(-s, k, axis=1)[:, :k]
    o = np.take_along_axis(s, p, 1).argsort(1)[:, ::-1]
    return np.take_along_axis(p, o, 1)


def _recall(found: list[list[str]], truth: np.ndarray) -> float:
    return float(np.mean([len({f"t{j}" for j in t} & set(f)) / K
                          for f, t in zip(found, truth.tolist(), strict=True)]))


def engine(col: Any, base: np.ndarray, qs: np.ndarray, ef: int) -> dict[str, Any]:
    """Single, batch and stage-by-stage timings against the same faiss graph."""
    live = col.parts.live
    live.set_knob(ef)
    idx = live.get()
    f = idx._f  # the raw faiss IndexHNSWFlat akindb searches
    f.hnsw.efSearch = ef
    q1 = [qs[i : i + 1] for i in range(len(qs))]
    qv = [qs[i] for i in range(len(qs))]
    n = len(qs)

    def search_read(b: np.ndarray, k: int) -> None:
        """``search_vector`` and every hit's text, metadata and score read: a result type
        that built its fields lazily would pay here, not hide the cost (issue 14)."""
        for h in col.search_vector(b, k=k):
            h.text, h.metadata, h.score  # noqa: B018

    ak_call: list[Any] = [col.search_vector]

    def interleaved() -> tuple[float, float, float, float]:
        """Raw and akindb alternate query by query, which goes first alternating too (the
        second one finds the graph's pages warm): load swings on a shared machine hit both
        sides alike (the ratio is what is reported). Wall seconds and the calling thread's
        CPU seconds (``thread_time``: not inflated by waiting for a core on a busy machine)."""
        tr = ta = cr = ca = 0.0
        clock, cpu = time.perf_counter, time.thread_time
        search = ak_call[0]
        for i, (a, b) in enumerate(zip(q1, qv, strict=True)):
            if i % 2:
                c0, t0 = cpu(), clock()
                search(b, k=K)
                t1, c1 = clock(), cpu()
                f.search(a, K)
                t2, c2 = clock(), cpu()
                ta, ca, tr, cr = ta + t1 - t0, ca + c1 - c0, tr + t2 - t1, cr + c2 - c1
            else:
                c0, t0 = cpu(), clock()
                f.search(a, K)
                t1, c1 = clock(), cpu()
                search(b, k=K)
                t2, c2 = clock(), cpu()
                tr, cr, ta, ca = tr + t1 - t0, cr + c1 - c0, ta + t2 - t1, ca + c2 - c1
        return tr, ta, cr, ca

    def passes_of(label: str) -> None:
        interleaved()  # warm: page cache, row cache, branch predictors
        passes = [interleaved() for _ in range(5)]
        out[f"raw_single_us{label}"] = statistics.median(p[0] for p in passes) / n * 1e6
        out[f"ak_single_us{label}"] = statistics.median(p[1] for p in passes) / n * 1e6
        out[f"single_ratio{label}"] = statistics.median(p[0] / p[1] for p in passes)
        out[f"single_ratio_cpu{label}"] = statistics.median(p[2] / p[3] for p in passes)

    out: dict[str, Any] = {"ef": ef}
    passes_of("")
    ak_call[0] = search_read
    passes_of("_read")
    ak_call[0] = col.search_vector
    # The recall monitor (1 % of queries re-run exactly in a background thread, its estimate
    # written to SQLite) is on by default; the same figure with it off says what it costs.
    monitor, live.monitor = live.monitor, None
    try:
        passes_of("_monitor_off")
    finally:
        live.monitor = monitor
    inc = ["documents", "metadatas", "scores"]
    batch = {"raw": lambda: f.search(qs, K),
             "ak": lambda: col.search_vectors(qs, k=K, include=inc),
             "ids": lambda: col.search_vectors(qs, k=K, include=[])}
    wall: dict[str, list[float]] = {name: [] for name in batch}
    proc: dict[str, list[float]] = {name: [] for name in batch}
    names = list(batch)
    for r in range(9):  # the three rotate round by round, so none always goes first
        for name in names[r % 3:] + names[: r % 3]:
            c0, t0 = time.process_time(), time.perf_counter()
            batch[name]()
            wall[name].append(time.perf_counter() - t0)
            proc[name].append(time.process_time() - c0)
    out["raw_batch_us"] = min(wall["raw"]) / n * 1e6
    out["ak_batch_us"] = min(wall["ak"]) / n * 1e6
    out["ak_batch_ids_us"] = min(wall["ids"]) / n * 1e6
    out["batch_ratio"] = out["raw_batch_us"] / out["ak_batch_us"]
    # Per round, raw ÷ akindb of that round (load swings hit both alike), and the same in
    # process CPU time (every thread: faiss's OpenMP workers included), medians.
    out["batch_ratio_median"] = statistics.median(
        a / b for a, b in zip(wall["raw"], wall["ak"], strict=True))
    out["batch_ratio_cpu"] = statistics.median(
        a / b for a, b in zip(proc["raw"], proc["ak"], strict=True))
    out["batch_ids_ratio_cpu"] = statistics.median(
        a / b for a, b in zip(proc["raw"], proc["ids"], strict=True))
    truth = _exact(base, qs, K)
    found = [[h.id for h in col.search_vector(q, k=K)] for q in qv]
    out["recall"] = _recall(found, truth)
    out["stages_us"] = stages(col, qv)
    return out


def rotated(named: list[tuple[str, Any]], n: int, passes: int = 5,
            before: Any = None) -> dict[str, float]:
    """CPU µs per query of each stage (``fn(i)`` for query ``i``), the stages rotated query by
    query; the calling thread's CPU time (``thread_time``: not inflated by waiting for a core
    on a busy machine; BLAS worker threads are not in it); median of ``passes`` after one warm
    pass. Each stage is timed alone, so the rows do not add up exactly.

    With ``before`` (session 7), each stage is timed right after an untimed ``before(j)``, the
    graph walk or scan of another query ``j`` (the same query's would leave a stage that walks
    again warm), as every stage of a real search runs after one: a stage timed in a loop of
    its own finds its code and data in the CPU caches and under-reads 2-4x, and without
    ``before`` each stage runs after the stage listed before it, so its place in the list
    colours it (session 7 saw ten Hits built read 18 µs in one place and, with more work, 9
    in the next)."""
    cpu = time.thread_time_ns
    fns = [fn for _, fn in named]
    m = len(fns)
    runs: list[list[int]] = []
    for _ in range(passes + 1):
        acc = [0] * m
        for i in range(n):
            for j in range(m):
                s = (i + j) % m
                if before is not None:  # another query's: a walk twice is warm the second time
                    before((i + n // 2) % n)
                c0 = cpu()
                fns[s](i)
                acc[s] += cpu() - c0
        runs.append(acc)
    return {name: round(statistics.median(r[s] for r in runs[1:]) / n / 1e3, 1)
            for s, (name, _) in enumerate(named)}


def stages(col: Any, qv: list[np.ndarray], exact: bool = False,
           base: np.ndarray | None = None) -> dict[str, float]:
    """Where one ``search_vector`` goes, stage by stage (``rotated``): the HNSW graph, or with
    ``exact`` the flat index kept beside it against numpy over ``base``. Stages a tree lacks
    (an older akindb on ``PYTHONPATH``) are left out."""
    from akindb.collection import results
    from akindb.core.vectors import as_matrix

    parts = col.parts
    live = parts.live
    idx = live.exact_index() if exact else live.get()
    dim, metric = parts.dim, parts.metric
    units = [live.prep(as_matrix(q, dim, metric)) for q in qv]
    found = [idx.search(u, K) for u in units]
    seq = live.seq if hasattr(live, "seq") else live._seq
    with parts.lock:
        rows_of = [parts.rows.reader(parts.store, seq).rows(lab[0].tolist()) for lab, _ in found]
    named: list[tuple[str, Any]] = []
    if exact:
        assert base is not None
        mat = idx.vectors() if hasattr(idx, "vectors") else None

        def t_numpy(i: int) -> None:
            sc = base @ qv[i]
            p = np.argpartition(-sc, K)[:K]
            p[np.argsort(-sc[p])]

        named.append(("numpy matmul + argpartition (reference)", t_numpy))
        if mat is not None:
            named.append(("the scan alone (matmul)", lambda i: units[i] @ mat.T))
    else:
        f = idx._f
        named.append(("raw faiss walk, same graph (reference)", lambda i: f.search(units[i], K)))
    try:
        try:  # what the lean path runs: the check, the unit row and the (1, dim) view
            from akindb.core.vectors import unit_and_raw as unit_query
        except ImportError:  # an older tree
            from akindb.core.vectors import unit_query

        named.append(("validate + normalise (one pass)", lambda i: unit_query(qv[i], dim)))
    except ImportError:
        named.append(("validate + normalise", lambda i: as_matrix(qv[i], dim, metric)))
    named.append(("index search (exact index)" if exact else "index search (graph walk incl.)",
                  lambda i: idx.search(units[i], K)))
    if hasattr(live, "search_ready") and not exact:
        named.append(("search_ready: read lock + index search + monitor hook",
                      lambda i: live.search_ready(units[i], K, units[i])))

    store = parts.store
    if hasattr(store, "head_seen"):  # session 8: collection.lean's inline no-commit test
        from akindb.storage.commit_watch import HEADER_BYTES

        def t_head(i: int) -> None:
            with parts.lock:
                seen, _ = store.head_seen
                view = store.header_map
                if not (view is not None and not store.conn.in_transaction
                        and view[:HEADER_BYTES] == seen):
                    store.head_seq()
    else:
        def t_head(i: int) -> None:
            with parts.lock:
                store.head_seq()

    named.append(("log-head check (under the database lock)", t_head))
    labs = [lab[0].tolist() for lab, _ in found]
    if hasattr(parts.rows, "cached"):
        named.append(("hit rows (10, from the row cache)", lambda i: parts.rows.cached(labs[i])))
    else:
        named.append(("hit rows (10, from the row cache)",
                      lambda i: parts.rows.reader_at_head(parts.store).rows(labs[i])))
    cosine = metric.value == "cosine"
    lean_hits = _lean_hits(parts.rows)
    if lean_hits is not None:  # session 8: rows looked up as the Hits are made
        def t_hits(i: int) -> None:
            sc = found[i][1]
            lean_hits(labs[i], sc.tolist()[0], None if cosine else (-sc).tolist()[0])
    else:
        t_hits = _older_hits(results, found, labs, rows_of, metric)
    named.append(("Hit objects (10) incl. distances", t_hits))

    def t_hits_read(i: int) -> None:
        """As ``t_hits``, then each Hit's text, metadata and score read (a Hit whose fields
        cost on access pays here)."""
        sc = found[i][1]
        if lean_hits is not None:
            hits = lean_hits(labs[i], sc.tolist()[0], None if cosine else (-sc).tolist()[0])
        else:
            di = 1.0 - sc if cosine else -sc
            rows = [rows_of[i].get(x) for x in labs[i]]
            hits = results.row_hits(rows, sc.tolist()[0], di.tolist()[0], None, None)
        for h in hits:
            h.text, h.metadata, h.score  # noqa: B018

    named.append(("Hit objects (10) incl. distances, every hit's text + metadata + score read",
                  t_hits_read))
    named.append(("search_vector total", lambda i: col.search_vector(qv[i], k=K, exact=exact)))

    def t_read(i: int) -> None:
        for h in col.search_vector(qv[i], k=K, exact=exact):
            h.text, h.metadata, h.score  # noqa: B018

    named.append(("search_vector total, every hit's text + metadata read", t_read))
    kept = []
    for name, fn in named:
        try:
            fn(0)
        except (AttributeError, TypeError):  # a stage an older tree lacks
            continue
        kept.append((name, fn))
    if exact:  # each stage after an untimed numpy scan of the same query (``rotated``)
        def walk(i: int) -> None:
            base @ qv[i]
    else:  # each stage after an untimed walk of the same graph (``rotated``)
        def walk(i: int) -> None:
            f.search(units[i], K)
    return rotated(kept, len(qv), passes=3 if exact else 5, before=walk)


def _lean_hits(rows: Any) -> Any:
    """What ``collection.lean`` runs for the Hits (session 8: ``make_hits`` over the row cache's
    own ``get``), as ``fn(labels, scores, distances or None)``; None in an older tree."""
    try:
        from akindb.types import make_hits
    except ImportError:
        return None
    if not hasattr(rows, "get"):
        return None
    return lambda labs, sc, di: make_hits(map(rows.get, labs), sc, di)


def _older_hits(results: Any, found: list[Any], labs: list[list[int]], rows_of: list[Any],
                metric: Any) -> Any:
    """The Hit stage of a tree before session 8: rows, numpy distances, ``row_hits``."""
    try:
        results.row_hits([None], [0.0], [0.0], None, None)

        def t_hits(i: int) -> None:
            sc = found[i][1]
            di = 1.0 - sc if metric.value == "cosine" else -sc
            rows = [rows_of[i].get(x) for x in labs[i]]
            results.row_hits(rows, sc.tolist()[0], di.tolist()[0], None, None)
    except (TypeError, AttributeError):  # an older tree: hits_from_rows(labels, scores, ...)
        def t_hits(i: int) -> None:
            lab, sc = found[i]
            results.hits_from_rows(lab, sc, rows_of[i], metric, None, None)

    return t_hits


def flat(base: np.ndarray, qs: np.ndarray, col: Any) -> dict[str, Any]:
    """Exact single queries (the flat index kept beside HNSW) vs numpy matmul + argpartition
    over the same matrix, interleaved query by query."""
    qv = [qs[i] for i in range(200)]
    col.search_vector(qv[0], k=K, exact=True)
    clock = time.perf_counter
    passes = []

    def ak(q: np.ndarray) -> None:
        col.search_vector(q, k=K, exact=True)

    def ref(q: np.ndarray) -> None:
        s = base @ q
        p = np.argpartition(-s, K)[:K]
        p[np.argsort(-s[p])]

    cpu = time.thread_time
    for _ in range(5):
        ta = tn = ca = cn = 0.0
        for i, q in enumerate(qv):
            # which goes first alternates: the second finds the matrix warm in the caches
            first, second = (ak, ref) if i % 2 else (ref, ak)
            c0, t0 = cpu(), clock()
            first(q)
            t1, c1 = clock(), cpu()
            second(q)
            t2, c2 = clock(), cpu()
            if first is ak:
                ta, tn, ca, cn = ta + t1 - t0, tn + t2 - t1, ca + c1 - c0, cn + c2 - c1
            else:
                ta, tn, ca, cn = ta + t2 - t1, tn + t1 - t0, ca + c2 - c1, cn + c1 - c0
        passes.append((ta, tn, ca, cn))
    a = statistics.median(x[0] for x in passes) / len(qv) * 1e6
    b = statistics.median(x[1] for x in passes) / len(qv) * 1e6
    # The calling thread's CPU time: the whole cost on both sides only when BLAS runs in this
    # thread (OPENBLAS_NUM_THREADS=1); then a busy machine cannot colour it.
    return {"ak_exact_us": a, "numpy_us": b,
            "ratio": statistics.median(x[1] / x[0] for x in passes),
            "ratio_thread_cpu": statistics.median(x[3] / x[2] for x in passes),
            "ak_exact_cpu_us": statistics.median(x[2] for x in passes) / len(qv) * 1e6,
            "numpy_cpu_us": statistics.median(x[3] for x in passes) / len(qv) * 1e6,
            "stages_us": stages(col, qv, exact=True, base=base)}


def text(col: Any, qtexts: list[str]) -> dict[str, Any]:
    """col.search(text) p50 vs raw embed (tokenizer + ORT session) + raw faiss, same queries."""
    emb = col.parts.embedder
    f = col.parts.live.get()._f
    texts = qtexts[:300]
    raw, vec, hyb = [], [], []
    cache: Any = None
    with contextlib.suppress(ImportError):
        from akindb.models import query_cache as cache
    if cache is not None:
        cache.set_size(0)  # every query really embedded (the cache is measured apart)
    for t in texts[:20]:
        col.search(t, k=K, mode="vector")
    for t in texts:
        t0 = time.perf_counter()
        v = emb.embed_batch([t])
        f.search(v, K)
        t1 = time.perf_counter()
        col.search(t, k=K, mode="vector")
        t2 = time.perf_counter()
        col.search(t, k=K)
        t3 = time.perf_counter()
        raw.append(t1 - t0)
        vec.append(t2 - t1)
        hyb.append(t3 - t2)
    out = {"raw_p50_ms": statistics.median(raw) * 1e3,
           "vector_p50_ms": statistics.median(vec) * 1e3,
           "hybrid_p50_ms": statistics.median(hyb) * 1e3}
    out["vector_ratio"] = out["vector_p50_ms"] / out["raw_p50_ms"]
    out["hybrid_ratio"] = out["hybrid_p50_ms"] / out["raw_p50_ms"]
    if cache is not None:
        cache.set_size(1024)
        for t in texts:
            col.search(t, k=K, mode="vector")
        t0 = time.perf_counter()
        for t in texts:
            col.search(t, k=K, mode="vector")
        out["vector_cached_ms"] = (time.perf_counter() - t0) / len(texts) * 1e3
    return out


def _tune_progress(phase: str, done: int, total: int) -> None:
    if total == 0 or done == total or done % 32768 < 8192:
        print(f"  tune: {phase} {done}/{total or '?'}", file=sys.stderr, flush=True)


def tune(col: Any, base: np.ndarray, qs: np.ndarray, seed: int = 0) -> dict[str, Any]:
    live = col.parts.live
    truth = _exact(base, qs, K)
    # A record of an earlier run would floor this one (a re-tune never lowers a measured
    # setting, collection/tune_floor.py): measure the estimator, not the last run.
    col.parts.tune_path.unlink(missing_ok=True)
    t0 = time.perf_counter()
    try:
        from akindb.collection import maintenance

        rep = maintenance.tune(col.parts, 0.95, seed=seed, progress=_tune_progress)
    except TypeError:  # an older tree: no progress callback
        rep = col.tune(0.95, seed=seed)
    secs = time.perf_counter() - t0
    chosen = rep["after"]["value"]
    real = {}
    for ef in (10, 16, 24, 32, 40, 48, 64, 96):
        live.set_knob(ef)
        real[ef] = _recall(col.search_vectors(qs, k=K, include=[])["ids"], truth)
    live.set_knob(chosen)
    at = _recall(col.search_vectors(qs, k=K, include=[])["ids"], truth)
    smallest = min((e for e, r in real.items() if r >= 0.95), default=None)
    return {"seed": seed, "chosen": chosen, "estimate": rep["after"].get("recall"),
            "ci": rep["after"].get("recall_ci"), "estimator": rep.get("estimator"),
            "held_out_recall_at_chosen": at, "smallest_ef_reaching_0.95": smallest,
            "chosen_over_smallest": chosen / smallest if smallest else None,
            "real_by_ef": real, "seconds": secs,
            "sweep": [(p["value"], p["recall"], p.get("recall_ci")) for p in rep["sweep"]]}


def cold(where: Path, query: str, runs: int) -> dict[str, Any]:
    """Cold ``akindb search`` against its floor: bench/cold_cli.py (this tree only)."""
    from cold_cli import make
    from cold_cli import runs as cold_runs

    return cold_runs(where, query, runs, {"this": str(HERE.parent / "src")}, make(where))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=19480)
    ap.add_argument("--ef", type=int, default=48)
    ap.add_argument("--json")
    ap.add_argument("--skip-tune", action="store_true")
    ap.add_argument("--skip-cold", action="store_true")
    ap.add_argument("--cold-runs", type=int, default=5)
    ap.add_argument("--only", help="comma-separated parts: engine,flat,text,tune,cold")
    ap.add_argument("--tune-seeds", default="0",
                    help="tune once per seed (which stored vectors are held out), e.g. 0,1,2")
    ap.add_argument("--db", help="collection folder (default: <tmp>/akindb_latency_<n>; "
                    "tune changes its ef_search, so a private copy keeps others' runs apart)")
    a = ap.parse_args()
    base, qs = load_vectors(a.n, embed=False)
    btexts, qtexts = _texts(a.n)
    where = Path(a.db) if a.db else Path(tempfile.gettempdir()) / f"akindb_latency_{a.n}"
    t0 = time.perf_counter()
    _make(where, base, btexts)
    print(f"collection ready in {time.perf_counter() - t0:.1f}s at {where}", file=sys.stderr)
    report: dict[str, Any] = {"akindb": akindb.__file__, "n": a.n, "load": os.getloadavg()}
    only = set(a.only.split(",")) if a.only else {"engine", "flat", "text", "tune", "cold"}
    if a.skip_tune:
        only.discard("tune")
    if a.skip_cold:
        only.discard("cold")
    with akindb.open(where) as db:
        col = db.get_collection("c")
        if "engine" in only:
            report["engine"] = engine(col, base, qs, a.ef)
            print(json.dumps(report["engine"], indent=1), file=sys.stderr)
        if "flat" in only:
            report["flat"] = flat(base, qs, col)
            print(json.dumps(report["flat"], indent=1), file=sys.stderr)
        if "text" in only:
            report["text"] = text(col, qtexts)
            print(json.dumps(report["text"], indent=1), file=sys.stderr)
        if "tune" in only:
            seeds = [int(x) for x in a.tune_seeds.split(",")]
            runs = [tune(col, base, qs, seed) for seed in seeds]
            report["tune"] = runs[0]
            if len(runs) > 1:
                report["tune_seeds"] = runs
            col.parts.live.set_knob(a.ef)
    if "cold" in only:
        cold_db = Path(tempfile.gettempdir()) / "akindb_latency_cold10k"
        _make(cold_db, base[:10000], btexts[:10000])
        report["cold"] = cold(cold_db, qtexts[0], a.cold_runs)
    report["load_after"] = os.getloadavg()
    print(json.dumps(report, indent=1))
    if a.json:
        Path(a.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
