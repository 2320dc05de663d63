"""End-to-end ingest benchmark: index a real folder (default: the Python 3.11 docs sources from
../shared/data/pydocs) through the public API and report chunks/s, tokens/s, peak RSS, RSS
growth over the run (ONNX Runtime shape-cache watch), model load time, and query latency.

    python bench/ingest.py [--folder DIR] [--subdir library] [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import tarfile
import tempfile
import threading
import time
from pathlib import Path

import psutil

import akindb
from akindb.models.registry import load_embedder

REPO = Path(__file__).resolve().parents[1]
TAR = REPO.parent / "shared" / "data" / "pydocs" / "python-3.11.2-docs-rst-sources.tar.gz"


class RssSampler(threading.Thread):
    """Samples this process's RSS every ``period`` seconds."""

    def __init__(self, period: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.period = period
        self.samples: list[tuple[float, int]] = []
        self._halt = threading.Event()
        self._proc = psutil.Process()

    def run(self) -> None:
        t0 = time.perf_counter()
        while not self._halt.is_set():
            self.samples.append((time.perf_counter() - t0, self._proc.memory_info().rss))
            self._halt.wait(self.period)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--folder", type=Path, default=None, help="folder to index")
    ap.add_argument("--subdir", default="", help="only this subfolder of the pydocs tree")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="akindb-bench-") as tmp:
        folder = args.folder
        if folder is None:
            with tarfile.open(TAR) as tar:
                tar.extractall(tmp, filter="data")
            folder = Path(tmp) / "python-3.11-docs" / args.subdir
        sampler = RssSampler()
        sampler.start()
        t0 = time.perf_counter()
        emb = load_embedder()
        load_s = time.perf_counter() - t0
        db = akindb.open(Path(tmp) / "db")
        col = db.create_collection("bench", model=emb)
        report = col.add_files([folder])
        tokens = sum(
            emb.count_tokens([c.text for r in col.get() for c in r.chunks])
        )
        queries = [
            "how do I read a file line by line",
            "sort a list of dictionaries by a key",
            "what is the difference between a list and a tuple",
            "run a subprocess and capture its output",
            "format a date as a string",
        ] * 10
        col.search(queries[0], k=10)
        t1 = time.perf_counter()
        for q in queries:
            col.search(q, k=10)
        query_ms = (time.perf_counter() - t1) / len(queries) * 1000
        db.close()
        sampler.stop()
    rss = [r for _, r in sampler.samples]
    quarter = max(1, len(rss) // 4)
    result = {
        "folder": str(args.folder or f"pydocs/{args.subdir}"),
        "files": report.files,
        "chunks": report.chunks,
        "tokens": tokens,
        "skipped": dict(report.skipped),
        "ingest_seconds": round(report.seconds, 1),
        "chunks_per_second": round(report.chunks / report.seconds, 1),
        "tokens_per_second": round(tokens / report.seconds),
        "model_load_seconds": round(load_s, 2),
        "query_ms_mean_k10": round(query_ms, 1),
        "peak_rss_mb": round(max(rss) / 1e6),
        "rss_first_quarter_max_mb": round(max(rss[:quarter]) / 1e6),
        "rss_last_quarter_max_mb": round(max(rss[-quarter:]) / 1e6),
        "machine": f"{platform.machine()}, {psutil.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, no GPU",
    }
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:>26}: {v}")


if __name__ == "__main__":
    main()
