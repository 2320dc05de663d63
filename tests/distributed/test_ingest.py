"""``Cluster.ingest`` (Ray Data): the same documents as a clean run, resumable after a kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from akindb.distributed import Cluster
from akindb.distributed.ray_env import wait_until
from akindb.errors import InvalidArgumentError
from tests.distributed.conftest import corpus_dir

pytestmark = [pytest.mark.distributed, pytest.mark.timeout(300)]

_INGEST = """
import os, sys
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
from akindb.distributed import Cluster
c = Cluster.connect(sys.argv[1], timeout=60)
c.ingest([sys.argv[2]], collection=sys.argv[3], actors=1, batch_size=8, write_batch=8,
         progress=False)
"""


def _inputs(tmp_path: Path, nf_docs: list[tuple[str, str]]) -> tuple[Path, int]:
    root = corpus_dir(tmp_path, nf_docs[:30])
    with open(root / "extra.jsonl", "w", encoding="utf-8") as f:
        for doc_id, text in nf_docs[30:40]:
            f.write(json.dumps({"id": f"jl-{doc_id}", "text": text, "metadata": {"j": 1}}) + "\n")
    return root, 40


def test_ingest_matches_a_clean_run_after_a_kill(cluster: Cluster, tmp_path: Path,
                                                 nf_docs: list[tuple[str, str]]) -> None:
    root, n_docs = _inputs(tmp_path, nf_docs)
    clean = cluster.create_collection("ing-clean", shards=1, replicas=1)
    rep = cluster.ingest([root], collection="ing-clean", actors=2, progress=False)
    assert rep.added == n_docs and rep.files == 31 and clean.count() == n_docs
    assert {r.id for r in clean.get(where={"j": 1})} == {f"jl-{d}" for d, _ in nf_docs[30:40]}
    hit = clean.search(nf_docs[3][1][:200], k=1, mode="vector", exact=True)[0]
    assert hit.id == str((root / f"{nf_docs[3][0]}.txt").resolve())

    killed = cluster.create_collection("ing-killed", shards=2, replicas=2)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-c", _INGEST, cluster.address, str(root),
                             "ing-killed"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        assert wait_until(lambda: killed.count() > 0 or proc.poll() is not None, 240)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    halfway = killed.count()
    time.sleep(1)
    rerun = cluster.ingest([root], collection="ing-killed", actors=1, progress=False)
    assert rerun.unchanged == halfway  # nothing stored before the kill was embedded again
    assert killed.count() == clean.count() == n_docs
    assert killed.count_chunks() == clean.count_chunks()
    ids = [r.id for r in killed.get()]
    assert len(ids) == len(set(ids)) == n_docs
    cluster.drop_collection("ing-clean")
    cluster.drop_collection("ing-killed")


def test_ingest_reads_through_a_pyarrow_filesystem(cluster: Cluster, tmp_path: Path,
                                                    nf_docs: list[tuple[str, str]]) -> None:
    """``filesystem=`` (here a ``SubTreeFileSystem``: paths are relative to its root, which
    the read tasks can only resolve through it) and ``file://`` URIs."""
    import pyarrow.fs as pafs

    root = corpus_dir(tmp_path, nf_docs[:12])
    with open(root / "extra.jsonl", "w", encoding="utf-8") as f:
        for doc_id, text in nf_docs[34:38]:
            f.write(json.dumps({"id": f"jl-{doc_id}", "text": text, "metadata": {"j": 1}}) + "\n")
    sub = pafs.SubTreeFileSystem(str(tmp_path), pafs.LocalFileSystem())
    col = cluster.create_collection("ing-fs", shards=2, replicas=1)
    rep = cluster.ingest(["corpus"], collection="ing-fs", actors=1, progress=False,
                         filesystem=sub)
    assert rep.files == 13 and rep.added == 12 + 4 and col.count() == 16
    first = f"subtree://corpus/{nf_docs[0][0]}.txt"
    rec = col.get(first)[0]
    assert rec.source == first and rec.metadata["filename"] == f"{nf_docs[0][0]}.txt"
    assert {r.id for r in col.get(where={"j": 1})} == {f"jl-{d}" for d, _ in nf_docs[34:38]}
    hit = col.search(nf_docs[5][1][:200], k=1, mode="vector", exact=True)[0]
    assert hit.id == f"subtree://corpus/{nf_docs[5][0]}.txt"
    again = cluster.ingest(["corpus"], collection="ing-fs", actors=1, progress=False,
                           filesystem=sub)
    assert again.unchanged == 16 and again.added == 0 and col.count() == 16
    # a file:// URI is the local path: the same ids as ingesting the folder by path
    uri = cluster.ingest([root.resolve().as_uri()], collection="ing-fs", actors=1,
                         progress=False)
    by_path = cluster.ingest([root], collection="ing-fs", actors=1, progress=False)
    assert uri.added == 12 and by_path.unchanged == 16 and col.count() == 28
    assert uri.updated == 4  # the JSONL lines keep their ids; their source is now the file
    assert col.get(str((root / f"{nf_docs[0][0]}.txt").resolve()))
    with pytest.raises(InvalidArgumentError, match="bogus://x"):
        cluster.ingest(["bogus://x"], collection="ing-fs", progress=False)
    with pytest.raises(InvalidArgumentError, match="does not exist"):
        cluster.ingest(["nope"], collection="ing-fs", filesystem=sub, progress=False)
    cluster.drop_collection("ing-fs")
