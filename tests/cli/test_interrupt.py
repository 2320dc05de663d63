"""Ctrl-C during ``akindb index``: exit 130 with a message, the database stays consistent, and
the next run resumes (already-committed files are not embedded again)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.realdata import extract_pydocs


def _docs(db: Path) -> int:
    try:
        with sqlite3.connect(db / "akindb.sqlite", timeout=30) as conn:
            return int(conn.execute("SELECT count(*) FROM documents").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_then_resume(tmp_path: Path) -> None:
    pages = ["library/random.rst.txt", "library/zipfile.rst.txt", "library/json.rst.txt",
             "library/atexit.rst.txt", "library/copy.rst.txt", "library/getpass.rst.txt"]
    folder = extract_pydocs(tmp_path / "docs", pages)  # ~150 chunks: several commits
    db = tmp_path / "db"
    exe = str(Path(sys.executable).with_name("akindb"))
    # As in a terminal: Ctrl-C is not ignored. (A test run started in the background of a
    # non-interactive shell inherits SIGINT ignored, and Python then keeps ignoring it.)
    with subprocess.Popen([exe, "index", str(folder), "--db", str(db), "--json"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          preexec_fn=_default_sigint) as proc:
        deadline = time.monotonic() + 300
        while _docs(db) == 0 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        assert proc.poll() is None, "indexing finished before it could be interrupted"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    stopped = json.loads(out.splitlines()[-1])["error"]  # under --json, errors are JSON too
    assert stopped["code"] == "interrupted" and "resume" in stopped["message"]
    done_before = _docs(db)
    assert 0 < done_before < 6
    res = subprocess.run([exe, "index", str(folder), "--db", str(db), "--json"],
                         capture_output=True, text=True, timeout=600, env=dict(os.environ))
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["unchanged"] == done_before
    assert report["added"] == 6 - done_before
    assert _docs(db) == 6


def test_progress_never_counts_a_file_that_is_not_saved(tmp_path: Path) -> None:
    """Issue 12.16: at Ctrl-C the bar said 5/17 files while 4 were saved (files wait in a
    batch before their commit). Interrupted at any report, the files reported as done are
    exactly the files saved."""
    import pytest

    import akindb
    from akindb.text.chunking import ChunkingParams
    from tests.conftest import HashEmbedder

    folder = tmp_path / "files"
    folder.mkdir()
    for i in range(17):  # 5 chunks each: a batch of 64 chunks commits every 13 files
        paras = [f"file {i} part {j} " + "word " * 120 for j in range(5)]
        (folder / f"f{i:02d}.txt").write_text("\n\n".join(paras))
    for stop_at in (3, 5, 14, 16):
        with akindb.open(tmp_path / f"db{stop_at}") as db:
            col = db.create_collection("c", model=HashEmbedder(),
                                       chunking=ChunkingParams(max_tokens=128, overlap_tokens=0))
            calls: list[tuple[int, int, int]] = []

            def tick(done: int, total: int, chunks: int,
                     calls: list[tuple[int, int, int]] = calls, stop_at: int = stop_at) -> None:
                calls.append((done, total, chunks))
                if len(calls) == stop_at:  # the user presses Ctrl-C after this report
                    raise KeyboardInterrupt

            with pytest.raises(KeyboardInterrupt):
                col.add_files([folder], progress=tick)
            done, total, chunks = calls[-1]
            assert (done, total) == (col.count(), 17), calls
            assert chunks == col.count_chunks()
