"""EIO on write (issue 13, disk faults): real I/O errors injected into a real akindb process
with ``strace -e inject`` (bench/reliability/eio.py). Skipped where strace is missing or
cannot trace (``apt-get install strace``; some containers forbid ptrace)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench" / "reliability"))

import eio  # noqa: E402

import akindb  # noqa: E402

pytestmark = pytest.mark.skipif(not eio.strace_available(),
                                reason="strace is missing or cannot trace here "
                                       "(apt-get install strace)")

# Opens (or creates) a database, adds 40 one-vector documents one call each and prints, on a
# channel strace leaves alone (writev), what each call did.
WRITER = textwrap.dedent("""
    import json, os, sys
    import numpy as np
    import akindb
    def say(obj): os.writev(1, [(json.dumps(obj) + "\\n").encode()])
    try:
        db = akindb.open(sys.argv[1])
        col = db.get_or_create_collection("v", model=None, dim=8)
    except Exception as exc:
        say({"open": type(exc).__module__ + "." + type(exc).__name__, "message": str(exc)})
        raise SystemExit(0)
    for i in range(40):
        try:
            col.add(["t"], ids=[f"x{i}"], vectors=[np.full(8, i + 1.0, dtype="float32")])
            say({"ack": f"x{i}"})
        except Exception as exc:
            say({"fail": f"x{i}", "error": type(exc).__module__ + "." + type(exc).__name__,
                 "message": str(exc)})
""")


def run_writer(db: Path, inject: str) -> list[dict[str, str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    r = subprocess.run(
        ["strace", "-f", "-qq", "-o", os.devnull, "-e", f"trace={inject.split(':')[0]}",
         "-e", f"inject={inject}", sys.executable, "-c", WRITER, str(db)],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )
    assert "Traceback" not in r.stderr, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()]


def test_eio_on_write_says_what_happened_and_what_to_do(tmp_path: Path) -> None:
    """SQLite's bare "disk I/O error" reached callers as "database error on …: disk I/O
    error", which says neither what happened nor what to do."""
    db = tmp_path / "db"
    with akindb.open(db) as d:
        d.create_collection("v", model=None, dim=8)
    lines = run_writer(db, "pwrite64:error=EIO:when=40+")
    fails = [x for x in lines if "fail" in x]
    assert fails, lines
    for f in fails:
        assert f["error"] == "akindb.errors.StorageError"
        assert "I/O error" in f["message"] and "retry" in f["message"]
        assert not f["message"].startswith("database error on")
    acked = [x["ack"] for x in lines if "ack" in x]
    with akindb.open(db, create=False) as d:  # no faults now: all acknowledged, file sound
        assert d.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        got = {r.id for r in d.get_collection("v").get()}
    assert set(acked) <= got


def test_eio_while_creating_a_database_reports_the_io_error_not_the_rollback(
        tmp_path: Path) -> None:
    """An EIO at the migration's COMMIT made the ROLLBACK after it raise "cannot rollback - no
    transaction is active", and that replaced the real error."""
    db = tmp_path / "db"
    lines = run_writer(db, "pwrite64:error=EIO:when=12+")
    assert lines and "open" in lines[0], lines
    assert lines[0]["open"] == "akindb.errors.StorageError"
    assert "I/O error" in lines[0]["message"]
    assert "cannot rollback" not in lines[0]["message"]
    with akindb.open(db) as d:  # the disk is fine again: the database is created normally
        assert d.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_eio_short_mode_loses_nothing(tmp_path: Path) -> None:
    res = eio.campaign(8, seed=3, work=tmp_path, n_ops=12)
    assert res["trials"] == 8 and res["failed_ops"] > 0 and res["acknowledged_ops"] > 0
    assert res["failures"] == []


def test_eio_checker_flags_a_raw_sqlite_message() -> None:
    assert eio.unclear("database error on /x/akindb.sqlite: disk I/O error")
    assert eio.unclear("something broke")
    assert eio.unclear("the disk holding x reported an I/O error; check it and retry") is None


def test_eio_under_akindb_index_is_a_clear_cli_error_and_a_rerun_finishes(
        tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for i in range(3):
        (src / f"f{i}.txt").write_text(f"hello world document {i} about rivers\n")
    db = tmp_path / "db"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "COLUMNS": "200"}
    cli = [sys.executable, "-m", "akindb.cli.main", "index", str(src), "--db", str(db)]
    r = subprocess.run(["strace", "-f", "-qq", "-o", os.devnull, "-e", "trace=pwrite64",
                        "-e", "inject=pwrite64:error=EIO:when=20+", *cli],
                       capture_output=True, text=True, env=env, timeout=300, check=False)
    out = r.stdout + r.stderr
    assert r.returncode != 0 and "Traceback" not in out
    assert "I/O error" in out and "retry" in out
    r = subprocess.run(cli, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    with akindb.open(db, create=False) as d:
        assert d.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert d.get_collection("default").count() == 3
