"""Regression tests for what issue 13's reliability campaign (bench/reliability/) found. Each
is named after the finding and failed before its fix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import akindb
from akindb.index.base import IndexFileError
from akindb.index.registry import index_class


@pytest.mark.parametrize("kind", ["flat", "lsh", "quantized"])
def test_fuzz_bitflipped_index_file_is_rebuilt_not_trusted(tmp_path: Path, kind: str) -> None:
    """fuzz.py (index): a flipped bit in an index body loaded with other labels than saved."""
    rng = np.random.default_rng(0)
    with akindb.open(tmp_path / "db") as db:
        col = db.create_collection("c", model=None, dim=8, index=kind)
        col.add(ids=[f"i{j}" for j in range(40)], vectors=rng.normal(size=(40, 8)))
        col.flush()
        path = col.parts.live.path
        want = np.sort(col.parts.live.get().labels())
    data = path.read_bytes()
    cls = index_class(kind)
    probe = tmp_path / f"probe.{kind}"
    found = None
    for pos in range(len(data) - 1, 0, -1):  # find a flip the reader alone does not notice
        b = bytearray(data)
        b[pos] ^= 0x10
        probe.write_bytes(bytes(b))
        try:
            with np.errstate(all="ignore"):
                index, _ = cls.load(probe)
                labels = np.sort(index.labels())
        except (IndexFileError, ValueError, OSError):
            continue
        if not np.array_equal(labels, want):
            found = bytes(b)
            break
    assert found is not None, "no undetected flip found: the reader checks this itself now"
    path.write_bytes(found)
    with akindb.open(tmp_path / "db") as db:
        col = db.get_collection("c")
        got = np.sort(col.parts.live.get().labels())
        assert np.array_equal(got, want)
        assert "checksum" in col.parts.live.last_event


def test_disk_faults_write_after_the_database_file_was_deleted_is_refused(
    tmp_path: Path,
) -> None:
    """disk_faults.py: with the SQLite file deleted under a running server, an add was
    acknowledged (200) into the deleted file, lost at the next start."""
    from akindb import errors

    db = akindb.open(tmp_path / "db")
    col = db.create_collection("c", model=None, dim=2)
    col.add(ids=["a"], vectors=[[1, 0]])
    (tmp_path / "db" / "akindb.sqlite").unlink()
    with pytest.raises(errors.StorageError, match="deleted or replaced"):
        col.add(ids=["b"], vectors=[[0, 1]])
    with pytest.raises(errors.StorageError, match="deleted or replaced"):
        col.delete(["a"])
    db.close()
