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
