"""Kill an ingesting process with SIGKILL at random moments: every acknowledged write survives,
no partial document or batch is visible, and the database keeps working."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import akindb
from tests.conftest import HashEmbedder
from tests.storage._writer import doc_text

WRITER = Path(__file__).with_name("_writer.py")
KILLS = 20


def _acked(output: str) -> dict[int, list[str]]:
    """The batches a killed writer acknowledged: only whole lines count. A SIGKILL can land
    between two writes of one line, leaving a torn last line such as ``ACK`` with no newline:
    that batch was never acknowledged to anyone (CI once failed on exactly that)."""
    out: dict[int, list[str]] = {}
    for line in output.splitlines(keepends=True):
        parts = line.split()
        if line.endswith("\n") and len(parts) >= 3 and parts[0] == "ACK":
            out[int(parts[1])] = parts[2:]
    return out


def test_a_torn_last_line_is_not_an_acknowledgement() -> None:
    out = "ACK 945 b945-0 b945-1 b945-2\nACK 946 b946-0 b946-1 b946-2\nACK"
    assert _acked(out) == {945: ["b945-0", "b945-1", "b945-2"], 946: ["b946-0", "b946-1", "b946-2"]}
    assert _acked("ACK 947 b947-0 b9") == {}


def test_sigkill_during_ingest_loses_no_acknowledged_write(tmp_path: Path) -> None:
    db_path = tmp_path / "db"
    rng = random.Random(1234)
    acknowledged: dict[int, list[str]] = {}
    next_batch = 0
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    for _ in range(KILLS):
        with subprocess.Popen(
            [sys.executable, str(WRITER), str(db_path), "crash", "100000", str(next_batch)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        ) as proc:
            # Let it start and write for a random while, then kill it without warning.
            assert proc.stdout is not None
            first = proc.stdout.readline()  # wait until at least one batch is acknowledged
            time.sleep(rng.uniform(0.0, 0.4))
            proc.send_signal(signal.SIGKILL)
            rest, _ = proc.communicate(timeout=30)
        acks = _acked(first + rest)
        acknowledged.update(acks)
        if acks:
            next_batch = max(acks) + 1
        # After each kill the database opens and holds every acknowledged write.
        _check(db_path, acknowledged)
    assert len(acknowledged) >= KILLS


def _check(db_path: Path, acknowledged: dict[int, list[str]]) -> None:
    with akindb.open(db_path, create=False) as db:
        col = db.get_collection("crash", model=HashEmbedder())
        records = col.get(limit=None)
        by_batch: dict[int, list[str]] = {}
        for r in records:
            by_batch.setdefault(int(r.metadata["batch"]), []).append(r.id)
            # No partial document: chunks tile the stored text exactly.
            assert r.chunks, r.id
            for c in r.chunks:
                assert r.text[c.start : c.end] == c.text
        for b, ids in acknowledged.items():
            assert sorted(by_batch.get(b, [])) == sorted(ids), f"lost acknowledged batch {b}"
            rec = col.get([ids[0]])[0]
            j = int(ids[0].split("-")[1])
            assert rec.text == doc_text(b, j)
        # No partial batch: a batch is all three documents or none.
        assert all(len(v) == 3 for v in by_batch.values())
        # The index agrees with SQLite: searching a stored chunk's own vector finds it.
        some = records[len(records) // 2]
        vec = col.vectors_of(some.id)[0]
        hits = col.search_vector(vec, k=3)
        assert hits and hits[0].id == some.id and np.isclose(hits[0].score, 1.0, atol=1e-5)
        assert col.count_chunks() == sum(len(r.chunks) for r in records)
