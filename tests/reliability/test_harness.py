"""The reliability campaign's short modes (issue 13): each script of bench/reliability/ runs
seeded, in seconds, and must find nothing; and the checkers must catch a planted fault (a
harness that cannot fail proves nothing)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench" / "reliability"))

import common  # noqa: E402
import crash  # noqa: E402
import disk_faults  # noqa: E402
import fuzz  # noqa: E402
import security  # noqa: E402
import soak  # noqa: E402

import akindb  # noqa: E402


def test_crash_short_mode_loses_nothing(tmp_path: Path) -> None:
    res = crash.campaign(8, seed=1, work=tmp_path, max_delay=0.4, copy_every=3)
    assert res["kills"] == 8 and res["power_loss_copies"] >= 2
    assert res["acknowledged_ops"] > 0
    assert res["failures"] == []


def test_crash_checker_catches_a_lost_write_and_a_stale_index(tmp_path: Path) -> None:
    path = tmp_path / "db"
    exp = common.Expected()
    with akindb.open(path) as db:
        col = db.create_collection("v_flat", model=None, dim=common.VDIM)
        ids = ["a", "b", "c", "d"]
        col.add([common.doc_text(i, 1, 5) for i in ids], ids=ids,
                vectors=[common.doc_vector(i, 1) for i in ids],
                metadatas=[{"v": 1, "grp": 0}] * 4)
        exp.apply({"col": "v_flat", "set": dict.fromkeys(ids, 1)})
    assert common.check_database(path, exp) == []
    exp.apply({"col": "v_flat", "set": {"e": 1}})  # acknowledged but not stored
    assert any("e is None" in p for p in common.check_database(path, exp))
    exp.apply({"col": "v_flat", "del": ["e"]})
    with akindb.open(path) as db:  # a row removed behind the index's back (no log entry)
        col = db.get_collection("v_flat")
        col.search_vector(common.doc_vector("a", 1), k=1)
        with db.lock:
            db.conn.execute("DROP TRIGGER chunks_ad")
            db.conn.execute("DELETE FROM chunks WHERE id = (SELECT min(id) FROM chunks)")
        problems = common.check_collection(col, exp.docs["v_flat"], None,
                                           __import__("numpy").random.default_rng(0), False)
    assert any("index has" in p for p in problems)


def test_fuzz_short_mode_finds_nothing(tmp_path: Path) -> None:
    res = fuzz.run(0.004, seed=1, parts=["api", "loaders", "where", "index"])
    assert res["total_inputs"] > 500
    assert res["findings"] == []


@pytest.mark.slow
def test_fuzz_http_short_mode_finds_nothing() -> None:
    res = fuzz.run(0.003, seed=1, parts=["http"])
    assert res["inputs"]["http"] > 20
    assert res["findings"] == []


def test_soak_short_mode_reads_are_consistent(tmp_path: Path) -> None:
    res = soak.run(1, 2, 5.0, tmp_path, compact_every=2.0)
    assert res["reads"] > 0 and res["write_ops"] > 0
    assert res["crashed_processes"] == 0
    assert res["inconsistent_reads"] == 0, res["examples"]
    assert res["counts_exact"] and res["integrity"] == "ok"
    assert res["locked_errors"] == 0


def test_security_short_mode(tmp_path: Path) -> None:
    res = security.run(tmp_path, browser=False)
    assert res["routes"] >= 20 and res["checks"] > 100
    assert res["findings"] == []


def test_disk_faults_short_mode(tmp_path: Path) -> None:
    res = disk_faults.run(tmp_path)
    if len(res["skipped"]) == 2:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    assert res["problems"] == []


@pytest.mark.slow
def test_load_short_mode(tmp_path: Path) -> None:
    import load

    res = load.run(tmp_path, 2.0, 10.0, 20.0, 3, 2)
    assert res["text"]["errors"] == 0 and res["vector"]["errors"] == 0
    assert res["text_with_writer"]["errors"] == 0
    assert res["vector_with_writer"]["errors"] == 0
    assert not res.get("sigterm_ignored")
