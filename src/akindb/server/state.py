"""Per-process server state and the key check: settings, the open database, keys, models."""

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import anyio
import anyio.to_thread
from fastapi import Depends
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from akindb import errors
from akindb.collection import Collection
from akindb.collection.database import Database, validate_name
from akindb.models.base import Embedder
from akindb.protocol import CollectionAPI
from akindb.server.auth import ApiKey, KeyStore
from akindb.server.hardening import not_found
from akindb.server.lane import FastLane
from akindb.server.respond import ApiError
from akindb.server.views import MapCache
from akindb.wire import codes

if TYPE_CHECKING:
    from akindb.server.cluster_state import ClusterCatalog

log = logging.getLogger("akindb.server.app")
T = TypeVar("T")
SETTINGS_ENV = "AKINDB_SERVE_SETTINGS"
"""``akindb serve`` hands its settings (JSON) to each worker process in this variable."""


@dataclass(frozen=True)
class ServerSettings:
    """How a server runs. All but ``embedders`` round-trip through JSON (``to_json``), which is
    how ``--workers N`` rebuilds the app in each process."""

    db: Path
    auth: bool = True
    key_file: Path | None = None
    max_body_bytes: int = 32 * 1024 * 1024
    body_timeout_s: float = 30.0
    fast_lane_ms: float = 5.0
    """CPU budget of a vector search run on the event loop (``lane.FastLane``): an HNSW search
    (≈0.5-2 ms) fits, a 10k-vector exact scan (≈3-10 ms) mostly does not. Over it, the
    collection's searches are offloaded to a thread for a while; 0 offloads every search."""
    search_threads: int = 4
    """Text searches (and context, more_like) worked on at once per worker, in pool threads;
    the rest wait their turn without holding a thread (0: up to the pool's 40). Each runs the
    model and an index search that want every core: with 32 clients on the flat 10k
    benchmark collection, 40 at once served 11 req/s (p99 7.7 s), 4 at once 68 req/s (p99
    0.56 s); on HNSW both gave 75-78 req/s (docs/benchmarks.md, HTTP server)."""
    fast_path: bool = True
    """Answer successful vector searches without FastAPI's routing (``fast.FastPath``)."""
    warm: bool = True
    """Load every collection's model and index at startup, not on its first request."""
    embedders: tuple[Embedder, ...] = ()
    """Models to use instead of loading by name (matched on ``spec.name``): tests, custom."""
    cluster: str | None = None
    """Serve the collections of the Ray cluster at this address (``server.cluster_state``)
    instead of the database at ``db`` (which then only holds the key store)."""

    def to_json(self) -> str:
        if self.embedders:
            raise errors.InvalidArgumentError(
                "settings with injected embedders cannot be sent to worker processes; load "
                "models by name instead"
            )
        d = {k: v for k, v in asdict(self).items() if k != "embedders"}
        d["db"] = str(self.db)
        d["key_file"] = str(self.key_file) if self.key_file is not None else None
        return json.dumps(d, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "ServerSettings":
        """
        >>> s = ServerSettings(db=Path("/tmp/db"), auth=False)
        >>> ServerSettings.from_json(s.to_json()) == s
        True
        """
        d = json.loads(text)
        d["db"] = Path(d["db"])
        d["key_file"] = Path(d["key_file"]) if d.get("key_file") else None
        return cls(**d)


class State:
    """Per-process state: the open database, key store, injected models, map cache, lane."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.db: Database | ClusterCatalog
        if settings.cluster:
            from akindb.server import cluster_state

            self.db = cluster_state.ClusterCatalog.open(settings.cluster, settings.db)
        else:
            self.db = Database(settings.db, create=True)
        self.keys = KeyStore.for_db(self.db.path, settings.key_file)
        self.embedders = {e.spec.name: e for e in settings.embedders}
        self.maps = MapCache()
        # On a cluster every search waits on the network: never inline on the event loop.
        self.lane = FastLane(
            self.db.lock, budget_s=0.0 if settings.cluster else settings.fast_lane_ms / 1000,
            threads=max(1, settings.search_threads) if settings.cluster else 1)
        self._search_limiter: anyio.CapacityLimiter | None = None

    async def searching(self, fn: Callable[[], T]) -> T:
        """Run a text search (model + index) in a pool thread, ``search_threads`` at once."""
        if self.settings.search_threads <= 0:
            return await anyio.to_thread.run_sync(fn)
        if self._search_limiter is None:  # made on first use: it belongs to the event loop
            self._search_limiter = anyio.CapacityLimiter(self.settings.search_threads)
        return await anyio.to_thread.run_sync(fn, limiter=self._search_limiter)

    def resolve_model(self, model: str | None) -> str | Embedder | None:
        if model is not None and model in self.embedders:
            return self.embedders[model]
        return model

    def collection(self, name: str) -> CollectionAPI:
        """The collection ``name`` (embedded, or a cluster's), or a 404."""
        try:
            col = self.db.get_collection(validate_name(name))
        except errors.CollectionNotFoundError:
            raise not_found(name) from None  # not the other names, not the path (issue 13)
        if isinstance(col, Collection):
            spec = col.config.model
            if spec is not None and col.parts.model is None and spec.name in self.embedders:
                col.use_model(self.embedders[spec.name])
        return col

    def warm(self) -> None:
        """Load each collection's model (one call, so its runtime is ready) and index."""
        if not isinstance(self.db, Database):
            self.db.warm()
            return
        for name in self.db.list_collections():
            try:
                col = self.collection(name)
                if isinstance(col, Collection) and col.config.model is not None:
                    col.embedder.embed(["warm up"])
                col.index_stats()
            except errors.AkinError as exc:  # served (and explained) on its first request
                log.warning("could not load collection %r at startup: %s", name, exc)


_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")
_xkey = APIKeyHeader(name="X-API-Key", auto_error=False, description="X-API-Key: <API key>")


async def presented(
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    xkey: Annotated[str | None, Depends(_xkey)],
) -> str | None:
    return bearer.credentials if bearer is not None else xkey


def authenticate(state: State, presented: str | None) -> ApiKey | None:
    """401 unless the key is known, unrevoked and unexpired (``None`` when auth is off)."""
    if not state.settings.auth:
        return None
    res = state.keys.check(presented)
    if res.key is None:
        raise ApiError(401, res.code, res.message)
    return res.key


def authorize(key: ApiKey | None, role: str, name: str | None) -> None:
    """403 unless the key's role and collections cover ``role`` on ``name``."""
    if key is None or key.allows(role, name):
        return
    where = f"collection {name!r}" if name is not None else "every collection ('*')"
    raise ApiError(
        403, codes.FORBIDDEN,
        f"API key {key.id} ({key.role} on {', '.join(key.collections)}) may not do this: it "
        f"needs the {role} role on {where}; ask an admin for such a key",
    )


