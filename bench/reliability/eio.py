"""EIO on write: real I/O errors injected into a real akindb process with strace.

A worker process runs random writes (add, upsert, delete, compact, flush) on a flat, hnsw, lsh
or quantized collection (vectors and text) under ``strace -e inject=SYSCALL:error=EIO:when=..``:
from the N-th ``pwrite64`` (SQLite's database, WAL and shared-memory writes), ``fdatasync`` /
``fsync`` (commits, index saves) or ``write`` (index and record files written by Python) on,
each call fails with EIO, either for good (``N+``) or for a window of calls (``N..M``), after
which the disk "recovers". The worker reports every operation on a channel strace does not
touch (``writev``): ``BEGIN``, then ``ACK``, or ``FAIL`` with the error's class and message
followed by ``SEEN``: what the same process reads back for the ids it touched.

Checks, per trial: every failure reaches the caller as an ``akindb.StorageError`` whose message
says what happened and what to do (never a raw ``sqlite3`` error or a traceback); after the
worker exits the database opens without faults, ``PRAGMA integrity_check`` is ok, every
acknowledged write is there, a failed write is there whole or not at all (what the failing
process read back after it, except that the last failed commit may be found whole by the next
start's WAL recovery when its fsync failed and no later write succeeded), and the index holds
exactly SQLite's chunks.

    python bench/reliability/eio.py --trials 200          # the campaign part
    python bench/reliability/eio.py --trials 6 --seed 1   # the short mode (tests)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import KINDS, ROOT, Expected, check_database, doc_text, doc_vector, finish

import akindb

# (syscalls, range of the first failing call): calls per operation differ by an order of
# magnitude between SQLite's page writes and the syncs of a commit.
FAULTS: tuple[tuple[str, int], ...] = (
    ("pwrite64", 400), ("fdatasync,fsync", 40), ("write", 6),
)
OPS = ("add_vec", "add_text", "upsert", "delete", "compact", "flush")
WEIGHTS = (5, 3, 4, 3, 1, 2)


def strace_available() -> bool:
    """strace can trace a child here (installed, and ptrace is allowed)."""
    if shutil.which("strace") is None:
        return False
    r = subprocess.run(["strace", "-f", "-qq", "-o", os.devnull, "true"],
                       capture_output=True, check=False)
    return r.returncode == 0


# ---- the worker (runs under strace) -------------------------------------------------------


def _say(tag: str, obj: Any) -> None:
    # writev: strace injects into write/pwrite64/fsync only, so the channel always works.
    os.writev(1, [f"{tag} {json.dumps(obj)}\n".encode()])


class _ChannelHandler(logging.Handler):
    """akindb's warnings (e.g. "could not save index") on the writev channel: under an
    injected ``write`` fault, logging's own stderr write would fail and print a traceback
    that is logging's, not akindb's."""

    def emit(self, record: logging.LogRecord) -> None:
        _say("LOG", {"level": record.levelname, "message": record.getMessage()})


def worker(path: Path, kind: str, seed: int, n_ops: int) -> None:
    rng = random.Random(seed)
    logging.basicConfig(level=logging.WARNING, handlers=[_ChannelHandler()])
    try:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from crash import _open_cols

        _db, vcol, tcol = _open_cols(path, kind)
        state = {c.name: {r.id: int(r.metadata["v"]) for r in c.get()} for c in (vcol, tcol)}
    except akindb.AkinError as exc:
        _say("OPENFAIL", {"error": type(exc).__name__, "message": str(exc)})
        return
    except BaseException:
        _say("CRASH", {"traceback": traceback.format_exc()})
        os._exit(3)
    counter = seed * 1000
    for _ in range(n_ops):
        name = rng.choices(OPS, WEIGHTS)[0]
        col = tcol if name == "add_text" or (name != "add_vec" and rng.random() < 0.4) else vcol
        text = col is tcol
        docs = state[col.name]
        op: dict[str, Any] = {"op": name, "col": col.name}
        try:
            if name.startswith("add"):
                ids = [f"e{counter + j}" for j in range(rng.randint(1, 8))]
                counter += len(ids)
                op["set"] = dict.fromkeys(ids, 1)
                _say("BEGIN", op)
                metas = [{"v": 1, "grp": rng.randrange(8)} for _ in ids]
                if text:
                    col.add([doc_text(i, 1) for i in ids], ids=ids, metadatas=metas)
                else:
                    col.add([doc_text(i, 1, 5) for i in ids], ids=ids, metadatas=metas,
                            vectors=[doc_vector(i, 1) for i in ids])
            elif name == "upsert" and docs:
                ids = rng.sample(sorted(docs), min(len(docs), rng.randint(1, 5)))
                op["set"] = {i: docs[i] + 1 for i in ids}
                _say("BEGIN", op)
                metas = [{"v": docs[i] + 1, "grp": rng.randrange(8)} for i in ids]
                if text:
                    col.upsert([doc_text(i, docs[i] + 1) for i in ids], ids=ids,
                               metadatas=metas)
                else:
                    col.upsert([doc_text(i, docs[i] + 1, 5) for i in ids], ids=ids,
                               metadatas=metas,
                               vectors=[doc_vector(i, docs[i] + 1) for i in ids])
            elif name == "delete" and docs:
                ids = rng.sample(sorted(docs), min(len(docs), rng.randint(1, 4)))
                op["del"] = ids
                _say("BEGIN", op)
                col.delete(ids)
            elif name in ("compact", "flush"):
                _say("BEGIN", op)
                col.compact() if name == "compact" else col.flush()
            else:
                continue
        except akindb.AkinError as exc:
            _say("FAIL", {"op": op, "error": type(exc).__name__, "message": str(exc),
                          "storage": isinstance(exc, akindb.errors.StorageError)})
            touched = list(op.get("set", {})) + list(op.get("del", []))
            try:
                seen = {r.id: int(r.metadata["v"]) for r in col.get(ids=touched)} if touched \
                    else {}
            except akindb.AkinError as exc2:  # a read after a failed write may fail too
                _say("SEENFAIL", {"error": type(exc2).__name__, "message": str(exc2)})
                return
            for i in touched:
                if i in seen:
                    docs[i] = seen[i]
                else:
                    docs.pop(i, None)
            _say("SEEN", {"col": col.name, "set": seen,
                          "del": [i for i in touched if i not in seen]})
            continue
        except BaseException:
            _say("CRASH", {"op": op, "traceback": traceback.format_exc()})
            os._exit(3)
        for i, v in op.get("set", {}).items():
            docs[i] = v
        for i in op.get("del", []):
            docs.pop(i, None)
        _say("ACK", op)
    try:
        _db.close()
    except akindb.AkinError as exc:
        _say("CLOSEFAIL", {"error": type(exc).__name__, "message": str(exc)})
    except BaseException:
        _say("CRASH", {"op": "close", "traceback": traceback.format_exc()})
        os._exit(3)
    _say("DONE", {})


# ---- the checker --------------------------------------------------------------------------

CLEAR_WORDS = ("retry", "restore", "check", "free", "back up", "backup")


def unclear(message: str) -> str | None:
    """Why an error message does not meet the bar (None when it does): it must not be a raw
    SQLite message and must say what to do."""
    low = message.lower()
    if low.startswith("database error on") or "sqlite3" in low:
        return "raw SQLite error"
    if not any(w in low for w in CLEAR_WORDS):
        return "does not say what to do"
    return None


def trial(path: Path, kind: str, rng: random.Random, exp: Expected,
          n_ops: int = 25) -> dict[str, Any]:
    calls, span = rng.choice(FAULTS)
    first = rng.randint(1, span)
    when = f"{first}+" if rng.random() < 0.5 else f"{first}..{first + rng.randint(0, span // 4)}"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    cmd = ["strace", "-f", "-qq", "-o", os.devnull, "-e", f"trace={calls}",
           "-e", f"inject={calls}:error=EIO:when={when}",
           sys.executable, __file__, "--worker", str(path), kind, str(rng.randrange(10**6)),
           str(n_ops)]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    out: dict[str, Any] = {"kind": kind, "inject": f"{calls}:when={when}", "rc": r.returncode,
                           "acks": 0, "fails": 0, "problems": []}
    problems: list[str] = out["problems"]
    # Failed writes since the last acknowledged one: SQLite may have written a failed
    # commit's frames whole before its fsync failed, and the next start's recovery then finds
    # it (a later successful commit overwrites them). So at most one of these may show up at
    # the next start, whole, like a write in flight at a kill.
    uncertain: list[dict[str, Any]] = []
    for line in r.stdout.splitlines():
        tag, _, rest = line.partition(" ")
        obj = json.loads(rest) if rest else {}
        if tag in ("BEGIN", "ACK"):
            exp.feed(line)
            out["acks"] += tag == "ACK"
            if tag == "ACK" and obj["op"] not in ("flush",):
                uncertain.clear()
        elif tag == "FAIL":
            uncertain.append(obj["op"])
            out["fails"] += 1
            out.setdefault("errors", Counter())[obj["error"]] += 1
            why = unclear(obj["message"])
            if not obj["storage"] or why:
                problems.append(f"{obj['error']} ({why or 'not a StorageError'}): "
                                f"{obj['message'][:300]}")
        elif tag == "SEEN":  # what the failing process read back
            exp.apply(obj)
            exp.pending = None
        elif tag in ("OPENFAIL", "SEENFAIL", "CLOSEFAIL"):
            out["fails"] += 1
            why = unclear(obj["message"])
            if why:
                problems.append(f"{tag} {obj['error']} ({why}): {obj['message'][:300]}")
        elif tag == "CRASH":
            problems.append(f"raised {obj['traceback'][-1500:]}")
    if r.returncode not in (0,) and not any(p.startswith("raised") for p in problems):
        problems.append(f"worker exited {r.returncode}: {r.stderr[-1500:]}")
    if "Traceback" in r.stderr:
        problems.append(f"traceback on stderr: {r.stderr[-1500:]}")
    check_seed = rng.randrange(1000)
    found = check_database(path, exp, seed=check_seed)
    in_flight = exp.pending
    for op in reversed(uncertain if found and in_flight is None else []):
        exp.pending = op
        if not check_database(path, exp, seed=check_seed):
            found = []
            out["failed_write_found_whole_at_restart"] = op["op"]
            break
    exp.pending = in_flight
    problems += found
    return out


def resync(path: Path, exp: Expected) -> None:
    from common import resync as _resync

    _resync(path, exp)


def campaign(trials: int, seed: int, work: Path, log: Any = None,
             n_ops: int = 25) -> dict[str, Any]:
    rng = random.Random(seed)
    exps = {k: Expected() for k in KINDS}
    stats: Counter[str] = Counter()
    injected: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    failures: list[str] = []
    t0 = time.perf_counter()
    for i in range(trials):
        kind = KINDS[i % len(KINDS)]
        path = work / kind
        res = trial(path, kind, rng, exps[kind], n_ops)
        stats["trials"] += 1
        stats["acknowledged_ops"] += res["acks"]
        stats["failed_ops"] += res["fails"]
        stats["trials_with_a_failure"] += res["fails"] > 0
        stats["failed_write_found_at_restart"] += "failed_write_found_whole_at_restart" in res
        injected[res["inject"].split(":")[0]] += 1
        errors.update(res.get("errors", {}))
        if res["problems"]:
            failures.append(f"trial {i} ({kind}, {res['inject']}): {res['problems'][:3]}")
            if log is not None:
                print(f"  eio: {failures[-1][:2000]}", file=log, flush=True)
        if (path / "akindb.sqlite").exists():
            resync(path, exps[kind])
        if log is not None and (i + 1) % 10 == 0:
            print(f"  eio: {i + 1}/{trials} trials, {stats['failed_ops']} failed ops, "
                  f"{len(failures)} problems, {time.perf_counter() - t0:.0f} s",
                  file=log, flush=True)
    return {**stats, "injected_into": dict(injected), "errors": dict(errors),
            "failures": failures, "seconds": round(time.perf_counter() - t0, 1)}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ops", type=int, default=25, help="operations per worker")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    if not strace_available():
        sys.exit("strace is missing or cannot trace here (apt-get install strace)")
    with tempfile.TemporaryDirectory(prefix="akindb-eio-") as tmp:
        res = campaign(a.trials, a.seed, Path(tmp), log=sys.stderr, n_ops=a.ops)
    finish(res, a.json, "failures")


if __name__ == "__main__":
    main()
