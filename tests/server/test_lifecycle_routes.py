"""The stats route shows index_stats() with the recall monitor's live estimate."""

from __future__ import annotations

import httpx
import numpy as np

import akindb
from akindb.collection import monitor
from tests.server.conftest import Servers


def test_index_stats_route_shows_the_recall_estimate(servers: Servers) -> None:
    db = akindb.open(servers.tmp / "db")
    col = db.create_collection("v", model=None, dim=16, index="lsh",
                               index_params={"probes": 0, "n_tables": 1, "n_bits": 4})
    rng = np.random.default_rng(0)
    col.add(vectors=rng.standard_normal((1500, 16)).astype(np.float32))
    monitor.configure(col, rate=1.0)
    for q in rng.standard_normal((12, 16)).astype(np.float32):
        col.search_vector(q, 10)
    monitor.drain()
    db.close()
    srv = servers.start(auth=False)
    stats = httpx.get(f"{srv.url}/v1/collections/v/index_stats").json()
    assert stats["kind"] == "lsh" and stats["size"] == 1500
    rm = stats["recall_monitor"]
    assert rm["samples"] == 12 and 0.0 < rm["recall"] <= 1.0 and rm["rate"] == 1.0
    missing = httpx.get(f"{srv.url}/v1/collections/nope/index_stats")
    assert missing.status_code == 404
