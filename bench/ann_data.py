"""Real MiniLM vectors for the ANN benchmark, embedded once and cached outside the repo.

Texts (all from ``../shared/data``, de-duplicated, 6 to 80 words):

* sentences of the Wikipedia sample ``corpus/enwiki2015_AD00-19_sample.txt.gz``
  (split on ``. `` / ``? `` / ``! ``),
* sentences of the NFCorpus abstracts ``ir/nfcorpus/corpus.jsonl.gz`` (title and text),
* the sentences of STS-B train/dev and SICK train+trial.

Each sentence is cut to its first ``MAX_WORDS`` (10) words before de-duplication: embedding
cost grows with tokens, and on the shared 2-core machine full sentences ran at ~25/s (100k would
have taken over an hour); 10-word passages are still real text embedded by the real model.
They are shuffled with a fixed seed; the first 1,000 become the held-out queries, the next
``n`` the base. Vectors come from ``akindb.models.registry.load_embedder()`` (all-MiniLM-L6-v2,
unit-normalised, 384-d) and are cached as ``.npy`` under ``$AKINDB_BENCH_CACHE`` or
``~/.cache/akindb-bench``.

    python bench/ann_data.py --n 120000      # embeds and caches (about 10-20 min on 2 cores)
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
CACHE = Path(os.environ.get("AKINDB_BENCH_CACHE", Path.home() / ".cache" / "akindb-bench"))
N_QUERIES = 1000
SEED = 20240601
MAX_WORDS = 10
_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(])")


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SPLIT.split(text) if 6 <= len(s.split()) <= 80]


def load_texts(data: Path = DATA) -> list[str]:
    seen: dict[str, None] = {}
    wiki = data / "corpus" / "enwiki2015_AD00-19_sample.txt.gz"
    with gzip.open(wiki, "rt", encoding="utf-8") as f:
        for line in f:
            for s in _sentences(line):
                seen.setdefault(s, None)
    with gzip.open(data / "ir" / "nfcorpus" / "corpus.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            doc = json.loads(line)
            for s in _sentences(doc["title"] + ". " + doc["text"]):
                seen.setdefault(s, None)
    for name in ("sts-train.csv", "sts-dev.csv"):
        for line in (data / "sts" / "stsbenchmark" / name).read_text(encoding="utf-8").splitlines():
            fields = line.split("\t")
            if len(fields) > 6:
                for s in fields[5:7]:
                    if len(s.split()) >= 6:
                        seen.setdefault(s.strip(), None)
    sick = (data / "sts" / "sick" / "SICK_train_trial.txt").read_text(encoding="utf-8")
    for line in sick.splitlines()[1:]:
        for s in line.split("\t")[1:3]:
            if len(s.split()) >= 6:
                seen.setdefault(s.strip(), None)
    cut: dict[str, None] = {}
    for t in seen:
        cut.setdefault(" ".join(t.split()[:MAX_WORDS]), None)
    texts = list(cut)
    rng = np.random.default_rng(SEED)
    order = rng.permutation(len(texts))
    return [texts[i] for i in order]


def cache_path(n: int) -> Path:
    return CACHE / f"minilm_w{MAX_WORDS}_{n}_q{N_QUERIES}.npz"


def load_shards(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Whatever consecutive shards an interrupted/running embed finished: (base, queries)."""
    parts = []
    for lo in range(0, n + N_QUERIES, 4096):
        shard = CACHE / f"shards_w{MAX_WORDS}" / f"{lo:07d}_4096.npy"
        if not shard.exists():
            break
        parts.append(np.load(shard))
    if not parts:
        raise FileNotFoundError("no embedded shards yet: run python bench/ann_data.py")
    allv = np.concatenate(parts)[: n + N_QUERIES]
    return allv[N_QUERIES:], allv[:N_QUERIES]


def load_vectors(n: int, *, embed: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(base[n, 384], queries[1000, 384]) float32, unit-normalised; embeds on a cache miss."""
    path = cache_path(n)
    if path.exists():
        z = np.load(path)
        return z["base"], z["queries"]
    if not embed:
        raise FileNotFoundError(f"{path} missing: run python bench/ann_data.py --n {n}")
    texts = load_texts()
    if len(texts) < n + N_QUERIES:
        raise SystemExit(f"only {len(texts)} distinct sentences; ask for --n {len(texts) - 1000}")
    texts = texts[: n + N_QUERIES]
    from akindb.models.registry import load_embedder

    emb = load_embedder()
    out = np.empty((len(texts), emb.dim), dtype=np.float32)
    shards = CACHE / f"shards_w{MAX_WORDS}"
    shards.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    step, fresh = 4096, 0
    for lo in range(0, len(texts), step):
        # Shards are keyed by position in the seeded order, so an interrupted run resumes.
        shard = shards / f"{lo:07d}_{step}.npy"
        if shard.exists():
            out[lo : lo + step] = np.load(shard)
            continue
        out[lo : lo + step] = emb.embed(texts[lo : lo + step])
        np.save(shard, out[lo : lo + step])
        fresh += min(step, len(texts) - lo)
        rate = fresh / (time.perf_counter() - t0)
        print(f"embedded {lo + step}/{len(texts)} ({rate:.0f}/s)", file=sys.stderr, flush=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, queries=out[:N_QUERIES], base=out[N_QUERIES:])
    tmp.replace(path)
    return out[N_QUERIES:], out[:N_QUERIES]


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=120_000)
    ap.add_argument("--count-only", action="store_true")
    a = ap.parse_args()
    if a.count_only:
        t = load_texts()
        print(len(t), "distinct sentences; mean words", np.mean([len(x.split()) for x in t]))
    else:
        b, q = load_vectors(a.n)
        print(b.shape, q.shape, cache_path(a.n))
