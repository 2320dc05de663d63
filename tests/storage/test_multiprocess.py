"""A writer process adds while this (reader) process searches: new rows appear at the next
query, with no rebuild and no error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import akindb
from tests.conftest import HashEmbedder

WRITER = Path(__file__).with_name("_writer.py")


def test_reader_sees_writer_rows_at_next_query(tmp_path: Path) -> None:
    db_path = tmp_path / "db"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    # Seed a few rows so the reader has an index to keep up to date.
    subprocess.run(
        [sys.executable, str(WRITER), str(db_path), "plain", "2", "0"],
        check=True,
        env=env,
        capture_output=True,
        timeout=120,
    )
    db = akindb.open(db_path, create=False)
    col = db.get_collection("crash", model=HashEmbedder())
    assert col.count() == 6
    col.search("river mountain", k=3)
    seen = 0
    with subprocess.Popen(
        [sys.executable, str(WRITER), str(db_path), "plain", "30", "100"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            if not line.startswith("ACK"):
                continue
            _, _batch, *ids = line.split()
            # The reader searches while the writer keeps writing; the acknowledged doc is found.
            vec = col.vectors_of(ids[0])[0]
            hits = col.search_vector(vec, k=1)
            assert hits[0].id == ids[0]
            assert hits[0].text == col.get([ids[0]])[0].chunks[0].text
            seen += 1
        assert proc.wait(timeout=60) == 0
    assert seen == 30
    assert col.count() == 6 + 90
    db.close()
