"""``akindb cluster up/down/status`` and ``index``/``search`` with ``--cluster``, as a user runs
them (subprocesses against real clusters)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from akindb.distributed import Cluster
from tests.distributed.conftest import corpus_dir

pytestmark = [pytest.mark.distributed, pytest.mark.timeout(300)]


def _akindb(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path),
           "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    return subprocess.run([sys.executable, "-m", "akindb.cli.main", *args], env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_index_search_and_status_on_a_cluster(cluster: Cluster, tmp_path: Path,
                                              nf_docs: list[tuple[str, str]]) -> None:
    docs = corpus_dir(tmp_path, nf_docs[:8])
    r = _akindb("index", str(docs), "--cluster", cluster.address, "-c", "cli", "--shards", "2",
                "--replicas", "2", "--json")
    assert r.returncode == 0, r.stderr[-2000:]
    rep = json.loads(r.stdout.strip().splitlines()[-1])
    assert rep["added"] == 8 and rep["collection"] == "cli"
    want = str((docs / f"{nf_docs[2][0]}.txt").resolve())
    r = _akindb("search", nf_docs[2][1][:300], "--cluster", cluster.address, "-c", "cli",
                "--mode", "vector", "-k", "1", "--json")
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads(r.stdout.strip().splitlines()[-1])["id"] == want
    r = _akindb("cluster", "status", "--cluster", cluster.address, "--json")
    assert r.returncode == 0, r.stderr[-2000:]
    st = json.loads(r.stdout.strip().splitlines()[-1])
    assert len(st["collections"]["cli"]["shards"]) == 2
    cluster.drop_collection("cli")


def test_unknown_address_fails_fast_with_exit_code(tmp_path: Path) -> None:
    r = _akindb("search", "x", "--cluster", "127.0.0.1:9", "-c", "web", timeout=60)
    assert r.returncode == 1 and "no Ray cluster answers at 127.0.0.1:9" in r.stderr


def test_cluster_up_and_down_end_their_processes(tmp_path: Path) -> None:
    d = tmp_path / "cl"
    r = _akindb("cluster", "up", "--local", "--nodes", "1", "--dir", str(d), "--json")
    assert r.returncode == 0, r.stderr[-2000:]
    state = json.loads(r.stdout.strip().splitlines()[-1])
    assert state["pids"] and (d / "cluster.json").exists()
    r = _akindb("cluster", "down", "--dir", str(d))
    assert r.returncode == 0, r.stderr[-2000:]
    for pid in state["pids"]:
        try:
            os.kill(pid, 0)
            alive = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except (ProcessLookupError, FileNotFoundError):
            alive = False
        assert not alive, pid
    assert not (d / "cluster.json").exists()
