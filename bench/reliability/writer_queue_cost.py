"""What the fair writer queue (``akindb.storage.writer_queue``) costs a writer nobody contends
with: one ``flock`` and one unlock per write transaction.

Times, in one process and interleaved round by round (so load on a shared machine hits both
alike), an uncontended ``Collection.add`` of one document (precomputed 384-d vector, flat
index) and a bare ``write_txn`` with one small INSERT, each with the connection's queue on
and with it switched off (``conn.writer = None``, SQLite's busy handler alone, as before).
Prints medians in microseconds and the ratio with/without, and the queue's own cost: an
uncontended turn (take and give back) alone, with no SQLite work, which is what the ratios'
differences should be (fsync time swings far more than that on a loaded machine).

    python bench/reliability/writer_queue_cost.py --rounds 7 --n 300
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import akindb
from akindb.storage import sqlite as sq


def _time(fn: Any, n: int) -> float:
    t0 = time.perf_counter()
    for i in range(n):
        fn(i)
    return (time.perf_counter() - t0) / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(a.n * a.rounds * 2 + 10, 384)).astype(np.float32)
    out: dict[str, dict[str, list[float]]] = {"add": {"on": [], "off": []},
                                              "txn": {"on": [], "off": []}}
    with tempfile.TemporaryDirectory(prefix="akindb-wq-") as tmp, akindb.open(tmp) as db:
        col = db.create_collection("c", model=None, dim=384)
        conn = db.conn
        queue = conn.writer
        counter = iter(range(10**9))

        def add(_: int) -> None:
            k = next(counter)
            col.add(ids=[f"d{k}"], vectors=vecs[k : k + 1])

        def txn(i: int) -> None:
            with sq.write_txn(conn, db.file):
                conn.execute("INSERT INTO oplog(collection_id, op, chunk_id) VALUES (0, 'add', ?)",
                             (i,))

        add(0)  # warm
        for _ in range(a.rounds):
            for what, fn in (("add", add), ("txn", txn)):
                for mode in ("on", "off"):
                    conn.writer = queue if mode == "on" else None
                    out[what][mode].append(_time(fn, a.n))
        conn.writer = queue
        assert queue is not None
        turns = [_time(lambda _: (queue.acquire(lambda: 30.0), queue.release()), a.n * 10)
                 for _ in range(a.rounds)]
    res: dict[str, Any] = {what: {"with_queue_us": round(statistics.median(v["on"]), 1),
                  "without_us": round(statistics.median(v["off"]), 1),
                  "ratio": round(statistics.median(v["on"]) / statistics.median(v["off"]), 3)}
           for what, v in out.items()}
    res["turn_alone_us"] = round(statistics.median(turns), 2)
    res["rounds"], res["n"] = a.rounds, a.n
    print(json.dumps(res, indent=1))
    if a.json:
        a.json.write_text(json.dumps(res, indent=1))
    sys.exit(0)


if __name__ == "__main__":
    main()
