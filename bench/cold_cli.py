"""Cold ``akindb search`` on a 10k-chunk collection against its floor (issue 14).

Every timing is a fresh process from spawn to exit, wall clock and CPU (user + system of the
child, all its threads: on a loaded machine the CPU time says what a quiet wall time would):

* ``cli``: ``python -m akindb.cli.main search QUERY --db DB --collection c --mode vector``,
  once per source tree given with ``--src LABEL=DIR`` (default: this tree), so a before and an
  after run interleaved in the same load window;
* ``floor``: only what a search needs, nothing of akindb: import onnxruntime, tokenizers,
  faiss and numpy, build the session from the same cached ONNX graph the collection uses,
  tokenize and embed the query once, read a faiss HNSW graph of the same 10k vectors
  (M=16, memory-mapped) and search it once. Paths are resolved here, passed as arguments;
* ``floor_s6``: the floor as sessions 4-6 ran it (it imported ``akindb.models.sources`` to
  find the files, so it paid ``import akindb``; it took the last cached graph by name and
  left the faiss search out), kept so the earlier ratios can be compared.

Round 1 (the first runs after the collection and the graph were made, .pyc files written)
is reported apart from the rest. Child processes run without PYTHONDONTWRITEBYTECODE, as an
installed package (which has its .pyc files) does. ``--imports`` adds one ``-X importtime``
run per tree and for the floor, summed by package (least of 5 runs).

    python bench/cold_cli.py --runs 7 --src before=/tmp/old/src --src after=src --imports
"""

from __future__ import annotations

import argparse
import collections
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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

FLOOR = """\
import sys
import faiss, numpy as np, onnxruntime as ort, tokenizers
graph, tok, index, query = sys.argv[1:5]
o = ort.SessionOptions(); o.log_severity_level = 3
s = ort.InferenceSession(graph, o, providers=["CPUExecutionProvider"])
t = tokenizers.Tokenizer.from_file(tok)
e = t.encode(query)
v = s.run(None, {"input_ids": np.array([e.ids], dtype=np.int64),
                 "attention_mask": np.array([e.attention_mask], dtype=np.int64)})[0]
v = v.reshape(1, -1).astype(np.float32)
f = faiss.read_index(index, faiss.IO_FLAG_MMAP_IFC)
f.hnsw.efSearch = 48
d, i = f.search(v / np.linalg.norm(v), 5)
assert i[0][0] >= 0
"""

FLOOR_S6 = (
    "import onnxruntime as ort, tokenizers, faiss, numpy as np, sys\n"
    "from akindb.models.sources import from_package, resolve_cache_dir\n"
    "import glob\n"
    "g = sorted(glob.glob(str(resolve_cache_dir() / 'models' / '*' / 'model.onnx')))[-1]\n"
    "o = ort.SessionOptions(); o.log_severity_level = 3\n"
    "s = ort.InferenceSession(g, o, providers=['CPUExecutionProvider'])\n"
    "t = tokenizers.Tokenizer.from_file(str(from_package().tokenizer_path))\n"
    "e = t.encode(sys.argv[1])\n"
    "v = s.run(None, {'input_ids': np.array([e.ids]), "
    "'attention_mask': np.array([e.attention_mask])})[0]\n"
)


def make(where: Path, n: int = 10000) -> tuple[str, str, str]:
    """The 10k collection (bench/latency.py's), and the floor's files: the collection's cached
    ONNX graph, the tokenizer, a faiss graph of the same vectors."""
    import faiss
    import numpy as np
    from ann_data import load_vectors
    from latency import _make, _texts

    import akindb
    from akindb.models.sources import from_package

    base, _ = load_vectors(19480, embed=False)
    btexts, _ = _texts(19480)
    _make(where, base[:n], btexts[:n])
    index = where.parent / f"{where.name}.floor.faiss"
    if not index.exists():
        f = faiss.IndexHNSWFlat(base.shape[1], 16, faiss.METRIC_INNER_PRODUCT)
        f.hnsw.efConstruction = 100
        f.add(np.ascontiguousarray(base[:n], dtype=np.float32))
        faiss.write_index(f, str(index) + ".tmp")
        os.replace(str(index) + ".tmp", index)
    with akindb.open(where) as db:
        graph = str(db.get_collection("c").parts.embedder.onnx_path)
    return graph, str(from_package().tokenizer_path), str(index)


def _env(src: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if src is not None:
        env["PYTHONPATH"] = src
    return env


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + system of the child and its threads)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    took = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise RuntimeError(f"{cmd[:4]} failed: {p.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return took, cpu


def runs(where: Path, query: str, rounds: int, srcs: dict[str, str],
         files: tuple[str, str, str]) -> dict[str, Any]:
    """``rounds`` interleaved rounds: every tree's CLI, then the two floors."""
    cli = [sys.executable, "-m", "akindb.cli.main", "search", query, "--db", str(where),
           "--collection", "c", "--mode", "vector"]
    here = str(HERE.parent / "src")
    cmds = {f"cli_{label}": (cli, _env(src)) for label, src in srcs.items()}
    cmds["floor"] = ([sys.executable, "-c", FLOOR, *files, query], _env(here))
    cmds["floor_s6"] = ([sys.executable, "-c", FLOOR_S6, query], _env(here))
    wall: dict[str, list[float]] = {name: [] for name in cmds}
    cpu: dict[str, list[float]] = {name: [] for name in cmds}
    for r in range(rounds):
        for name, (cmd, env) in cmds.items():
            w, c = _timed(cmd, env)
            wall[name].append(w)
            cpu[name].append(c)
        print(f"round {r + 1}/{rounds} wall (cpu): " + "  ".join(
            f"{k} {wall[k][-1]:.3f} ({cpu[k][-1]:.3f})" for k in cmds), file=sys.stderr)
    return {"wall": _summary(wall), "cpu": _summary(cpu)}


def _summary(times: dict[str, list[float]]) -> dict[str, Any]:
    """Round 1 apart; for the rest each command's median/min/max, and each CLI's ratio to
    each floor (of the medians, and the median of the ratios paired by round)."""
    out: dict[str, Any] = {"first": {k: round(v[0], 4) for k, v in times.items()},
                           "rest": {k: [round(x, 4) for x in v[1:]] for k, v in times.items()}}
    med = {k: statistics.median(v[1:]) for k, v in times.items()}
    out["median"] = {k: round(v, 4) for k, v in med.items()}
    ratios: dict[str, Any] = {}
    for name in times:
        if not name.startswith("cli_"):
            continue
        for floor in ("floor", "floor_s6"):
            paired = [c / f for c, f in zip(times[name][1:], times[floor][1:], strict=True)]
            ratios[f"{name}/{floor}"] = {
                "of_medians": round(med[name] / med[floor], 3),
                "paired_median": round(statistics.median(paired), 3),
                "paired": [round(x, 3) for x in sorted(paired)]}
    out["ratios"] = ratios
    return out


def _group(module: str) -> str:
    top = module.split(".")[0]
    if top == "akindb":
        return "akindb.cli" if module.startswith("akindb.cli") else "akindb (library)"
    if top in ("pydantic", "pydantic_core", "annotated_types", "typing_inspection"):
        return "pydantic (+ pydantic_core, annotated_types)"
    known = ("numpy", "onnxruntime", "faiss", "tokenizers", "typer", "rich", "sqlite3")
    return top if top in known else "other (stdlib, ...)"


def _importtime(cmd: list[str], env: dict[str, str]) -> collections.Counter[str]:
    p = subprocess.run([cmd[0], "-X", "importtime", *cmd[1:]], env=env, capture_output=True,
                       text=True)
    total: collections.Counter[str] = collections.Counter()
    for line in p.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, _cum, name = line[len("import time:"):].split("|")
        total[_group(name.strip())] += int(own) / 1000
        total["= all imports, ms"] += int(own) / 1000
        total["= modules imported"] += 1
    return total


def imports(cmd: list[str], env: dict[str, str], repeat: int = 5) -> dict[str, float]:
    """``-X importtime`` runs: per package group the least self ms of ``repeat`` runs (the
    run least disturbed by other processes), and the least sum."""
    seen = [_importtime(cmd, env) for _ in range(repeat)]
    keys = {k for t in seen for k in t}
    least = {k: round(min(t.get(k, 0.0) for t in seen), 1) for k in keys}
    return dict(sorted(least.items(), key=lambda kv: -kv[1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default=str(Path(tempfile.gettempdir()) / "akindb_latency_cold10k"))
    ap.add_argument("--runs", type=int, default=6, help="rounds; the first is reported apart")
    ap.add_argument("--src", action="append", default=[], help="LABEL=DIR of a source tree")
    ap.add_argument("--imports", action="store_true")
    ap.add_argument("--json")
    a = ap.parse_args()
    where = Path(a.db)
    files = make(where)
    srcs = dict(s.split("=", 1) for s in a.src) or {"this": str(HERE.parent / "src")}
    srcs = {k: str(Path(v).resolve()) for k, v in srcs.items()}
    query = "At the end of the war many Biharis took shelter"  # held-out query 0
    report: dict[str, Any] = {"load_before": os.getloadavg(), "query": query, "db": str(where),
                              "srcs": srcs, "python": sys.version.split()[0]}
    report.update(runs(where, query, a.runs, srcs, files))
    if a.imports:
        cli = [sys.executable, "-m", "akindb.cli.main", "search", query, "--db", str(where),
               "--collection", "c", "--mode", "vector"]
        report["imports"] = {f"cli_{k}": imports(cli, _env(v)) for k, v in srcs.items()}
        report["imports"]["floor"] = imports([sys.executable, "-c", FLOOR, *files, query],
                                             _env(str(HERE.parent / "src")))
    report["load_after"] = os.getloadavg()
    print(json.dumps(report, indent=1))
    if a.json:
        Path(a.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
