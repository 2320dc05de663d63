"""The distributed collection's surface and bad input that needs no running cluster."""

from __future__ import annotations

import inspect
import subprocess
import sys
import time

import pytest

from akindb.collection import Collection

pytest.importorskip("ray")

from akindb.distributed import Cluster, ClusterError
from akindb.distributed.collection import DistributedCollection, merge_hits
from akindb.distributed.placement import check_layout, shard_of
from akindb.errors import InvalidArgumentError
from akindb.types import Hit

pytestmark = pytest.mark.timeout(120)


def _public(cls: type) -> dict[str, object]:
    return {n: v for n, v in vars(cls).items() if not n.startswith("_")}


def test_same_public_methods_and_signatures_as_collection() -> None:
    try:
        from akindb.protocol import CollectionAPI  # the lead's protocol, when merged
        names = [n for n in dir(CollectionAPI) if not n.startswith("_")]
    except ImportError:
        names = [n for n in _public(Collection) if n not in ("db", "config")]
    assert {"search", "add", "search_vectors", "context", "name", "metric"} <= set(names)
    for name in names:
        emb = inspect.getattr_static(Collection, name)
        dist = inspect.getattr_static(DistributedCollection, name, None)
        assert dist is not None, f"DistributedCollection lacks {name}"
        if isinstance(emb, property):
            assert isinstance(dist, property), name
            assert (inspect.signature(emb.fget).return_annotation  # type: ignore[arg-type]
                    == inspect.signature(dist.fget).return_annotation), name  # type: ignore[arg-type]
            continue
        assert inspect.signature(emb) == inspect.signature(dist), name


def test_merge_uses_tie_stable_top_k() -> None:
    a = [Hit("a1", 0.9, 0.1, ""), Hit("a2", 0.5, 0.5, "")]
    b = [Hit("b1", 0.9, 0.1, ""), Hit("b2", 0.7, 0.3, "")]
    assert [h.id for h in merge_hits([a, b], 3)] == ["a1", "b1", "b2"]
    assert merge_hits([[], []], 5) == []


def test_shard_of_is_stable_across_processes() -> None:
    here = [shard_of(f"doc-{i}", 8) for i in range(50)]
    code = ("from akindb.distributed.placement import shard_of;"
            "print([shard_of(f'doc-{i}', 8) for i in range(50)])")
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout.strip()
    assert str(here) == there
    assert len(set(here)) == 8  # all shards used


@pytest.mark.parametrize(("shards", "replicas", "nodes", "needle"), [
    (0, 1, 3, "shards=0"), (2, 0, 3, "replicas=0"), (1, 4, 3, "replicas=4 > nodes=3"),
    (-1, 2, 3, "shards=-1"),
], ids=["zero-shards", "zero-replicas", "replicas-over-nodes", "negative-shards"])
def test_bad_layout_names_the_numbers(shards: int, replicas: int, nodes: int,
                                      needle: str) -> None:
    with pytest.raises(InvalidArgumentError, match=needle):
        check_layout(shards, replicas, nodes)


def test_unknown_address_is_a_clear_error_within_a_timeout() -> None:
    t0 = time.monotonic()
    with pytest.raises(ClusterError, match=r"no Ray cluster answers at 127\.0\.0\.1:9"):
        Cluster.connect("127.0.0.1:9", timeout=5)
    with pytest.raises(ClusterError, match="not host:port"):
        Cluster.connect("nonsense")
    assert time.monotonic() - t0 < 30


def test_import_akindb_never_imports_ray() -> None:
    code = "import sys, akindb, akindb.cli.main; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"


def test_missing_ray_names_the_extra() -> None:
    code = ("import sys; sys.modules['ray'] = None\n"
            "try:\n    import akindb.distributed\nexcept ImportError as e:\n    print(e)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert "pip install 'akindb[ray]'" in out
