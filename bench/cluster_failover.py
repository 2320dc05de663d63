"""Stall after a node is SIGKILLed under load, run several times (issue 15: the stall <= 2 s).

Each run: a fresh 2-shard x 2-replica vectors-only collection on a local 3-node cluster, a
loop of exact queries with a write every 5th query (as tests/distributed/test_faults.py), and
after 2 s one worker node SIGKILLed: on odd runs a node holding a shard *primary* (the worst
case: the router must fail over), on even runs a node holding only secondaries when there is
one. Prints per run: what the node held, the query and write latency p50/p99/max over the
run, failovers, errors, wrong answers, and how long until every replica was back and caught
up. A node is added back after each run.

    RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 nice -n 10 python bench/cluster_failover.py --runs 5
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from typing import Any

import numpy as np

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
DIM = 16


def _ready(cluster: Any, name: str) -> bool:
    shards = cluster.status()["collections"][name]["shards"]
    return all(r["alive"] and r.get("ready") and r.get("lag") == 0
               for sh in shards for r in sh["replicas"])


def _victim(cluster: Any, name: str, want_primary: bool) -> tuple[int, str]:
    """A live worker node number and what it holds (``primary`` or ``secondary``)."""
    shards = cluster.status()["collections"][name]["shards"]
    holds: dict[str, set[str]] = {}
    for sh in shards:
        for r in sh["replicas"]:
            if r["alive"]:
                holds.setdefault(r["node"], set()).add(r["role"])
    workers = [(i, str(n.node_id)) for i, n in enumerate(cluster._nodes) if i and n is not None]
    for i, node_id in workers:
        roles = holds.get(node_id[:12], set())
        if ("primary" in roles) == want_primary and roles:
            return i, "primary" if "primary" in roles else "secondary"
    i, node_id = workers[0]
    roles = holds.get(node_id[:12], set())
    return i, "primary" if "primary" in roles else ("secondary" if roles else "nothing")


def one_run(cluster: Any, run: int) -> dict[str, Any]:
    from akindb.distributed.ray_env import wait_until

    while sum(1 for x in cluster.nodes() if x["alive"]) < 3:
        cluster.add_node(object_store_mb=100)
    name = f"fo-{run}"
    col = cluster.create_collection(name, shards=2, replicas=2, model=None, dim=DIM)
    v = np.random.default_rng(run).normal(size=(60, DIM)).astype(np.float32)
    col.add([f"t{i}" for i in range(60)], ids=[f"d{i}" for i in range(60)], vectors=v)
    stop = threading.Event()
    qlat: list[float] = []
    wlat: list[float] = []
    errors: list[str] = []
    wrong: list[str] = []
    acked: list[str] = []

    def loop() -> None:
        i = 0
        rng = np.random.default_rng(1000 + run)
        while not stop.is_set():
            q = i % 60
            try:
                t0 = time.perf_counter()
                hit = col.search_vector(v[q], k=1, exact=True)[0]
                qlat.append(time.perf_counter() - t0)
                if hit.id != f"d{q}":
                    wrong.append(hit.id)
                if i % 5 == 0:
                    doc = f"w{i}"
                    t1 = time.perf_counter()
                    col.add([doc], ids=[doc], vectors=rng.normal(size=(1, DIM)).astype(
                        np.float32))
                    wlat.append(time.perf_counter() - t1)
                    acked.append(doc)
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
            i += 1

    node, held = _victim(cluster, name, want_primary=run % 2 == 1)
    t = threading.Thread(target=loop)
    t.start()
    time.sleep(2)
    t_kill = time.monotonic()
    cluster.kill_node(node)
    healed: float | None = None
    time.sleep(1)
    while time.monotonic() - t_kill < 8:  # when every replica is back, ready and caught up
        if healed is None and _ready(cluster, name):
            healed = time.monotonic() - t_kill
        time.sleep(1)
    stop.set()
    t.join(60)
    back = wait_until(lambda: _ready(cluster, name), 120)
    if healed is None and back:
        healed = time.monotonic() - t_kill
    present = {r.id for r in col.get()}
    out = {"run": run, "killed_node_held": held, "failovers": col._router.failovers,
           "hedges": col._router.hedges, "errors": len(errors), "wrong": len(wrong),
           "acked_missing": len(set(acked) - present),
           "healed_s": None if healed is None else round(healed, 1),
           "first_error": errors[0] if errors else None}
    for what, xs in (("query", qlat), ("write", wlat)):
        ms = np.array(xs) * 1000
        out[what] = {"n": len(ms), "p50_ms": round(float(np.percentile(ms, 50)), 1),
                     "p99_ms": round(float(np.percentile(ms, 99)), 1),
                     "max_ms": round(float(ms.max()), 1)}
    cluster.drop_collection(name)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    from akindb.distributed import Cluster

    results = []
    with Cluster.local(nodes=3, object_store_mb=100) as cluster:
        for run in range(1, args.runs + 1):
            res = one_run(cluster, run)
            results.append(res)
            print(json.dumps(res), flush=True)
    worst = max(r["write"]["max_ms"] for r in results)
    print(f"worst write stall over {len(results)} runs: {worst:.0f} ms; "
          f"worst query: {max(r['query']['max_ms'] for r in results):.0f} ms; "
          f"errors {sum(r['errors'] for r in results)}, wrong {sum(r['wrong'] for r in results)}"
          f", acked missing {sum(r['acked_missing'] for r in results)}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
