"""An index file and its checksum change as one unit (issue 13: the soak once found a new
index file beside the old checksum, rejected and rebuilt): a process opening the collection
while another saves the index again and again always finds a pair that matches. Real
processes, real index files, a real SQLite database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import akindb
from akindb.storage.checksum import (
    ChecksumMismatch,
    checksum_problem,
    load_checked,
    publish,
    sidecar,
)

ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}

SAVER = """
import sys
from pathlib import Path
import numpy as np
import akindb
db, stop = Path(sys.argv[1]), Path(sys.argv[2])
rng = np.random.default_rng(1)
with akindb.open(db) as d:
    col = d.get_collection("v")
    i = 0
    print("SAVING", flush=True)
    while not stop.exists():
        col.add(ids=[f"s{i}"], vectors=rng.normal(size=(1, 8)))
        col.search_vector(rng.normal(size=8), k=1)  # the live index catches up
        col.flush()  # and is saved: a new file and checksum each time
        i += 1
    print(i, flush=True)
"""
"""Adds one document and saves the index, again and again, until the stop file appears."""


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_an_open_during_repeated_saves_never_finds_a_mismatched_pair(
    tmp_path: Path, kind: str
) -> None:
    db = tmp_path / "db"
    rng = np.random.default_rng(0)
    with akindb.open(db) as d:
        col = d.create_collection("v", model=None, dim=8, index=kind)
        col.add(ids=[f"a{i}" for i in range(200)], vectors=rng.normal(size=(200, 8)))
        col.search_vector(rng.normal(size=8), k=1)
        col.flush()
    stop = tmp_path / "stop"
    saver = subprocess.Popen([sys.executable, "-c", SAVER, str(db), str(stop)],
                             stdout=subprocess.PIPE, text=True, env=ENV)
    events: list[str] = []
    try:
        assert saver.stdout is not None
        assert saver.stdout.readline().strip() == "SAVING"
        for _ in range(100):
            with akindb.open(db, create=False) as d:
                col = d.get_collection("v")
                col.search_vector(rng.normal(size=8), k=1)
                events.append(col.parts.live.last_event)
    finally:
        stop.touch()
        out, _ = saver.communicate(timeout=120)
    assert saver.returncode == 0
    assert int(out.split()[-1]) > 0  # the saver really saved while we opened
    rebuilt = [e for e in events if "rebuilt" in e or not e.startswith("loaded")]
    assert not rebuilt, rebuilt[:3]


def test_published_pairs_match_at_every_step(tmp_path: Path) -> None:
    """The order ``publish`` writes in: the checksum file first (accepting the new file and the
    one still in place), then the rename; a save interrupted between the two leaves the old
    file, which still loads; a damaged file is still refused."""
    path = tmp_path / "x.idx"
    old = tmp_path / "old.tmp"
    old.write_bytes(b"old index")
    publish(old, path)
    assert checksum_problem(path) is None
    new = tmp_path / "new.tmp"
    new.write_bytes(b"new index, longer")
    # Crash right after the checksum file was written: simulate by publishing to a copy.
    interrupted = tmp_path / "y.idx"
    interrupted.write_bytes(path.read_bytes())
    sidecar(interrupted).write_bytes(sidecar(path).read_bytes())
    publish(new, path)
    assert load_checked(path, Path.read_bytes) == b"new index, longer"
    sidecar(interrupted).write_bytes(sidecar(path).read_bytes())  # new checksum, old file
    assert load_checked(interrupted, Path.read_bytes) == b"old index"
    path.write_bytes(b"new index, lonker")  # one flipped byte
    with pytest.raises(ChecksumMismatch, match="does not match"):
        load_checked(path, Path.read_bytes)
