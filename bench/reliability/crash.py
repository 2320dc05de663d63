"""Crash campaign: SIGKILL a writer at random moments, and copy its directory while it is
stopped between two system calls (simulated power loss); after each, check everything.

A worker process (``--worker``) runs random operations forever on one database per index kind
(flat, hnsw, lsh, quantized), each with a vectors-only and a text collection: add (vectors and
text), upsert, delete by id, delete by filter, compact, flush (index save), tune, and searches
(which catch the index up from the log). Before each operation it prints ``BEGIN {op}``, after
it returns ``ACK {op}``. The checker kills it after a random delay, then opens the database and
checks: it opens, ``PRAGMA integrity_check`` is ok, every acknowledged write is there (and the
one in flight is all there or not at all), each document's text/vector is its version's, the
index holds exactly SQLite's chunks and exact search agrees with numpy over SQLite's vectors.

Power loss: every ``--copy-every``-th round the worker is SIGSTOPped at a random moment, the
directory is copied (the state of the files between two system calls), and it is continued; the
copy is checked against the acknowledgements seen before the stop. Half the copies also get
their index file truncated or bit-flipped (an index file is never trusted: it must be rejected
and rebuilt). Not covered: a filesystem that reorders or drops writes after ``fsync`` returned
(no fault-injecting filesystem layer is available here); SQLite's own test suite covers that.

    python bench/reliability/crash.py --kills 1000            # the full campaign
    python bench/reliability/crash.py --kills 12 --seed 1     # the short mode (tests)
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    KINDS,
    ROOT,
    VDIM,
    Expected,
    HashEmbedder,
    check_database,
    doc_text,
    doc_vector,
    finish,
    resync,
)

import akindb
from akindb.text.chunking import ChunkingParams

OPS = ("add_vec", "add_text", "upsert_vec", "upsert_text", "delete", "delete_where",
       "compact", "flush", "tune", "search")
WEIGHTS = (6, 4, 4, 3, 3, 1, 1, 2, 1, 4)


# ---- the worker ---------------------------------------------------------------------------


def _open_cols(path: Path, kind: str) -> tuple[Any, Any, Any]:
    db = akindb.open(path)
    params = None
    v = db.get_or_create_collection(f"v_{kind}", model=None, dim=VDIM, index=kind,
                                    index_params=params)
    t = db.get_or_create_collection(
        f"t_{kind}", model=HashEmbedder(), index=kind, index_params=params,
        chunking=ChunkingParams(max_tokens=24, overlap_tokens=0),
    )
    if t.parts.model is None:
        t.use_model(HashEmbedder())
    return db, v, t


def worker(path: Path, kind: str, seed: int) -> None:
    rng = random.Random(seed)
    _db, vcol, tcol = _open_cols(path, kind)
    state = {c.name: {r.id: int(r.metadata["v"]) for r in c.get()} for c in (vcol, tcol)}
    counter = rng.randrange(10**9)
    print("READY", flush=True)

    def say(tag: str, op: dict[str, Any]) -> None:
        print(f"{tag} {json.dumps(op)}", flush=True)

    while True:
        name = rng.choices(OPS, WEIGHTS)[0]
        text = "text" in name or (name not in ("add_vec", "upsert_vec") and rng.random() < 0.4)
        col = tcol if text else vcol
        docs = state[col.name]
        op: dict[str, Any] = {"op": name, "col": col.name}
        if name.startswith("add"):
            n = rng.randint(1, 12)
            ids = []
            for _ in range(n):
                counter += 1
                ids.append(f"d{counter}")
            op["set"] = {i: 1 for i in ids}
            say("BEGIN", op)
            metas = [{"v": 1, "grp": rng.randrange(8)} for _ in ids]
            if text:
                col.add([doc_text(i, 1) for i in ids], ids=ids, metadatas=metas)
            else:
                col.add([doc_text(i, 1, 5) for i in ids], ids=ids, metadatas=metas,
                        vectors=[doc_vector(i, 1) for i in ids])
        elif name.startswith("upsert") and docs:
            ids = rng.sample(sorted(docs), min(len(docs), rng.randint(1, 6)))
            op["set"] = {i: docs[i] + 1 for i in ids}
            say("BEGIN", op)
            metas = [{"v": docs[i] + 1, "grp": rng.randrange(8)} for i in ids]
            if text:
                col.upsert([doc_text(i, docs[i] + 1) for i in ids], ids=ids, metadatas=metas)
            else:
                col.upsert([doc_text(i, docs[i] + 1, 5) for i in ids], ids=ids, metadatas=metas,
                           vectors=[doc_vector(i, docs[i] + 1) for i in ids])
        elif name == "delete" and docs:
            ids = rng.sample(sorted(docs), min(len(docs), rng.randint(1, 5)))
            op["del"] = ids
            say("BEGIN", op)
            col.delete(ids)
        elif name == "delete_where" and docs:
            g = rng.randrange(8)
            ids = [r.id for r in col.get(where={"grp": g})]
            op["del"] = ids
            say("BEGIN", op)
            col.delete(where={"grp": g})
        elif name in ("compact", "flush", "tune", "search"):
            say("BEGIN", op)
            if name == "compact":
                col.compact()
            elif name == "flush":
                col.flush()
            elif name == "tune" and kind != "flat" and col.count() > 20:
                col.tune(0.8, n_queries=10)
            elif name == "search" and docs:
                if text:
                    col.search("river meadow", k=5)
                else:
                    col.search_vector(doc_vector("q", rng.randrange(100)), k=5,
                                      where={"grp": rng.randrange(8)} if rng.random() < 0.5
                                      else None)
        else:
            continue
        for i, v in op.get("set", {}).items():
            docs[i] = v
        for i in op.get("del", []):
            docs.pop(i, None)
        say("ACK", op)


# ---- the checker --------------------------------------------------------------------------


class Worker:
    """A running worker and the lines it has printed (read by a thread, in order)."""

    def __init__(self, path: Path, kind: str, seed: int) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--worker", str(path), kind, str(seed)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        self.lines: list[str] = []
        self.ready = threading.Event()
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            if line == "READY":
                self.ready.set()
            else:
                self.lines.append(line)

    def drained(self) -> list[str]:
        """Every line the (stopped) worker printed: wait until the pipe is empty and the
        reader thread has taken all it read (lines still in the pipe are acknowledgements
        the copy already contains)."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        last = -1
        while True:
            time.sleep(0.05)
            waiting = struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]
            if waiting == 0 and len(self.lines) == last:
                return list(self.lines)
            last = len(self.lines)

    def kill(self) -> str:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self._t.join(timeout=10)
        assert self.proc.stderr is not None and self.proc.stdout is not None
        err = self.proc.stderr.read()
        self.proc.stderr.close()
        self.proc.stdout.close()
        return err


def damage_index(copy: Path, rng: random.Random) -> str:
    files = sorted((copy / "indexes").glob("*")) if (copy / "indexes").is_dir() else []
    files = [f for f in files if f.is_file() and f.stat().st_size > 0]
    if not files:
        return "none"
    f = rng.choice(files)
    data = bytearray(f.read_bytes())
    if rng.random() < 0.5:
        cut = rng.randrange(len(data))
        f.write_bytes(bytes(data[:cut]))
        return "truncated"
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(data))
        data[i] ^= 1 << rng.randrange(8)
    f.write_bytes(bytes(data))
    return "bitflip"


def campaign(kills: int, seed: int, work: Path, max_delay: float = 0.6,
             copy_every: int = 4, log: Any = None) -> dict[str, Any]:
    rng = random.Random(seed)
    exps = {k: Expected() for k in KINDS}
    stats: Counter[str] = Counter()
    failures: list[str] = []
    in_flight_ops: Counter[str] = Counter()
    n_failed = 0
    t0 = time.perf_counter()
    for i in range(kills):
        kind = KINDS[i % len(KINDS)]
        path = work / kind
        exp = exps[kind]
        w = Worker(path, kind, rng.randrange(10**9))
        early = rng.random() < 0.1
        if early:  # during start-up: open, migrate, index load
            time.sleep(rng.uniform(0.0, 0.5))
        else:
            if not w.ready.wait(timeout=60):
                failures.append(f"round {i}: worker never became ready: {w.kill()[-500:]}")
                continue
            delay = rng.uniform(0.0, max_delay)
            if i % copy_every == copy_every - 1:
                time.sleep(delay * rng.random())
                w.proc.send_signal(signal.SIGSTOP)
                seen = w.drained()
                snap = work / f"copy-{i}"
                shutil.copytree(path, snap)
                w.proc.send_signal(signal.SIGCONT)
                cexp = Expected({c: dict(d) for c, d in exp.docs.items()})
                for line in seen:
                    cexp.feed(line)
                damage = damage_index(snap, rng) if rng.random() < 0.5 else "none"
                probs = check_database(snap, cexp, seed=i)
                stats["power_loss_copies"] += 1
                stats[f"index_damage_{damage}"] += 1
                if probs:
                    failures.append(f"round {i} copy ({kind}, index {damage}): {probs[:3]}")
                shutil.rmtree(snap, ignore_errors=True)
            time.sleep(delay)
        err = w.kill()
        for line in w.lines:
            exp.feed(line)
        if exp.pending is not None:
            in_flight_ops[exp.pending["op"]] += 1
        if "Traceback" in err:
            failures.append(f"round {i} ({kind}): worker raised: {err[-800:]}")
        probs = check_database(path, exp, seed=i) if (path / "akindb.sqlite").exists() else []
        if probs:
            failures.append(f"round {i} ({kind}): {probs[:3]}")
        if log is not None and len(failures) > n_failed:
            print(f"  crash: {failures[-1][:2000]}", file=log, flush=True)
            n_failed = len(failures)
        if (path / "akindb.sqlite").exists():
            resync(path, exp)
        stats["kills"] += 1
        stats["acknowledged_ops"] += sum(1 for x in w.lines if x.startswith("ACK"))
        if log is not None and (i + 1) % 10 == 0:
            print(f"  crash: {i + 1}/{kills} kills, {len(failures)} failures, "
                  f"{time.perf_counter() - t0:.0f} s", file=log, flush=True)
    docs = {k: sum(len(d) for d in e.docs.values()) for k, e in exps.items()}
    return {
        "kills": stats["kills"], "power_loss_copies": stats["power_loss_copies"],
        "index_damaged_copies": stats["index_damage_truncated"] + stats["index_damage_bitflip"],
        "acknowledged_ops": stats["acknowledged_ops"], "killed_during": dict(in_flight_ops),
        "documents_at_end": docs, "failures": failures, "lost_or_corrupt": len(failures),
        "seconds": round(time.perf_counter() - t0, 1),
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-delay", type=float, default=0.6)
    ap.add_argument("--copy-every", type=int, default=4)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="akindb-crash-") as tmp:
        res = campaign(a.kills, a.seed, Path(tmp), a.max_delay, a.copy_every, log=sys.stderr)
    finish(res, a.json, "failures")


if __name__ == "__main__":
    main()
