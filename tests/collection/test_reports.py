"""tune / index_stats / compact / info return typed reports that still read like the dicts
they used to be, and round-trip through their JSON form (what the HTTP API sends)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

import akindb
from akindb import CollectionInfo, CompactReport, IndexStats, TuneReport


def _col(tmp_path: Path) -> akindb.Collection:
    db = akindb.open(tmp_path / "db")
    col = db.create_collection("v", model=None, dim=8, index="lsh")
    rng = np.random.default_rng(0)
    col.add(ids=[f"d{i}" for i in range(300)], vectors=rng.normal(size=(300, 8)))
    return col


def test_reports_are_typed_and_round_trip(tmp_path: Path) -> None:
    col = _col(tmp_path)
    tuned = col.tune(0.9, n_queries=50)
    assert isinstance(tuned, TuneReport) and tuned.knob == "probes" and tuned.size == 300
    assert tuned["knob"] == tuned.knob and "sweep" in tuned  # the old dict reading still works
    stats = col.index_stats()
    assert isinstance(stats, IndexStats) and stats.kind == "lsh" and stats.size == 300
    assert stats.tuned is not None and stats.tuned["value"] == tuned.after["value"]  # type: ignore[index]
    col.delete(["d1", "d2"])
    compacted = col.compact()
    assert isinstance(compacted, CompactReport) and compacted.tombstones_dropped == 2
    info = col.info()
    assert isinstance(info, CollectionInfo) and (info.documents, info.index) == (298, "lsh")
    for report in (tuned, stats, compacted, info):
        wire = json.loads(json.dumps(report.to_dict()))
        assert type(report).from_dict(wire) == report


def test_unknown_sections_are_kept_as_extra() -> None:
    raw = {"kind": "hnsw", "params": {}, "size": 1, "built_seq": 1, "saved_seq": 1,
           "deleted": 0, "deleted_fraction": 0.0, "file_bytes": 0, "last_event": "",
           "recall_monitor": {"recall": 0.97}}
    stats = IndexStats.from_dict(raw)
    assert stats.extra == {"recall_monitor": {"recall": 0.97}}
    assert stats.to_dict()["recall_monitor"] == {"recall": 0.97}
