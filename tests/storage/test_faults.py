"""Real faults, not mocks: a full disk (a tiny tmpfs), a read-only filesystem (remounted ro),
and two processes writing at once. Each gives a clear error and loses nothing acknowledged."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import akindb
from akindb import errors

WRITER = Path(__file__).with_name("_writer.py")


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    """A 1.5 MB tmpfs mounted for this test (needs root; skipped where mounting is refused)."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1536k", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
    )
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_full_disk_keeps_acknowledged_writes(tiny_fs: Path) -> None:
    rng = np.random.default_rng(0)
    acked: list[str] = []
    with akindb.open(tiny_fs / "db") as db:
        col = db.create_collection("v", model=None, dim=64)
        with pytest.raises(errors.DiskFullError, match=r"disk .* is full"):
            for i in range(10_000):
                ids = [f"{i}-{j}" for j in range(20)]
                col.add(ids=ids, vectors=rng.normal(size=(20, 64)), texts=["x" * 200] * 20)
                acked.extend(ids)
        assert len(acked) > 100
        # The failed batch was rolled back; everything acknowledged is still there.
        assert col.count() == len(acked)
    # Reopen on the still-full disk: reads work and nothing acknowledged is missing.
    with akindb.open(tiny_fs / "db") as db:
        col = db.get_collection("v")
        assert col.count() == len(acked)
        got = {r.id for r in col.get(acked[-20:])}
        assert got == set(acked[-20:])
        vec = col.vectors_of(acked[0])[0]
        assert col.search_vector(vec, k=1)[0].id == acked[0]


def test_read_only_filesystem_is_a_clear_error(tiny_fs: Path) -> None:
    with akindb.open(tiny_fs / "db") as db:
        col = db.create_collection("v", model=None, dim=4)
        col.add(ids=["a"], vectors=np.eye(4)[:1])
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_fs)], check=True)
    # Reads still work on a read-only filesystem; writes are refused with a clear error.
    with akindb.open(tiny_fs / "db") as db:
        col = db.get_collection("v")
        assert col.search_vector(np.eye(4)[0], k=1)[0].id == "a"
        with pytest.raises(errors.ReadOnlyError, match="cannot be written"):
            col.add(ids=["b"], vectors=np.eye(4)[1:2])
        assert col.count() == 1
    with pytest.raises(errors.ReadOnlyError):
        akindb.open(tiny_fs / "other")


def test_two_writer_processes_take_turns(tmp_path: Path) -> None:
    """Two processes add to the same collection at once: both finish, nothing is lost."""
    db_path = tmp_path / "db"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    subprocess.run(
        [sys.executable, str(WRITER), str(db_path), "plain", "1", "0"],
        check=True,
        env=env,
        capture_output=True,
        timeout=120,
    )
    procs = [
        subprocess.Popen(
            [sys.executable, str(WRITER), str(db_path), "plain", "15", str(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for start in (100, 200)
    ]
    outs = [p.communicate(timeout=180) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        assert out.count("ACK") == 15
    from tests.conftest import HashEmbedder

    with akindb.open(db_path, create=False) as db:
        col = db.get_collection("crash", model=HashEmbedder())
        assert col.count() == 3 + 2 * 15 * 3
        ids = {r.id for r in col.get()}
        assert {f"b{b}-{j}" for b in range(100, 115) for j in range(3)} <= ids
        assert {f"b{b}-{j}" for b in range(200, 215) for j in range(3)} <= ids
