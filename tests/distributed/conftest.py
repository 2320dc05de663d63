"""One local 3-node Ray cluster for the distributed tests (started once: ~25 s on 2 cores).

``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` is set before Ray is imported, so every node binds to
127.0.0.1. Tests that kill a node add a fresh one afterwards, so the next test again has 3.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
pytest.importorskip("ray")

from akindb.distributed import Cluster
from tests.conftest import shared_data


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster.local(nodes=3, dir=tmp_path_factory.mktemp("cluster"), object_store_mb=100)
    try:
        yield c
    finally:
        c.shutdown()


@pytest.fixture(scope="session")
def nf_docs() -> list[tuple[str, str]]:
    """The first 120 NFCorpus documents (id, title + text), from ../shared/data/ir/nfcorpus."""
    path = shared_data() / "ir" / "nfcorpus" / "corpus.jsonl.gz"
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            out.append((d["_id"], f"{d.get('title', '')}. {d['text']}"[:1200]))
            if len(out) == 120:
                break
    return out


def ensure_nodes(cluster: Cluster, n: int = 3) -> None:
    """Bring the local cluster back to ``n`` live nodes after a test killed one."""
    while sum(1 for x in cluster.nodes() if x["alive"]) < n:
        cluster.add_node(object_store_mb=100)


def corpus_dir(tmp: Path, docs: list[tuple[str, str]]) -> Path:
    d = tmp / "corpus"
    d.mkdir()
    for doc_id, text in docs:
        (d / f"{doc_id}.txt").write_text(text, encoding="utf-8")
    return d
