"""Faults on a local 3-node cluster: a replica actor, a primary mid-batch, a whole shard, a
node (SIGKILL) while queries and writes run. Vectors-only collections: the model is beside
the point here, and each replica then starts in well under a second."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import ray

from akindb.distributed import Cluster, DistributedCollection, ShardUnavailableError
from akindb.distributed.ray_env import wait_until
from tests.distributed.conftest import ensure_nodes

pytestmark = [pytest.mark.distributed, pytest.mark.timeout(300)]
DIM = 16


def _vectors(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)


def _fill(col: DistributedCollection, n: int, seed: int = 0) -> np.ndarray:
    v = _vectors(n, seed)
    col.add([f"text {i}" for i in range(n)], ids=[f"d{i}" for i in range(n)], vectors=v)
    return v


def _all_ready(cluster: Cluster, name: str) -> bool:
    shards = cluster.status()["collections"][name]["shards"]
    return all(r["alive"] and r.get("ready") and r.get("lag") == 0
               for sh in shards for r in sh["replicas"])


def test_kill_a_replica_actor(cluster: Cluster) -> None:
    col = cluster.create_collection("f-actor", shards=2, replicas=2, model=None, dim=DIM)
    v = _fill(col, 40)
    victim = col._router.replicas[0][1]
    ray.kill(victim, no_restart=False)  # Ray restarts it (max_restarts)
    for i in range(20):  # reads never fail meanwhile
        assert col.search_vector(v[i], k=1, exact=True)[0].id == f"d{i}"
    col.add(["after"], ids=["after"], vectors=_vectors(1, 9))
    assert wait_until(lambda: _all_ready(cluster, "f-actor"), 60)
    p0 = col._router.replicas[0][col._router.view[0][0]]
    assert wait_until(lambda: ray.get(p0.state.remote(), timeout=30)["down"] == [], 60)
    st = cluster.status()["collections"]["f-actor"]["shards"]
    for sh in st:  # the restarted replica holds what its primary holds
        docs = [r["documents"] for r in sh["replicas"]]
        assert docs[0] == docs[1]
    assert sum(sh["replicas"][0]["documents"] for sh in st) == 41
    cluster.drop_collection("f-actor")


def test_kill_the_primary_during_a_write_batch(cluster: Cluster) -> None:
    col = cluster.create_collection("f-primary", shards=1, replicas=2, model=None, dim=DIM)
    v = _vectors(200, 1)
    acked: list[str] = []
    failed: list[int] = []

    def writer() -> None:
        for b in range(20):
            ids = [f"b{b}-{j}" for j in range(10)]
            try:
                col.add([f"t{b}-{j}" for j in range(10)], ids=ids,
                        vectors=v[b * 10:(b + 1) * 10])
                acked.extend(ids)
            except Exception:
                failed.append(b)

    t = threading.Thread(target=writer)
    t.start()
    time.sleep(0.3)
    primary = col._router.replicas[0][col._router.view[0][0]]
    ray.kill(primary, no_restart=False)
    t.join(120)
    assert not t.is_alive()
    assert col._router.failovers >= 1 or acked  # the router failed over (or finished first)
    present = {r.id for r in col.get()}
    assert set(acked) <= present  # every acknowledged write is there
    for b in failed:  # a failed batch, retried, is present once
        col.add([f"t{b}-{j}" for j in range(10)], ids=[f"b{b}-{j}" for j in range(10)],
                vectors=v[b * 10:(b + 1) * 10])
    assert col.count() == 200 and len({r.id for r in col.get()}) == 200
    assert wait_until(lambda: _all_ready(cluster, "f-primary"), 60)
    cluster.drop_collection("f-primary")


def test_a_dead_peer_costs_one_probe_not_one_per_write(cluster: Cluster) -> None:
    """Regression (issue 15, write stall): every write waited for a dead secondary's probe
    until Ray had restarted it, and a new primary waited for the dead old one. Now the first
    write that finds a peer not live puts it on the primary's down list; later writes do not
    wait for it, and a replica that comes back catches up and rejoins."""
    col = cluster.create_collection("f-down", shards=1, replicas=2, model=None, dim=DIM)
    _fill(col, 10)
    primary_idx = col._router.view[0][0]
    group = col._router.replicas[0]
    peer = 1 - primary_idx
    ray.kill(group[peer], no_restart=True)  # gone for good: never answers again
    for i in range(4):
        col.add([f"x{i}"], ids=[f"x{i}"], vectors=_vectors(1, 50 + i))
    st = ray.get(group[primary_idx].state.remote(), timeout=30)
    assert st["down"] == [peer]
    assert st["not_live"] == 1  # only the first write waited for the dead peer
    assert col.count() == 14
    cluster.drop_collection("f-down")


def test_a_replica_catching_up_under_writes_ends_with_every_write(cluster: Cluster) -> None:
    """A replica told it is behind catches up while writes go on, rejoins the primary and
    ends with every write (lag 0, same count), three times over. It is ready only once it
    has rejoined, and rejoining first sends it what was written since its catch-up. (The
    defect this guards, writes acknowledged between the end of a catch-up and the rejoin
    skipping a replica that already served reads, needs a write inside that window; this
    test did not hit it on the old code in two runs.)"""
    col = cluster.create_collection("f-rejoin", shards=1, replicas=2, model=None, dim=DIM)
    _fill(col, 20)
    group = col._router.replicas[0]
    secondary = group[1 - col._router.view[0][0]]
    for round_ in range(3):  # each round: it falls behind and catches up under writes
        ray.get(secondary.behind.remote(0), timeout=30)
        for i in range(40):
            col.add([f"r{round_}-{i}"], ids=[f"r{round_}-{i}"],
                    vectors=_vectors(1, 100 * round_ + i))
        assert wait_until(lambda: _all_ready(cluster, "f-rejoin"), 60)
        counts = ray.get([h.state.remote() for h in group], timeout=30)
        assert [c["documents"] for c in counts] == [20 + 40 * (round_ + 1)] * 2
    cluster.drop_collection("f-rejoin")


def _dead(handle: object) -> bool:
    """True once the actor no longer answers (``ray.kill`` only asks for its death)."""
    try:
        ray.get(handle.state.remote(), timeout=5)  # type: ignore[attr-defined]
    except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError):
        return True
    return False


def test_both_replicas_down_is_an_error_or_flagged_partial(cluster: Cluster) -> None:
    """Both replicas of shard 1 killed: a search is an error naming the shard, or, asked for,
    the other shard's hits flagged partial. ``ray.kill`` returns before the actor is dead, so
    the test waits for both deaths first: a search sent at once could still be answered by a
    replica (CI-like run of session 7: "DID NOT RAISE"), and the collection, left undropped,
    then broke the next test's web page (it lists every collection)."""
    col = cluster.create_collection("f-shard", shards=2, replicas=2, model=None, dim=DIM)
    try:
        v = _fill(col, 30)
        for h in col._router.replicas[1]:
            ray.kill(h, no_restart=True)
        assert wait_until(lambda: all(_dead(h) for h in col._router.replicas[1]), 60)
        with pytest.raises(ShardUnavailableError, match=r"shard\(s\) \[1\]") as err:
            col.search_vector(v[0], k=5)
        assert err.value.shards == [1]
        part = cluster.get_collection("f-shard", allow_partial=True)
        hits = part.search_vector(v[0], k=5)
        assert getattr(hits, "partial", False) and hits.missing_shards == [1]
        assert hits and all(h.id in {r.id for r in part.get()} for h in hits)
    finally:
        cluster.drop_collection("f-shard")


def test_kill_a_worker_node_mid_query(cluster: Cluster) -> None:
    ensure_nodes(cluster)
    col = cluster.create_collection("f-node", shards=2, replicas=2, model=None, dim=DIM)
    v = _fill(col, 60)
    stop = threading.Event()
    lat: list[float] = []
    wlat: list[float] = []
    wrong: list[str] = []
    errors: list[str] = []
    acked: list[str] = []

    def loop() -> None:
        i = 0
        while not stop.is_set():
            q = i % 60
            t0 = time.perf_counter()
            try:
                hit = col.search_vector(v[q], k=1, exact=True)[0]
                if hit.id != f"d{q}":
                    wrong.append(f"{q}->{hit.id}")
                lat.append(time.perf_counter() - t0)
                if i % 5 == 0:
                    doc = f"w{i}"
                    t1 = time.perf_counter()
                    col.add([doc], ids=[doc], vectors=_vectors(1, 1000 + i))
                    wlat.append(time.perf_counter() - t1)
                    acked.append(doc)
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
            i += 1

    t = threading.Thread(target=loop)
    t.start()
    time.sleep(2)
    cluster.kill_node(1)
    time.sleep(8)
    stop.set()
    t.join(60)
    for what, xs in (("queries", lat), ("writes", wlat)):
        ms = np.array(xs) * 1000
        print(f"\nnode kill, {what}: {len(ms)}, stall p50 {np.percentile(ms, 50):.1f} ms, "
              f"p99 {np.percentile(ms, 99):.1f} ms, max {ms.max():.1f} ms; "
              f"failovers {col._router.failovers}, hedges {col._router.hedges}")
    assert errors == [] and wrong == []
    present = {r.id for r in col.get()}
    assert set(acked) <= present
    assert wait_until(lambda: _all_ready(cluster, "f-node"), 90)  # lost replicas came back
    cluster.drop_collection("f-node")
    ensure_nodes(cluster)
