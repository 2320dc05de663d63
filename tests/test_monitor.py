"""Recall monitor: sampled real queries re-run exactly in the background; the moving estimate
and its sample size live in SQLite and show in index_stats(), with a warning below target."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

import akindb
from akindb.collection import monitor
from akindb.errors import InvalidArgumentError
from tests.conftest import HashEmbedder

EMB = HashEmbedder(dim=32)
CHEAP = {"probes": 0, "n_tables": 1, "n_bits": 4}
"""An LSH setting that misses true neighbours on 2000 random vectors (recall ~0.5)."""


def _vectors(n: int = 2000, dim: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


_DBS: dict[int, akindb.Database] = {}


def _col(tmp_path: Path, index: str = "lsh", params: dict | None = None) -> akindb.Collection:
    db = akindb.open(tmp_path / "db")
    col = db.create_collection("v", model=None, dim=32, index=index, index_params=params)
    col.add(vectors=_vectors(), ids=[f"v{i}" for i in range(2000)])
    _DBS[id(col)] = db
    return col


def _db(col: akindb.Collection) -> akindb.Database:
    """The database a collection of this module was opened from."""
    return _DBS[id(col)]


def _expected_recall(col: akindb.Collection, qs: np.ndarray, k: int) -> float:
    rs = []
    for q in qs:
        a = {h.id for h in col.search_vector(q, k, exact=False)}
        e = {h.id for h in col.search_vector(q, k, exact=True)}
        rs.append(len(a & e) / len(e))
    return float(np.mean(rs))


def test_samples_measure_recall_and_persist(tmp_path: Path) -> None:
    col = _col(tmp_path, params=CHEAP)
    est = monitor.configure(col, rate=1.0, k=10, target=0.5)
    assert est["samples"] == 0 and est["rate"] == 1.0
    qs = _vectors(40, seed=1)
    for q in qs:
        col.search_vector(q, 10)
    monitor.drain()
    est = col.index_stats()["recall_monitor"]
    assert est["samples"] == 40
    monitor.configure(col, rate=0.0)  # off: the check below samples nothing more
    assert est["recall"] == pytest.approx(_expected_recall(col, qs, 10), abs=1e-9)
    assert 0.0 < est["recall"] < 1.0  # a cheap LSH setting really misses some
    # kept in the database: another process (here: a fresh open) sees it
    path = _db(col).path
    _db(col).close()
    db = akindb.open(path, create=False)
    again = db.get_collection("v")
    assert again.index_stats()["recall_monitor"]["samples"] == 40
    assert again.parts.live.monitor is None  # rate 0 was saved: off after reopening too
    # the recorded real queries drive tune()
    rec = monitor.recorded_queries(again)
    assert rec.shape == (40, 32)
    np.testing.assert_array_equal(np.sort(rec, axis=0), np.sort(qs, axis=0))
    rep = again.tune(0.9, queries=rec)
    assert rep["n_queries"] == 40
    db.close()


def test_off_switch_exact_and_flat_take_no_samples(tmp_path: Path) -> None:
    col = _col(tmp_path)
    monitor.configure(col, rate=1.0)
    for q in _vectors(5, seed=2):
        col.search_vector(q, 5, exact=True)
    monitor.drain()
    assert col.index_stats()["recall_monitor"]["samples"] == 0
    monitor.configure(col, rate=0.0)
    for q in _vectors(5, seed=3):
        col.search_vector(q, 5)
    monitor.drain()
    assert col.index_stats()["recall_monitor"]["samples"] == 0
    flat = _db(col).create_collection("f", model=None, dim=32)
    assert flat.parts.live.monitor is None and flat.index_stats()["recall_monitor"] is None
    with pytest.raises(InvalidArgumentError):
        monitor.configure(col, rate=2.0)
    _db(col).close()


def test_default_rate_samples_about_one_percent(tmp_path: Path) -> None:
    col = _col(tmp_path)
    hook = col.parts.live.monitor
    assert hook is not None and hook.rate == monitor.DEFAULT_RATE
    qs = _vectors(1000, seed=4)
    col.search_vectors(qs[:1], 5)
    for q in qs:
        col.search_vector(q, 5)
    monitor.drain()
    n = col.index_stats()["recall_monitor"]["samples"]
    assert 1 <= n <= 40  # binomial(1001, 0.01): mean 10; this bound fails with p < 1e-9
    _db(col).close()


def test_text_searches_are_sampled_and_low_recall_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = akindb.open(tmp_path / "db")
    col = db.create_collection("t", model=EMB, index="lsh", index_params=CHEAP)
    words = [f"w{j}" for j in range(40)]
    rng = np.random.default_rng(0)
    col.add([" ".join(rng.choice(words, 6)) for _ in range(1500)],
            ids=[f"t{i}" for i in range(1500)], chunk=False)
    monitor.configure(col, rate=1.0, target=0.999)
    with caplog.at_level(logging.WARNING, logger="akindb.collection.monitor"):
        for i in range(monitor.MIN_SAMPLES + 5):
            col.search(f"w{i} w{i + 1} w{i + 7}", k=10, mode="vector")
        monitor.drain()
    est = monitor.recall_estimate(col)
    assert est is not None and est["samples"] >= monitor.MIN_SAMPLES
    assert est["below_target"]
    assert any("below its target" in r.getMessage() for r in caplog.records)
    db.close()


def test_cli_monitor_and_tune_on_recorded_queries(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from akindb.cli.main import app

    runner = CliRunner()
    col = _col(tmp_path, params=CHEAP)
    path = str(_db(col).path)
    _db(col).close()
    res = runner.invoke(app, ["tune", "--db", path, "-c", "v", "--recorded"])
    assert res.exit_code == 2 and "no recorded queries" in " ".join(res.output.split())
    res = runner.invoke(app, ["monitor", "--db", path, "-c", "v", "--rate", "1", "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["rate"] == 1.0
    db = akindb.open(path, create=False)
    c = db.get_collection("v")
    for q in _vectors(15, seed=9):
        c.search_vector(q, 10)
    monitor.drain()
    db.close()
    res = runner.invoke(app, ["monitor", "--db", path, "-c", "v", "--json"])
    assert json.loads(res.stdout)["samples"] == 15
    res = runner.invoke(app, ["tune", "--db", path, "-c", "v", "--recorded", "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["n_queries"] == 15
    res = runner.invoke(app, ["monitor", "--db", path, "-c", "v", "--off", "--json"])
    assert json.loads(res.stdout)["rate"] == 0.0


def test_samples_are_written_unsynced_and_user_writes_stay_synced(tmp_path: Path) -> None:
    """The monitor's bookkeeping commits without an fsync (it held the database lock, and so
    every search, for 8-30 ms per sample on a busy disk); the connection goes back to
    ``synchronous = FULL`` for the acknowledged writes that follow."""
    col = _col(tmp_path, params=CHEAP)
    monitor.configure(col, rate=1.0, k=10)
    seen: list[int] = []
    conn = col.parts.store.conn
    real_record = monitor.RecallMonitor.record

    def spy(self: monitor.RecallMonitor, *a: object) -> None:
        real_record(self, *a)  # type: ignore[arg-type]
        seen.append(int(conn.execute("PRAGMA synchronous").fetchone()[0]))

    monitor.RecallMonitor.record = spy  # type: ignore[method-assign]
    try:
        for q in _vectors(5, seed=3):
            col.search_vector(q, 10)
        monitor.drain()
    finally:
        monitor.RecallMonitor.record = real_record  # type: ignore[method-assign]
    assert seen == [2] * 5  # FULL again after each sample
    assert col.index_stats()["recall_monitor"]["samples"] == 5
    _db(col).close()
