"""Index maintenance and ``info`` of a distributed collection, run on every replica and
summed into the embedded engine's typed reports (``collection.reports``): ``tune``,
``index_stats``, ``compact``, ``info``; and the model pin (``embedder``, ``check_model``),
checked in this process. A mixin of ``DistributedCollection``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from akindb.collection.reports import CollectionInfo, CompactReport, IndexStats, TuneReport
from akindb.core.vectors import as_matrix
from akindb.models.base import Embedder, ModelSpec, check_pinned

if TYPE_CHECKING:
    from akindb.distributed.router import Router
    from akindb.types import Metric


class ClusterMaintenance:
    """What ``DistributedCollection`` provides these methods (its router and layout)."""

    _router: Router
    _info: dict[str, Any]
    shards: int
    replicas: int

    @property
    def name(self) -> str:
        raise NotImplementedError

    @property
    def metric(self) -> Metric:
        raise NotImplementedError

    @property
    def dim(self) -> int:
        raise NotImplementedError

    def _read(self, method: str, *args: Any, **kwargs: Any) -> tuple[list[Any], list[int]]:
        raise NotImplementedError

    # ---- the model pin -----------------------------------------------------------------------
    _embedder: Embedder | None = None

    @property
    def embedder(self) -> Embedder:
        """The pinned model in this process (for ``more_like(text=...)`` and token counts)."""
        if self._embedder is None:
            from akindb.errors import ModelError
            from akindb.models.registry import load_embedder

            if not self._info.get("model"):
                raise ModelError(
                    f"collection {self.name!r} stores precomputed vectors and has no model; "
                    "pass vectors (add(vectors=...), search_vector) instead of text"
                )
            name = self._info["model"]
            emb = load_embedder(None if name == "default" else name)
            self.check_model(emb)
            self._embedder = emb
        return self._embedder

    def check_model(self, embedder: Embedder | None) -> None:
        """Refuse a model other than the pinned one, naming both (as ``Collection``)."""
        pinned = self._info.get("pinned")
        check_pinned(self.name, self.dim, ModelSpec.from_json(pinned) if pinned else None,
                     embedder)


    # ---- index maintenance (every replica) ---------------------------------------------------
    def tune(
        self,
        target_recall: float = 0.95,
        *,
        k: int = 10,
        n_queries: int = 1000,
        seed: int = 0,
        queries: Any = None,
    ) -> TuneReport:
        """Tune each replica's index (see ``Collection.tune``). The report is the first
        replica's, ``met`` only when every replica met the target, and every replica's report
        under ``shards``."""
        q = None if queries is None else as_matrix(queries, self.dim, self.metric, what="queries")
        res = self._router.every_replica(
            "tune", (target_recall,), {"k": k, "n_queries": n_queries, "seed": seed, "queries": q}
        )
        flat = [_as_dict(r) for r in _leaves(res)]
        base = dict(flat[0]) if flat else {"kind": self._info.get("index"), "k": k, "size": 0,
                                            "target_recall": target_recall, "knob": None}
        base["met"] = all(bool(r.get("met", True)) for r in flat)
        shards = [[None if r is None else _as_dict(r) for r in group] for group in res]
        return TuneReport.from_dict({**base, "shards": shards})

    def index_stats(self) -> IndexStats:
        """Index statistics summed over the shards (one live replica each); per shard under
        ``shards``, and ``missing_shards``."""
        parts, missing = self._read("index_stats")
        rows = [_as_dict(p) for p in parts]
        total = {key: sum(p[key] for p in rows) for key in ("size", "deleted", "file_bytes")
                 if all(isinstance(p.get(key), int) for p in rows)}
        base: dict[str, Any] = dict(rows[0]) if rows else {
            "kind": self._info.get("index"), "params": {}, "size": 0, "built_seq": 0,
            "saved_seq": 0, "deleted": 0, "deleted_fraction": 0.0, "file_bytes": 0,
            "last_event": "no live replica"}
        base.update(total, total=total, shards=rows, missing_shards=missing)
        return IndexStats.from_dict(base)

    def compact(self) -> CompactReport:
        """Compact every replica (see ``Collection.compact``); the numbers are summed."""
        rows = [_as_dict(r) for r in _leaves(self._router.every_replica("compact"))]
        numbers = ("tombstones_dropped", "log_entries_trimmed", "db_bytes_before",
                   "db_bytes_after", "index_bytes_before", "index_bytes_after")
        return CompactReport(
            kind=str(rows[0]["kind"]) if rows else str(self._info.get("index")),
            **{n: sum(int(r.get(n, 0)) for r in rows) for n in numbers},
        )

    def info(self) -> CollectionInfo:
        """Count, model, metric, dims, index, and the layout (shards, replicas)."""
        parts, missing = self._read("info")
        base = _as_dict(parts[0]) if parts else dict(self._info)
        base["documents"] = sum(p["documents"] for p in parts)
        base["chunks"] = sum(p["chunks"] for p in parts)
        base.pop("uuid", None)
        base.update(name=self.name, shards=self.shards, replicas=self.replicas,
                    missing_shards=missing)
        base.setdefault("uuid", "")
        return CollectionInfo.from_dict(base)


def _as_dict(report: Any) -> dict[str, Any]:
    """A replica's report (a typed report or, from an older replica, a dict) as a dict."""
    to_dict = getattr(report, "to_dict", None)
    return dict(to_dict()) if callable(to_dict) else dict(report)


def _leaves(res: Any) -> list[Any]:
    """The reports in ``Router.every_replica``'s answer (nested per shard, per replica)."""
    if isinstance(res, dict) and not hasattr(res, "to_dict") and "kind" not in res:
        return [x for v in res.values() for x in _leaves(v)]
    if isinstance(res, list | tuple):
        return [x for v in res for x in _leaves(v)]
    return [] if res is None else [res]
