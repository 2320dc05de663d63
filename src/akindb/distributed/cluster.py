"""Cluster: a Ray cluster holding akindb's sharded, replicated collections.

``Cluster.local(nodes=3)`` starts a real multi-node Ray cluster on this machine
(``ray.cluster_utils.Cluster``: one raylet and object store per node, on 127.0.0.1);
``Cluster.connect(address)`` joins an existing one (``ray start`` on each machine).

A collection is a controller actor plus ``shards x replicas`` replica actors, all detached and
named in the ``akindb`` namespace (so the CLI, the server and any driver find them by name).
The replicas of a shard are placed by a ``STRICT_SPREAD`` placement group (each on its own
node) and restarted by Ray when they die (``max_restarts=-1``): a node's loss makes Ray move its
bundles to a surviving node, where the replica starts empty and copies a snapshot.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from akindb.distributed.collection import DistributedCollection
from akindb.distributed.controller import CollectionController
from akindb.distributed.errors import ClusterError
from akindb.distributed.placement import check_layout
from akindb.distributed.ray_env import (
    INFO_ACTOR,
    LOCAL_SYSTEM_CONFIG,
    NAMESPACE,
    _ClusterInfo,
    _loopback_only,
    _start_error,
    check_address,
    require_ray,
)
from akindb.distributed.replica import ShardReplica
from akindb.distributed.router import Router
from akindb.errors import CollectionExistsError, CollectionNotFoundError

if TYPE_CHECKING:
    from akindb.ingest import IngestReport

log = logging.getLogger(__name__)

HEAD_RESOURCE = "node:__internal_head__"
"""A resource Ray gives the head node only."""
REPLICA_CPU = 0.01
"""Each replica reserves a sliver of a CPU: placement is about distinct nodes, not cores."""


def _controller_name(name: str) -> str:
    return f"collection:{name}"


class Cluster:
    """A handle on a Ray cluster; make one with ``Cluster.local`` or ``Cluster.connect``."""

    def __init__(self, address: str, root: Path, local: Any = None) -> None:
        self.address = address
        self.root = root
        self._local = local
        self._nodes: list[Any] = [] if local is None else [local.head_node, *local.worker_nodes]

    # ---- starting and joining --------------------------------------------------------------
    @classmethod
    def local(cls, nodes: int = 3, *, dir: str | Path | None = None, num_cpus: int = 1,
              object_store_mb: int = 128, timeout: float = 120.0, keep: bool = False) -> Cluster:
        """Start ``nodes`` Ray nodes on this machine (loopback only) and connect to them.

        ``dir`` holds every replica's database (default: a new temporary folder). Each node
        gets ``num_cpus`` CPUs and an object store of ``object_store_mb`` MB. ``keep=True``
        leaves the nodes running when this process exits (``akindb cluster up``; their
        process ids are in ``pids()``, which ``akindb cluster down`` ends).
        """
        if isinstance(nodes, bool) or not isinstance(nodes, int) or nodes < 1:
            from akindb.errors import InvalidArgumentError

            raise InvalidArgumentError(f"nodes must be an integer >= 1, got nodes={nodes!r}")
        ray = require_ray()
        _loopback_only()
        from ray.cluster_utils import Cluster as RayCluster

        root = Path(dir) if dir is not None else Path(tempfile.mkdtemp(prefix="akindb-cluster-"))
        root.mkdir(parents=True, exist_ok=True)
        args: dict[str, Any] = {"num_cpus": num_cpus, "node_ip_address": "127.0.0.1",
                                "object_store_memory": object_store_mb * 1024 * 1024}
        rc = RayCluster(initialize_head=True, shutdown_at_exit=not keep, head_node_args={
            **args, "include_dashboard": False, "_system_config": LOCAL_SYSTEM_CONFIG,
        })
        try:
            for _ in range(nodes - 1):
                rc.add_node(**args)
            try:
                rc.wait_for_nodes(timeout=timeout)
            except Exception as exc:  # Ray raises a bare TimeoutError/RayError here
                raise ClusterError(
                    f"{nodes} local nodes did not all come up within {timeout:g} s ({exc}); "
                    "check free memory and ports, or start fewer nodes"
                ) from None
            if ray.is_initialized():
                ray.shutdown()
            ray.init(address=rc.address, namespace=NAMESPACE, logging_level=logging.WARNING,
                     log_to_driver=False)
            info = ray.remote(_ClusterInfo).options(
                name=INFO_ACTOR, namespace=NAMESPACE, lifetime="detached", num_cpus=0,
                max_restarts=-1).remote(str(root))
            ray.get(info.root.remote(), timeout=timeout)
        except BaseException:
            rc.shutdown()
            raise
        return cls(rc.address, root, rc)

    def pids(self) -> list[int]:
        """Process ids of a local cluster's Ray processes (gcs, raylets, ...), head first."""
        out: list[int] = []
        for node in self._nodes:
            if node is None:
                continue
            for infos in node.all_processes.values():
                out.extend(int(i.process.pid) for i in infos if i.process is not None)
        return out

    @classmethod
    def connect(cls, address: str, *, dir: str | Path | None = None,
                timeout: float = 30.0) -> Cluster:
        """Join a running Ray cluster (``host:port`` of its head, or ``ray://host:10001``).

        ``dir`` must be a path every node can write (each node keeps its replicas under it);
        default ``~/.akindb/cluster``. An address that does not answer within ``timeout``
        seconds is a ``ClusterError``, never a hang.
        """
        ray = require_ray()
        hostport = check_address(address, timeout)
        if hostport.startswith(("127.", "localhost")):
            _loopback_only()
        if ray.is_initialized():
            ray.shutdown()
        err: list[BaseException] = []

        def init() -> None:
            try:
                ray.init(address=address, namespace=NAMESPACE, logging_level=logging.WARNING,
                         log_to_driver=False)
            except BaseException as exc:
                err.append(exc)

        t = threading.Thread(target=init, daemon=True, name="ray-init")
        t.start()
        t.join(timeout)
        if t.is_alive() or err:
            why = f"{type(err[0]).__name__}: {err[0]}" if err else f"no answer in {timeout:g} s"
            raise ClusterError(
                f"cannot join the Ray cluster at {address} ({why}); check that it is a Ray "
                "head (ray status) and reachable from here"
            )
        if dir is None:  # a cluster started by Cluster.local / `akindb cluster up` knows its own
            try:
                dir = ray.get(ray.get_actor(INFO_ACTOR, namespace=NAMESPACE).root.remote(),
                              timeout=timeout)
            except Exception:
                dir = None
        root = Path(dir) if dir is not None else Path.home() / ".akindb" / "cluster"
        return cls(address, root)

    @property
    def is_local(self) -> bool:
        return self._local is not None

    def nodes(self) -> list[dict[str, Any]]:
        """Ray's node table: id, address, alive, resources."""
        import ray

        return [{"node_id": n["NodeID"], "address": n["NodeManagerAddress"], "alive": n["Alive"],
                 "resources": n.get("Resources", {})} for n in ray.nodes()]

    def _alive_nodes(self) -> int:
        return sum(1 for n in self.nodes() if n["alive"])

    # ---- collections -----------------------------------------------------------------------
    def create_collection(
        self,
        name: str,
        *,
        shards: int = 1,
        replicas: int = 2,
        model: str | None = "default",
        metric: str = "cosine",
        dim: int | None = None,
        index: str = "flat",
        index_params: dict[str, Any] | None = None,
        allow_partial: bool = False,
        timeout: float = 120.0,
    ) -> DistributedCollection:
        """Create ``name`` with ``shards`` shards of ``replicas`` replicas each (on distinct
        nodes), with the embedded ``create_collection`` arguments."""
        import ray
        from ray.util.placement_group import placement_group
        from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

        from akindb.db import validate_name
        from akindb.index.registry import validate_params
        from akindb.types import Metric

        validate_name(name)
        check_layout(shards, replicas, self._alive_nodes())
        metric_v = Metric.parse(metric).value
        params = dict(validate_params(index, index_params) or {})
        if name in self.list_collections():
            raise CollectionExistsError(
                f"collection {name!r} already exists on this cluster; use get_collection"
            )
        pinned = None
        if model is not None:
            from akindb.models.registry import load_embedder

            emb = load_embedder(None if model == "default" else model)
            pinned, dim = emb.spec.to_json(), emb.dim
        elif dim is None or dim <= 0:
            from akindb.errors import InvalidArgumentError

            raise InvalidArgumentError("a collection without a model needs dim=N (N > 0)")
        spec = {"model": model, "metric": metric_v, "dim": dim, "index": index,
                "index_params": params, "pinned": pinned, "shards": shards,
                "replicas": replicas, "root": str(self.root)}
        replica_cls = ray.remote(ShardReplica)
        handles: list[list[Any]] = []
        for s in range(shards):
            pg = placement_group([{"CPU": REPLICA_CPU}] * replicas, strategy="STRICT_SPREAD",
                                 name=f"{name}/s{s}", lifetime="detached")
            try:
                ray.get(pg.ready(), timeout=timeout)
            except ray.exceptions.GetTimeoutError:
                raise ClusterError(
                    f"cannot place {replicas} replicas of shard {s} on distinct nodes within "
                    f"{timeout:g} s; the cluster has {self._alive_nodes()} live nodes"
                ) from None
            handles.append([
                replica_cls.options(
                    name=f"{name}/s{s}r{r}", namespace=NAMESPACE, lifetime="detached",
                    num_cpus=REPLICA_CPU, max_restarts=-1, max_task_retries=0,
                    max_concurrency=8,
                    scheduling_strategy=PlacementGroupSchedulingStrategy(
                        pg, placement_group_bundle_index=r),
                ).remote(str(self.root), name, s, r, spec)
                for r in range(replicas)
            ])
        for group in handles:  # surface a replica that cannot start (model missing...) now
            for h in group:
                try:
                    ray.get(h.ping.remote(), timeout=timeout)
                except Exception as exc:
                    self._discard(name, handles)
                    raise _start_error(exc, name) from None
        ctl = ray.remote(CollectionController).options(
            name=_controller_name(name), namespace=NAMESPACE, lifetime="detached",
            num_cpus=0, max_restarts=-1, max_concurrency=16,
            # On the head node: losing the head loses Ray's GCS anyway, while a controller on
            # a worker node would stall fail-over for the length of its own restart.
            resources={HEAD_RESOURCE: 0.001},
        ).remote(str(self.root), name, spec, handles)
        ray.get(ctl.start.remote(), timeout=timeout)
        return self.get_collection(name, allow_partial=allow_partial)

    def _discard(self, name: str, handles: list[list[Any]]) -> None:
        """Undo a half-made collection: its replicas (restartable, detached) and placement
        groups would otherwise outlive the failed call."""
        import ray
        from ray.util.placement_group import get_placement_group, remove_placement_group

        for group in handles:
            for h in group:
                with contextlib.suppress(Exception):
                    ray.kill(h, no_restart=True)
        for s in range(len(handles)):
            with contextlib.suppress(Exception):
                remove_placement_group(get_placement_group(f"{name}/s{s}"))

    def get_collection(self, name: str, *, allow_partial: bool = False,
                       read_timeout: float | None = None) -> DistributedCollection:
        """Open an existing collection (from any driver)."""
        import ray

        try:
            ctl = ray.get_actor(_controller_name(name), namespace=NAMESPACE)
        except ValueError:
            names = ", ".join(self.list_collections()) or "none yet"
            raise CollectionNotFoundError(
                f"no collection {name!r} on the cluster at {self.address} (collections: "
                f"{names}); create it with cluster.create_collection or `akindb index "
                "--cluster`"
            ) from None
        spec = ray.get(ctl.spec_of.remote(), timeout=30)
        ray.get(ctl.start.remote(), timeout=60)  # restarts the loop after a controller restart
        handles = ray.get(ctl.handles.remote(), timeout=30)
        router = Router(name, ctl, handles)
        if read_timeout is not None:
            router.read_timeout = read_timeout
        info = {"metric": spec["metric"], "dim": spec["dim"],
                "model": spec["model"], "pinned": spec.get("pinned")}
        return DistributedCollection(name, router, info, allow_partial=allow_partial)

    def get_or_create_collection(self, name: str, **kwargs: Any) -> DistributedCollection:
        try:
            return self.get_collection(name, allow_partial=kwargs.get("allow_partial", False))
        except CollectionNotFoundError:
            return self.create_collection(name, **kwargs)

    def list_collections(self) -> list[str]:
        from ray.util import list_named_actors

        prefix = "collection:"
        names = list_named_actors(all_namespaces=True)
        return sorted(a["name"][len(prefix):] for a in names
                      if a.get("namespace") == NAMESPACE and a["name"].startswith(prefix))

    def drop_collection(self, name: str) -> None:
        """Kill a collection's actors and free its placement groups (the data folders stay)."""
        import ray
        from ray.util.placement_group import get_placement_group, remove_placement_group

        col = self.get_collection(name)
        ray.get(col._router.controller.stop.remote(), timeout=30)
        for group in col._router.replicas:
            for h in group:
                ray.kill(h, no_restart=True)
        ray.kill(col._router.controller, no_restart=True)
        for s in range(col.shards):
            with contextlib.suppress(Exception):
                remove_placement_group(get_placement_group(f"{name}/s{s}"))

    # ---- data in and out -------------------------------------------------------------------
    def ingest(self, paths: Sequence[str | Path], *, collection: str, actors: int = 2,
               batch_size: int = 32, write_batch: int = 64, progress: bool | None = None,
               filesystem: Any = None) -> IngestReport:
        """Index files, folders and ``.jsonl`` files as a Ray Data job (read -> chunk -> embed on
        an actor pool -> write to the shard primaries): local paths, ``pyarrow.fs`` URIs
        (``s3://bucket/docs``, ``file:///data``) or paths in ``filesystem`` (any
        ``pyarrow.fs.FileSystem``). See ``akindb.distributed.ingest`` and ``.sources``."""
        from akindb.distributed.ingest import run_ingest

        return run_ingest(self, paths, collection=collection, actors=actors,
                          batch_size=batch_size, write_batch=write_batch, progress=progress,
                          filesystem=filesystem)

    def import_collection(self, path: str | Path, name: str, *, shards: int = 1,
                          replicas: int = 2, source: str | None = None, index: str = "flat",
                          batch: int = 256) -> DistributedCollection:
        """Copy an embedded collection (``source`` in the database at ``path``, default
        ``name``) into a new cluster collection: rows and vectors, nothing re-embedded."""
        from akindb.distributed.moving import import_collection

        col = import_collection(self, Path(path), name, shards=shards, replicas=replicas,
                                source=source or name, index=index, batch=batch)
        # moving.py types against handles.ClusterHandle; this cluster hands out its own kind.
        return cast(DistributedCollection, col)

    # ---- operations --------------------------------------------------------------------------
    def status(self, names: Sequence[str] | None = None) -> dict[str, Any]:
        """Nodes, and per collection (``names``, default all) each shard's replicas: node,
        role, epoch, lag in log entries behind the primary, readiness."""
        import ray

        out: dict[str, Any] = {"address": self.address, "nodes": self.nodes(),
                               "collections": {}}
        for name in self.list_collections() if names is None else names:
            ctl = ray.get_actor(_controller_name(name), namespace=NAMESPACE)
            st = ray.get(ctl.reconcile.remote(), timeout=60)
            shards = []
            for s, (p, epoch) in enumerate(st["view"]):
                reps = [st["replicas"].get(f"{s}/{i}") for i in range(len(st["replicas"]))
                        if f"{s}/{i}" in st["replicas"]]
                head = reps[p]["applied"] if p < len(reps) and reps[p] else None
                shards.append({
                    "shard": s, "primary": p, "epoch": epoch,
                    "replicas": [
                        {"replica": i, "alive": r is not None,
                         **({} if r is None else {
                             "node": r["node"][:12], "role": r["role"], "ready": r["ready"],
                             "documents": r["documents"],
                             "lag": None if head is None else head - r["applied"]})}
                        for i, r in enumerate(reps)
                    ],
                })
            out["collections"][name] = {"shards": shards}
        return out

    def kill_node(self, i: int) -> str:
        """SIGKILL every process of local node ``i`` (1.. ; 0 is the head). Local only: for
        tests and demos. Returns the node id."""
        if self._local is None:
            raise ClusterError("kill_node works on Cluster.local() clusters only")
        if not 1 <= i < len(self._nodes) or self._nodes[i] is None:
            raise ClusterError(f"no live worker node {i} (workers are 1..{len(self._nodes) - 1})")
        node = self._nodes[i]
        node_id = str(node.node_id)
        self._local.remove_node(node, allow_graceful=False)
        self._nodes[i] = None
        return node_id

    def add_node(self, num_cpus: int = 1, object_store_mb: int = 128) -> int:
        """Start one more local node; returns its number."""
        if self._local is None:
            raise ClusterError("add_node works on Cluster.local() clusters only; use ray start")
        node = self._local.add_node(num_cpus=num_cpus, node_ip_address="127.0.0.1",
                                    object_store_memory=object_store_mb * 1024 * 1024)
        self._nodes.append(node)
        return len(self._nodes) - 1

    def shutdown(self) -> None:
        """Disconnect; a local cluster is stopped (its folder stays)."""
        import ray

        if ray.is_initialized():
            ray.shutdown()
        if self._local is not None:
            self._local.shutdown()
            self._local = None

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def __repr__(self) -> str:
        kind = "local" if self._local is not None else "remote"
        return f"Cluster({self.address!r}, {kind})"
