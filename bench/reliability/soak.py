"""Soak: writer and reader processes on one database for minutes, checking every read.

Each writer owns its ids (``w<N>-<counter>``, never reused) and loops: add a batch, upsert
some of its documents (a new version: new text, vector and metadata), delete some; writer 0
also compacts every ``--compact-every`` seconds. After each call returns it appends the
operation to its acknowledgement log (one JSON line, flushed).

Each reader loops over filtered and unfiltered vector searches, ``get`` by id and by filter.
Before a query it re-reads the writers' logs; every returned document must be whole (its
text, metadata and vector are one version) and must not be an id whose delete was
acknowledged before the query started; filtered results must match the filter. Any
``DatabaseLockedError`` reaching a caller is counted. Every process samples its RSS.

At the end the database must hold exactly what the logs say (ids and versions), and the RSS
of each process must stay within 10 % from the end of warm-up to the end. Definition: warm-up
is the first quarter of the run (150 s of the full soak); each end of the comparison is the
median of a window of readings (one a second, 60 in the full soak), because SQLite's page
cache alone swings by 1-2 MB from one read to the next. So that RSS measures leaks rather
than growth, each writer holds at most ``CAP`` documents (at the cap it upserts and deletes):
the live data reaches a steady size early in the warm-up. Each reading also splits RSS
(``memprobe``): anonymous and file-backed pages (the memory map of the database file grows
with the file), glibc's bytes in use and free-but-kept, SQLite's statements and page cache,
Python's object count, the index's slots and the row cache, and the database and WAL sizes
(the data), so a rise can be told apart: a leak grows the bytes in use, the allocator's
retention only the free ones. ``--remedies`` runs readers with other allocator settings side
by side (``REMEDIES``); the curve per kind is in the result.

    python bench/reliability/soak.py --writers 4 --readers 8 --seconds 600   # the full soak
    python bench/reliability/soak.py --writers 1 --readers 2 --seconds 6     # the short mode
    python bench/reliability/soak.py --seconds 600 --remedies none,mmap,arena,trim-compact
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, VDIM, doc_text, doc_vector
from memprobe import Sampler, StepLog, collection_sizes, malloc_trim

import akindb
from akindb import errors

CAP = 1000
"""Documents per writer at most (a steady-size database; see the module docstring)."""


HOLDS: list[tuple[str, float, float, float]] = []
"""(what, start s, wait s, hold s) of this process's write-lock holds over 1 s or waits over 5 s,
with ``AKINDB_SOAK_TIME_HOLDS=1`` in the environment (a diagnostic: is a writer's 30 s wait one
long hold or many short ones)."""

WAITS: list[float] = []
"""Every write transaction's wait to begin, seconds (with ``AKINDB_SOAK_TIME_HOLDS=1``): the
writer queue's turn plus ``BEGIN IMMEDIATE``."""


def _wait_stats() -> dict[str, float]:
    """Count, median, p99 and max of ``WAITS``."""
    if not WAITS:
        return {}
    w = np.sort(np.asarray(WAITS))
    return {"n": len(w), "p50_s": round(float(np.quantile(w, 0.5)), 4),
            "p99_s": round(float(np.quantile(w, 0.99)), 4), "max_s": round(float(w[-1]), 3)}


def _time_holds(t0: float) -> None:
    """Time every write transaction and VACUUM of this process by wrapping the two functions
    akindb reaches them through (module attributes; measurement only, behaviour unchanged)."""
    import contextlib

    from akindb.storage import catalog
    from akindb.storage import sqlite as sq

    txn, vac = sq.write_txn, catalog.vacuum

    @contextlib.contextmanager
    def write_txn(conn: Any, path: Path) -> Any:
        began = time.monotonic()
        with txn(conn, path) as c:
            got = time.monotonic()
            WAITS.append(got - began)
            yield c
        done = time.monotonic()
        if done - got > 1.0 or got - began > 5.0:
            HOLDS.append(("txn", round(began - t0, 1), round(got - began, 1), round(done - got, 1)))

    def vacuum(conn: Any) -> None:
        began = time.monotonic()
        vac(conn)
        HOLDS.append(("vacuum", round(began - t0, 1), 0.0, round(time.monotonic() - began, 1)))

    sq.write_txn = write_txn  # type: ignore[assignment]
    catalog.vacuum = vacuum  # type: ignore[assignment]


def _col(path: Path) -> tuple[Any, Any]:
    if os.environ.get("AKINDB_SOAK_TIME_HOLDS"):
        _time_holds(time.monotonic())
    db = akindb.open(path)
    col = db.get_or_create_collection("soak", model=None, dim=VDIM, index="hnsw")
    return db, col


def writer(path: Path, wid: int, seconds: float, log: Path, compact_every: float,
           remedy: str = "none") -> dict[str, Any]:
    rng = random.Random(wid)
    db, col = _col(path)
    mine: dict[str, int] = {}
    counter = 0
    locked = ops = 0
    locked_at: list[str] = []
    slow: list[tuple[float, float, str]] = []  # (start s, seconds, call) of calls over 1 s
    compactions: list[tuple[float, float]] = []  # (start s, seconds)
    sampler = Sampler(seconds, 1.0)
    steps_dir = os.environ.get("AKINDB_SOAK_STEPS")
    steps = StepLog(Path(steps_dir) / f"writer{wid}.jsonl") if steps_dir else None
    if steps is not None:
        steps.trace_sql(col)
    t0 = last_compact = time.monotonic()
    with open(log, "a", buffering=1) as out:
        while time.monotonic() - t0 < seconds:
            r = rng.random()
            began = time.monotonic()
            if steps is not None:
                steps.start()
            try:
                if (r < 0.5 or len(mine) < 10) and len(mine) < CAP:
                    ids = [f"w{wid}-{counter + j}" for j in range(rng.randint(1, 10))]
                    counter += len(ids)
                    col.add([doc_text(i, 1, 8) for i in ids], ids=ids,
                            vectors=[doc_vector(i, 1) for i in ids],
                            metadatas=[{"v": 1, "grp": rng.randrange(4)} for i in ids])
                    op = {"set": {i: 1 for i in ids}}
                elif r < 0.8:
                    ids = rng.sample(sorted(mine), rng.randint(1, 5))
                    col.upsert([doc_text(i, mine[i] + 1, 8) for i in ids], ids=ids,
                               vectors=[doc_vector(i, mine[i] + 1) for i in ids],
                               metadatas=[{"v": mine[i] + 1, "grp": rng.randrange(4)}
                                          for i in ids])
                    op = {"set": {i: mine[i] + 1 for i in ids}}
                else:
                    ids = rng.sample(sorted(mine), rng.randint(1, 4))
                    col.delete(ids)
                    op = {"del": ids}
            except errors.DatabaseLockedError as exc:
                locked += 1
                if len(locked_at) < 5:
                    locked_at.append(f"writer {wid} at {time.monotonic() - t0:.0f}s "
                                     f"(waited since {began - t0:.0f}s): {exc}")
                continue
            if (took := time.monotonic() - began) > 1.0:
                slow.append((round(began - t0, 1), round(took, 1), next(iter(op))))
            for i, v in op.get("set", {}).items():
                mine[i] = v
            for i in op.get("del", []):
                mine.pop(i, None)
            if steps is not None:
                steps.stop(began - t0, next(iter(op)), n=len(op.get("set", op.get("del", ()))),
                           ops=ops, **collection_sizes(col))
            out.write(json.dumps(op) + "\n")
            ops += 1
            if remedy == "trim":
                malloc_trim()
            now = time.monotonic()
            if wid == 0 and now - last_compact > compact_every:
                try:
                    if steps is not None:
                        steps.start()
                    col.compact()
                    if steps is not None:
                        steps.stop(now - t0, "compact")
                    compactions.append((round(now - t0, 1), round(time.monotonic() - now, 1)))
                except errors.DatabaseLockedError as exc:
                    locked += 1
                    if len(locked_at) < 5:
                        locked_at.append(f"compact at {now - t0:.0f}s: {exc}")
                last_compact = now
            if sampler.due(now):
                sampler.take(now, now - t0, col)
    db.close()
    return {"role": "writer", "id": wid, "remedy": remedy, "ops": ops, "locked": locked,
            "locked_at": locked_at,
            "slow_writes": len(slow), "slowest_writes": sorted(slow, key=lambda x: -x[1])[:5],
            "compactions": compactions, "holds": HOLDS[:50], "waits": _wait_stats(),
            "rss": sampler.rows()}


def _acked(logs: list[Path]) -> tuple[dict[str, int], set[str]]:
    live: dict[str, int] = {}
    deleted: set[str] = set()
    for f in logs:
        if not f.exists():
            continue
        for line in f.read_text().splitlines():
            try:
                op = json.loads(line)
            except ValueError:
                continue  # a line being written right now
            for i, v in op.get("set", {}).items():
                live[i] = v
            for i in op.get("del", []):
                live.pop(i, None)
                deleted.add(i)
    return live, deleted


class Acks:
    """The writers' logs read incrementally (only lines added since the last look), kept in
    memory bounded by the live documents, not by the number of writes.

    Reading every log whole before each query made the reader's memory peak grow with the
    number of writes (the first 10-minute soaks measured the harness, not akindb: readers
    +16-25 % RSS). Keeping every deleted id in a set did the same more slowly: ~50,000 ids in
    10 minutes, ~1 MB a minute per reader, the last "RSS not flat" of issue 13. Ids are never
    reused and each writer numbers its ids in order (``w<N>-<counter>``), so "deleted and
    acknowledged" is: acknowledged as added (counter below the writer's highest acknowledged,
    not in a batch whose add failed) and not live now. That needs the live ids, one counter per
    writer and the counters of failed adds (none in a good run)."""

    def __init__(self, logs: list[Path]) -> None:
        self.logs = logs
        self.offsets = [0] * len(logs)
        self.live: dict[str, int] = {}
        self.next: dict[str, int] = {}  # writer -> one past its highest acknowledged counter
        self.skipped: set[str] = set()  # ids of adds that raised (never acknowledged)

    def deleted(self, doc_id: str) -> bool:
        """Was this id acknowledged as added and then acknowledged as deleted?"""
        if doc_id in self.live or doc_id in self.skipped:
            return False
        writer, _, counter = doc_id.rpartition("-")
        return int(counter) < self.next.get(writer, 0)

    def _added(self, doc_id: str) -> None:
        writer, _, counter = doc_id.rpartition("-")
        n = int(counter)
        have = self.next.get(writer, 0)
        if n >= have:
            self.skipped.update(f"{writer}-{c}" for c in range(have, n))
            self.next[writer] = n + 1

    def update(self) -> None:
        for n, f in enumerate(self.logs):
            if not f.exists():
                continue
            with open(f, "rb") as fh:
                fh.seek(self.offsets[n])
                data = fh.read()
            end = data.rfind(b"\n") + 1  # a line being written right now waits
            self.offsets[n] += end
            for line in data[:end].splitlines():
                op = json.loads(line)
                for i, v in op.get("set", {}).items():
                    self._added(i)
                    self.live[i] = v
                for i in op.get("del", []):
                    self.live.pop(i, None)

    def size(self) -> int:
        """Entries held (the test that this stays bounded: tests/reliability)."""
        return len(self.live) + len(self.next) + len(self.skipped)


def _whole(doc_id: str, text: str, meta: dict[str, Any]) -> bool:
    return text == doc_text(doc_id, int(meta["v"]), 8)


def reader(path: Path, rid: int, seconds: float, logs: list[Path],
           trace: bool = False, remedy: str = "none") -> dict[str, Any]:
    snap: tracemalloc.Snapshot | None = None
    slots = 0
    rng = random.Random(1000 + rid)
    db, col = _col(path)
    bad: list[str] = []
    locked = reads = 0
    locked_at: list[str] = []
    sampler = Sampler(seconds, 1.0)
    t0 = time.monotonic()
    acks = Acks(logs)
    slow: list[float] = []  # reads over 1 s (seconds)
    while time.monotonic() - t0 < seconds:
        acks.update()
        live, deleted = acks.live, acks.deleted
        began = time.monotonic()
        kind = rng.random()
        g = rng.randrange(4)
        try:
            if kind < 0.6:
                where = {"grp": g} if rng.random() < 0.5 else None
                q = np.asarray(rng.choices(range(-3, 4), k=VDIM), np.float32) + 0.5
                hits = col.search_vector(q, k=10, where=where)
                for h in hits:
                    # One call returns the score (from the indexed vector) with the row's text
                    # and metadata: all three must be the same version.
                    v = doc_vector(h.id, int(h.metadata["v"]))
                    cos = float(q @ v / (np.linalg.norm(q) * np.linalg.norm(v)))
                    if abs(cos - h.score) > 1e-4:
                        bad.append(f"score of {h.id} is not from version {h.metadata['v']}")
                    if deleted(h.id):
                        bad.append(f"search returned deleted {h.id}")
                    if not _whole(h.id, h.text, h.metadata):
                        bad.append(f"search returned partial {h.id}")
                    if where is not None and h.metadata.get("grp") != g:
                        bad.append(f"filter grp={g} returned {h.metadata}")
            elif kind < 0.85 and live:
                ids = rng.sample(sorted(live), min(5, len(live)))
                for rec in col.get(ids):
                    if deleted(rec.id):
                        bad.append(f"get returned deleted {rec.id}")
                    if not _whole(rec.id, rec.text, rec.metadata):
                        bad.append(f"get returned partial {rec.id}")
            else:
                for rec in col.get(where={"grp": g}, limit=20):
                    if rec.metadata.get("grp") != g or deleted(rec.id):
                        bad.append(f"get(where) returned {rec.id} {rec.metadata}")
        except errors.DatabaseLockedError as exc:
            locked += 1
            if len(locked_at) < 5:
                locked_at.append(f"reader {rid} at {time.monotonic() - t0:.0f}s: {exc}")
            continue
        reads += 1
        now = time.monotonic()
        if now - began > 1.0:
            slow.append(round(now - began, 1))
        if sampler.due(now):
            sampler.take(now, now - t0, col, acks=acks.size())
        if remedy in ("trim", "trim-compact"):
            n = getattr(col.parts.live._index, "_n", 0)
            if remedy == "trim" or n < slots:  # every read / after the index compacted
                malloc_trim()
            slots = n
        if trace and snap is None and now - t0 > seconds / 4:
            tracemalloc.start(30)
            snap = tracemalloc.take_snapshot()
    grown: list[str] = []
    if snap is not None:
        diff = tracemalloc.take_snapshot().compare_to(snap, "traceback")
        net = sum(d.size_diff for d in diff), sum(d.count_diff for d in diff)
        grown = [f"net {net[0] / 1024:.0f} KB in {net[1]} blocks"]
        grown += ["\n".join([str(d), *d.traceback.format(most_recent_first=True)[:40]])
                  for d in diff[:12]]
    db.close()
    return {"role": "reader", "id": rid, "reads": reads, "locked": locked, "bad": bad[:20],
            "holds": HOLDS[:50], "waits": _wait_stats(), "n_bad": len(bad), "locked_at": locked_at,
            "slow_reads": len(slow), "slowest_s": max(slow, default=0.0),
            "rss": sampler.rows(), "grown": grown}


def _windows(rss: list[Any], warmup: float = 0.25, width: float = 60.0) -> tuple[
        list[Any], list[Any]]:
    """The readings of the two windows RSS is compared over, chosen by time (a reader samples
    after a read, so readings can be sparse when reads stall): from the end of warm-up (the
    first ``warmup`` of the run) for ``width`` seconds, and the last ``width`` seconds (each
    at least 3 readings)."""
    end_t = rss[-1][0]
    start = warmup * end_t
    base = [r for r in rss if start <= r[0] < start + width]
    if len(base) < 3:
        base = [r for r in rss if r[0] >= start][:3]
    last = [r for r in rss if r[0] > end_t - width]
    if len(last) < 3:
        last = rss[-3:]
    return base, last


def _rss_drift(rss: list[Any], col: int = 1) -> float:
    """Relative change of RSS (``col`` 2: anonymous RSS) from the end of warm-up to the end.

    Warm-up: the first quarter of the run (150 s of the full soak; the writers reach their
    ``CAP`` well before). Each end is the median of the readings in a 60-second window
    (``_windows``), not one reading: SQLite's page cache alone swings by 1-2 MB from one read
    to the next (it is emptied whenever another process writes)."""
    if len(rss) < 4:
        return 0.0
    base, last = _windows(rss)
    b = float(np.median([r[col] for r in base]))
    return (float(np.median([r[col] for r in last])) - b) / b


def split_drift(rss: list[Any]) -> dict[str, float]:
    """Where a process's memory went from the end of warm-up to the end (``_rss_drift``'s
    windows), in MB: RSS, anonymous and file-backed pages, glibc's bytes in use and its free
    bytes kept, SQLite (statements + page cache), and Python's object count (thousands)."""
    if len(rss) < 4:
        return {}
    base, last = _windows(rss)

    def change(key: str) -> float:
        b = float(np.median([r[3][key] for r in base]))
        return float(np.median([r[3][key] for r in last])) - b

    out = {k: round(change(k) / 1024, 2) for k in
           ("rss", "anon", "file", "malloc_used", "malloc_free", "sqlite")}
    out["py_kblocks"] = round(change("py_blocks") / 1000, 1)
    return out


def per_minute(samples: dict[str, list[Any]], step: float = 60.0) -> list[dict[str, Any]]:
    """The RSS curve as a table: one row per ``step`` seconds, the reading nearest to each
    mark: readers (min, median, max of RSS and of anonymous RSS, MB), writer 0 (the one that
    compacts), the other writers (median), the readers' SQLite statement and page-cache
    memory (median, KB) and the database file and WAL sizes (KB, the data)."""

    def near(rows: list[Any], t: float) -> dict[str, int] | None:
        best = min(rows, key=lambda r: abs(r[0] - t), default=None)
        return best[3] if best is not None and abs(best[0] - t) < step / 2 else None

    end = max((r[-1][0] for r in samples.values() if r), default=0.0)
    out: list[dict[str, Any]] = []
    marks = [*np.arange(step / 2, end, step).tolist(), end] if end > step else [end]
    for t in marks:
        got = {name: near(rows, t) for name, rows in samples.items()}
        rd = [v for k, v in got.items() if k.startswith("reader") and v]
        wr = [v for k, v in got.items() if k.startswith("writer") and k != "writer0" and v]
        w0 = got.get("writer0")
        mb = lambda vs, key: [round(v[key] / 1024, 1) for v in vs]  # noqa: E731
        row: dict[str, Any] = {"t": round(t)}
        if rd:
            rss, anon = mb(rd, "vmrss") if "vmrss" in rd[0] else mb(rd, "rss"), mb(rd, "anon")
            row.update(readers_rss=(min(rss), float(np.median(rss)), max(rss)),
                       readers_anon=(min(anon), float(np.median(anon)), max(anon)),
                       readers_sq_stmt=float(np.median([v["sq_stmt"] for v in rd])),
                       readers_sq_cache=float(np.median([v["sq_cache"] for v in rd])),
                       db_kb=rd[0].get("db_kb"), wal_kb=rd[0].get("wal_kb"))
        if w0:
            row["writer0_rss"] = round(w0["rss"] / 1024, 1)
        if wr:
            row["writers_rss"] = float(np.median(mb(wr, "rss")))
        out.append(row)
    return out


def kind_curves(samples: dict[str, list[Any]], kinds: dict[str, str],
                step: float = 60.0) -> dict[str, list[tuple[int, float, float, float]]]:
    """Per reader kind (allocator setting): (second, RSS MB, anonymous RSS MB, glibc free
    KB), the median over that kind's readers of the reading nearest to each mark."""
    out: dict[str, list[tuple[int, float, float, float]]] = {}
    for kind in sorted(set(kinds.values())):
        rows = [samples[name] for name, k in kinds.items() if k == kind and samples.get(name)]
        if not rows:
            continue
        end = min(r[-1][0] for r in rows)
        marks = [*np.arange(step / 2, end, step).tolist(), end]
        curve = []
        for t in marks:
            got = [min(r, key=lambda x: abs(x[0] - t))[3] for r in rows]
            curve.append((round(t), float(np.median([g["rss"] for g in got])) / 1024,
                          float(np.median([g["anon"] for g in got])) / 1024,
                          float(np.median([g["malloc_free"] for g in got]))))
        out[kind] = curve
    return out


def markdown(table: list[dict[str, Any]]) -> str:
    """``per_minute`` as a Markdown table (for docs/reliability.md)."""
    lines = ["| s | readers RSS min / median / max MB | readers anon median MB "
             "| readers SQLite stmt / cache KB | writer 0 RSS MB | writers 1-3 RSS MB "
             "| db / WAL KB |", "|---|---|---|---|---|---|---|"]
    for r in table:
        rss = " / ".join(f"{x:.1f}" for x in r.get("readers_rss", ()))
        anon = r.get("readers_anon", (0, 0, 0))[1]
        lines.append(f"| {r['t']} | {rss} | {anon:.1f} | {r.get('readers_sq_stmt', 0):.0f} / "
                     f"{r.get('readers_sq_cache', 0):.0f} | {r.get('writer0_rss', '')} | "
                     f"{r.get('writers_rss', '')} | {r.get('db_kb')} / {r.get('wal_kb')} |")
    return "\n".join(lines)


REMEDIES = {"none": {}, "mmap": {"MALLOC_MMAP_THRESHOLD_": "131072"},
            "arena": {"MALLOC_ARENA_MAX": "1"}, "trim": {}, "trim-compact": {}}
"""Allocator settings a reader can run with (``--remedies``, to compare in one run):
``mmap`` fixes glibc's mmap threshold (blocks over 128 KB always mmapped, returned on free;
by default the threshold rises to the largest block freed, so big index buffers move into
the heap), ``arena`` one malloc arena for all threads, ``trim`` ``malloc_trim(0)`` after
every read (a writer: every write), ``trim-compact`` only after the reader's index
compacted (dropped slots)."""


def run(writers: int, readers: int, seconds: float, work: Path,
        compact_every: float = 60.0, trace_reader: int = -1,
        remedies: tuple[str, ...] = ("none",),
        writer_remedies: tuple[str, ...] = ("none",)) -> dict[str, Any]:
    db_path = work / "db"
    _col(db_path)[0].close()
    logs = [work / f"w{i}.log" for i in range(writers)]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    procs = []
    # Writer 0 compacts and always runs plain; the others take ``writer_remedies`` in turn.
    wkinds = ["none"] + [writer_remedies[(i - 1) % len(writer_remedies)]
                         for i in range(1, writers)]
    for i in range(writers):
        procs.append(subprocess.Popen(
            [sys.executable, __file__, "--role", "writer", "--id", str(i), "--db", str(db_path),
             "--seconds", str(seconds), "--log", str(logs[i]), "--compact-every",
             str(compact_every), "--remedy", wkinds[i]], stdout=subprocess.PIPE, text=True,
            env={**env, **REMEDIES[wkinds[i]]}))
    kinds = [remedies[i % len(remedies)] for i in range(readers)]
    for i in range(readers):
        procs.append(subprocess.Popen(
            [sys.executable, __file__, "--role", "reader", "--id", str(i), "--db", str(db_path),
             "--seconds", str(seconds), "--logs", ",".join(map(str, logs)),
             "--remedy", kinds[i], *(["--trace"] if i == trace_reader else [])],
            stdout=subprocess.PIPE, text=True, env={**env, **REMEDIES[kinds[i]]}))
    results = []
    crashed = 0
    for p in procs:
        out, _ = p.communicate(timeout=seconds + 300)
        if p.returncode != 0 or not out.strip():
            crashed += 1
            continue
        results.append(json.loads(out.strip().splitlines()[-1]))
    live, _ = _acked(logs)
    with akindb.open(db_path) as db:
        col = db.get_collection("soak")
        got = {r.id: int(r.metadata["v"]) for r in col.get()}
        integrity = db.conn.execute("PRAGMA integrity_check").fetchone()[0]
    drift = {f"{r['role']}{r['id']}": round(_rss_drift(r["rss"]), 3) for r in results}
    anon = {f"{r['role']}{r['id']}": round(_rss_drift(r["rss"], 2), 3) for r in results}
    return {
        "writers": writers, "readers": readers, "seconds": seconds,
        "write_ops": sum(r.get("ops", 0) for r in results),
        "reads": sum(r.get("reads", 0) for r in results),
        "inconsistent_reads": sum(r.get("n_bad", 0) for r in results),
        "examples": [b for r in results for b in r.get("bad", [])][:10],
        "locked_errors": sum(r["locked"] for r in results),
        "locked_examples": [x for r in results for x in r.get("locked_at", [])][:10],
        "reads_by_reader": {f"reader{r['id']}": r["reads"] for r in results if "reads" in r},
        "slow_reads": sum(r.get("slow_reads", 0) for r in results),
        "slow_writes": {f"writer{r['id']}": [r["slow_writes"], r["slowest_writes"]]
                        for r in results if "slow_writes" in r},
        "compactions": [r["compactions"] for r in results if r.get("compactions")],
        "holds": {f"{r['role']}{r['id']}": r["holds"] for r in results if r.get("holds")},
        "write_waits": {f"{r['role']}{r['id']}": r["waits"] for r in results if r.get("waits")},
        "slowest_read_s": max((r.get("slowest_s", 0.0) for r in results), default=0.0),
        "crashed_processes": crashed,
        "expected_docs": len(live), "stored_docs": len(got), "counts_exact": got == live,
        "integrity": integrity,
        "rss_drift_max": max(drift.values(), key=abs, default=0.0), "rss_drift": drift,
        "anon_rss_drift_max": max(anon.values(), key=abs, default=0.0), "anon_rss_drift": anon,
        "rss_curve_mb": {f"{r['role']}{r['id']}": [(t, round(b / 2**20, 1), round(a / 2**20, 1))
                                                   for t, b, a, *_ in
                                                   r["rss"][:: max(1, len(r["rss"]) // 10)]]
                         for r in results[:2] + results[writers : writers + 1]},
        "samples": (samples := {f"{r['role']}{r['id']}": r["rss"] for r in results}),
        "per_minute": per_minute(samples),
        "split_mb": {name: split_drift(rows) for name, rows in samples.items()},
        "reader_kinds": (named := {f"reader{i}": k for i, k in enumerate(kinds)}),
        "kind_curves": kind_curves(samples, named),
        "grown": {f"reader{r['id']}": r["grown"] for r in results if r.get("grown")},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--role", choices=["writer", "reader"])
    ap.add_argument("--id", type=int, default=0)
    ap.add_argument("--db", type=Path)
    ap.add_argument("--log", type=Path)
    ap.add_argument("--logs", default="")
    ap.add_argument("--writers", type=int, default=4)
    ap.add_argument("--readers", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--compact-every", type=float, default=60)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--trace", action="store_true", help="(a reader) tracemalloc after warm-up")
    ap.add_argument("--remedy", default="none", choices=sorted(REMEDIES))
    ap.add_argument("--remedies", default="none",
                    help="comma-separated allocator settings, given to the readers in turn")
    ap.add_argument("--writer-remedies", default="none",
                    help="the same for writers 1.. (writer 0 compacts and runs plain)")
    ap.add_argument("--trace-reader", type=int, default=-1,
                    help="run this reader under tracemalloc (its RSS is then not comparable)")
    a = ap.parse_args()
    if a.role == "writer":
        print(json.dumps(writer(a.db, a.id, a.seconds, a.log, a.compact_every, a.remedy)))
        return
    if a.role == "reader":
        print(json.dumps(reader(a.db, a.id, a.seconds, [Path(x) for x in a.logs.split(",")],
                                a.trace, a.remedy)))
        return
    with tempfile.TemporaryDirectory(prefix="akindb-soak-") as tmp:
        res = run(a.writers, a.readers, a.seconds, Path(tmp), a.compact_every, a.trace_reader,
                  tuple(a.remedies.split(",")), tuple(a.writer_remedies.split(",")))
    print(json.dumps({k: v for k, v in res.items() if k not in ("samples", "per_minute")},
                     indent=1))
    print(markdown(res["per_minute"]))
    if a.json:
        a.json.write_text(json.dumps(res, indent=1))
    ok = (res["inconsistent_reads"] == 0 and res["counts_exact"] and not res["locked_errors"]
          and not res["crashed_processes"])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
