"""``akindb cluster up | down | status`` and the ``--cluster ADDRESS`` paths of index/search.

A local cluster (``up --local``) is several Ray nodes on this machine, on 127.0.0.1, left
running when the command exits; its address and process ids are written to
``DIR/cluster.json`` so ``down`` ends exactly those processes. A real cluster is started with
``ray start`` on each machine; every command here then takes its head's address.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from akindb.cli.cluster_options import ClusterOpt
from akindb.cli.common import JsonOpt, err, fail, handled, out, print_json

if TYPE_CHECKING:
    from akindb.collection.ingest import IngestReport
    from akindb.distributed import Cluster, DistributedCollection

cluster_app = typer.Typer(help="Run collections on a Ray cluster: a local one for trying it, "
                          "or an existing one (`ray start`).", no_args_is_help=True)

STATE_FILE = "cluster.json"
DirOpt = Annotated[
    Path, typer.Option("--dir", help="Folder of a local cluster (its replicas and cluster.json).")
]


def _address(cluster: str | None, dir: Path) -> str:
    if cluster:
        return cluster
    try:
        return str(json.loads((dir / STATE_FILE).read_text(encoding="utf-8"))["address"])
    except (OSError, ValueError, KeyError):
        fail(f"no cluster address: pass --cluster HOST:PORT, or start one with `akindb cluster "
             f"up --local --dir {dir}`")


def connect(address: str) -> Cluster:
    """Join the cluster at ``address`` (a clear error, not a hang, when nothing answers)."""
    from akindb.distributed import Cluster

    return Cluster.connect(address, timeout=30)


def open_collection(address: str, name: str) -> DistributedCollection:
    """The distributed collection ``name`` on the cluster at ``address`` (for ``search``)."""
    return connect(address).get_collection(name)


def index_on_cluster(address: str, paths: Sequence[Path], name: str, *, shards: int,
                     replicas: int, model: str, metric: str, index: str,
                     index_params: dict[str, Any] | None) -> IngestReport:
    """``akindb index --cluster``: create the collection if needed, then a Ray Data ingest."""
    c = connect(address)
    if name not in c.list_collections():
        c.create_collection(name, shards=shards, replicas=replicas, model=model, metric=metric,
                            index=index, index_params=index_params)
    return c.ingest(list(paths), collection=name)


@cluster_app.command("up")
def up(
    local: Annotated[bool, typer.Option("--local", help="Start the nodes on this machine.")
                     ] = False,
    nodes: Annotated[int, typer.Option(help="Number of nodes (head included).", min=1)] = 3,
    dir: DirOpt = Path("akindb_cluster"),
    cpus: Annotated[int, typer.Option(help="CPUs each node offers.", min=1)] = 1,
    object_store_mb: Annotated[int, typer.Option(help="Object store per node, MB.", min=80)
                               ] = 128,
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")
                        ] = False,
) -> None:
    """Start a local multi-node Ray cluster and print its address (`cluster down` stops it).
    A real cluster is started with `ray start --head` / `ray start --address` instead."""
    with handled():
        if not local:
            fail("only --local clusters are started here; on real machines run `ray start "
                 "--head` (then `ray start --address HEAD:6379` on the others)")
        if (dir / STATE_FILE).exists():
            fail(f"{dir / STATE_FILE} exists: a cluster may be running; `akindb cluster down "
                 f"--dir {dir}` first")
        from akindb.distributed import Cluster

        c = Cluster.local(nodes=nodes, dir=dir.resolve(), num_cpus=cpus,
                          object_store_mb=object_store_mb, keep=True)
        state = {"address": c.address, "dir": str(dir.resolve()), "nodes": nodes,
                 "pids": c.pids()}
        (dir / STATE_FILE).write_text(json.dumps(state), encoding="utf-8")
        import ray

        ray.shutdown()  # disconnect this driver; the nodes keep running
        if json_out:
            print_json(state)
            return
        out.print(f"local cluster of {nodes} nodes at {c.address} (data in {dir}); "
                  f"use --cluster {c.address}; stop it with `akindb cluster down --dir {dir}`")


@cluster_app.command("down")
def down(dir: DirOpt = Path("akindb_cluster"), json_out: JsonOpt = False) -> None:
    """Stop the local cluster `cluster up` started in --dir (its data stays)."""
    with handled():
        try:
            state = json.loads((dir / STATE_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            fail(f"no {STATE_FILE} in {dir}: nothing started there by `akindb cluster up`")
        pids = _with_children([int(p) for p in state.get("pids", [])])
        for pid in reversed(pids):  # workers' processes first, the head's last
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        deadline = time.monotonic() + 10
        for pid in pids:
            while time.monotonic() < deadline and _alive(pid):
                time.sleep(0.1)
            if _alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        (dir / STATE_FILE).unlink()
        if json_out:
            print_json({"stopped": state.get("address"), "processes": len(pids)})
            return
        out.print(f"stopped the local cluster at {state.get('address')} ({len(pids)} processes)")


def _with_children(pids: list[int]) -> list[int]:
    """``pids`` and every process below them (a raylet's agents and workers), read from
    /proc now, before anything is killed (orphans would be re-parented and lost)."""
    parent: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parent[int(stat.parent.name)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    out, seen = list(pids), set(pids)
    i = 0
    while i < len(out):
        for child, ppid in parent.items():
            if ppid == out[i] and child not in seen:
                seen.add(child)
                out.append(child)
        i += 1
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours counts as gone
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


@cluster_app.command("status")
def status(
    cluster: ClusterOpt = None,
    dir: DirOpt = Path("akindb_cluster"),
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")
                        ] = False,
) -> None:
    """Nodes, and per collection each shard's replicas: node, role, lag, readiness."""
    with handled():
        st = connect(_address(cluster, dir)).status()
        if json_out:
            print_json(st)
            return
        alive = sum(1 for n in st["nodes"] if n["alive"])
        out.print(f"cluster {st['address']}: {alive}/{len(st['nodes'])} nodes alive")
        for name, col in st["collections"].items():
            out.print(f"collection {name}: {len(col['shards'])} shards")
            for sh in col["shards"]:
                reps = []
                for r in sh["replicas"]:
                    if not r["alive"]:
                        reps.append(f"r{r['replica']} DOWN")
                        continue
                    state = "ready" if r["ready"] else "catching up"
                    reps.append(f"r{r['replica']} {r['role']} on {r['node']} {state} "
                                f"lag {r['lag']} docs {r['documents']}")
                out.print(f"  shard {sh['shard']} (epoch {sh['epoch']}): " + "; ".join(reps))
        if not st["collections"]:
            err.print("no collections yet: `akindb index FOLDER --cluster ADDRESS -c NAME`")


def register(app: typer.Typer) -> None:
    app.add_typer(cluster_app, name="cluster")
