"""The quantized index: int8 and binary codes in RAM, exact re-score from memory-mapped floats.

Data: seeded clustered Gaussian vectors, 96-d (binary codes need dimensions: one bit each), as
in the conformance suite; no fixture holds enough real MiniLM vectors for a recall test, so
recall on 100k real MiniLM vectors is measured by ``bench/quant.py`` instead. Stated tolerances,
recall@10 against exact search at the default oversample (int8: 4, binary: 16):

* int8:   >= 0.99 for cosine, dot and l2.
* binary: >= 0.95 for cosine, dot and l2.

Memory (exact, from the array sizes): binary codes are 1/32 of the float32 vectors (48 bytes
for 384-d), int8 codes 1/4; labels and live flags add 9 bytes per vector.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

import akindb
from akindb import errors
from akindb.core.vectors import normalize_rows
from akindb.index import approx
from akindb.index.base import IndexFileError, IndexHeader, read_envelope, write_envelope
from akindb.index.codes import binary_codes, popcount
from akindb.index.flat import FlatIndex
from akindb.index.quantized import QuantizedIndex, QuantizedParams
from akindb.index.registry import make_index, validate_params
from akindb.types import Metric

N, DIM, NQ = 4000, 96, 60
CODES = ["int8", "binary"]
TOLERANCE = {"int8": 0.99, "binary": 0.95}
CASES = [(c, m) for c in CODES for m in Metric]
IDS = [f"{c}-{m.value}" for c, m in CASES]


def _data(n: int = N, dim: int = DIM, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(40, dim))
    base = centers[rng.integers(0, 40, n)] + 0.8 * rng.normal(size=(n, dim))
    queries = centers[rng.integers(0, 40, NQ)] + 0.8 * rng.normal(size=(NQ, dim))
    return base.astype(np.float32), queries.astype(np.float32)


def _prep(metric: Metric, x: np.ndarray) -> np.ndarray:
    return normalize_rows(x) if metric is Metric.COSINE else x


def _recall(found: np.ndarray, truth: np.ndarray) -> float:
    total = 0.0
    for f, t in zip(found.tolist(), truth.tolist(), strict=True):
        gt = {x for x in t if x >= 0}
        total += len(gt.intersection(f)) / len(gt) if gt else 1.0
    return total / len(found)


def _pair(codes: str, metric: Metric, n: int = N, dim: int = DIM) -> tuple[
    QuantizedIndex, FlatIndex, np.ndarray, np.ndarray
]:
    base, q = _data(n, dim)
    labels = np.arange(n, dtype=np.int64) * 3 + 11
    idx = make_index("quantized", dim, metric, {"codes": codes})
    assert isinstance(idx, QuantizedIndex)
    flat = FlatIndex(dim, metric)
    idx.add(labels, _prep(metric, base))
    flat.add(labels, _prep(metric, base))
    return idx, flat, labels, _prep(metric, q)


@pytest.mark.parametrize(("codes", "metric"), CASES, ids=IDS)
def test_recall_and_exact_scores(codes: str, metric: Metric) -> None:
    idx, flat, _, q = _pair(codes, metric)
    got, sc = idx.search(q, 10)
    want, want_sc = flat.search(q, 10)
    assert _recall(got, want) >= TOLERANCE[codes]
    # The final order and scores are exact: where the labels agree, so do the scores.
    same = got == want
    np.testing.assert_allclose(sc[same], want_sc[same], rtol=1e-4, atol=1e-4)
    # Oversample is the knob: fewer candidates re-scored, less recall.
    idx.set_knob(1)
    assert _recall(idx.search(q, 10)[0], want) <= _recall(got, want)


@pytest.mark.parametrize("codes", CODES)
def test_memory_is_codes_and_labels(codes: str, tmp_path: Path) -> None:
    n, dim = 1000, 384
    idx, _, _, q = _pair(codes, Metric.COSINE, n=n, dim=dim)
    floats = n * dim * 4
    # Built in memory and not saved yet: the floats are in RAM.
    assert idx.memory_report()["floats_ram_bytes"] >= floats
    idx.save(tmp_path / "x.quantized", collection_uuid="u", built_seq=1)
    saved = idx.memory_report()
    assert saved["floats_ram_bytes"] == 0 and saved["floats_mapped_bytes"] == floats
    loaded, _ = QuantizedIndex.load(tmp_path / "x.quantized")
    assert isinstance(loaded, QuantizedIndex)
    rep = loaded.memory_report()
    code_bytes = {"int8": dim, "binary": dim // 8}[codes]  # 384 or 48 bytes per vector
    assert rep["codes_bytes"] == n * code_bytes
    assert rep["codes_bytes"] * {"int8": 4, "binary": 32}[codes] == floats
    assert rep["labels_bytes"] == n * 9 and rep["floats_ram_bytes"] == 0
    assert loaded.memory_bytes() == rep["resident_bytes"] < (floats + 8 * n) * {
        "int8": 0.26, "binary": 0.04}[codes]
    np.testing.assert_array_equal(loaded.search(q, 10)[0], idx.search(q, 10)[0])


@pytest.mark.parametrize(("codes", "metric"), CASES, ids=IDS)
def test_persistence_with_tombstones_and_unsaved_rows(
    codes: str, metric: Metric, tmp_path: Path
) -> None:
    idx, flat, labels, q = _pair(codes, metric, n=1500)
    path = tmp_path / "x.quantized"
    idx.remove(labels[::4])
    idx.save(path, collection_uuid="u", built_seq=3)
    # Rows added after the save live in RAM beside the mapped ones; a second save maps them all.
    extra, _ = _data(200, seed=9)
    idx.add(np.arange(10**6, 10**6 + 200, dtype=np.int64), _prep(metric, extra))
    assert idx.memory_report()["floats_ram_bytes"] > 0
    before = idx.search(q, 10)
    idx.save(path, collection_uuid="u", built_seq=4)
    np.testing.assert_array_equal(idx.search(q, 10)[0], before[0])
    again, header = QuantizedIndex.load(path)
    assert isinstance(again, QuantizedIndex)
    assert header.count == len(idx) == 1500 - len(labels[::4]) + 200
    assert again.deleted_count() == idx.deleted_count() == len(labels[::4])
    a, sa = again.search(q, 10)
    np.testing.assert_array_equal(a, before[0])
    np.testing.assert_allclose(sa, before[1], rtol=1e-6)
    np.testing.assert_array_equal(again.vectors_of(labels[1:4]), flat.vectors()[1:4])


def test_a_mapped_file_replaced_by_another_writer_keeps_answering(tmp_path: Path) -> None:
    idx, _, labels, q = _pair("int8", Metric.COSINE, n=800)
    path = tmp_path / "x.quantized"
    idx.save(path, collection_uuid="u", built_seq=1)
    reader, _ = QuantizedIndex.load(path)
    want = reader.search(q, 10)
    other = make_index("quantized", DIM, Metric.COSINE, {})
    other.add(labels[:5], normalize_rows(_data(5, seed=42)[0]))
    other.save(path, collection_uuid="u", built_seq=2)  # atomic rename over the mapped file
    got = reader.search(q, 10)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


@pytest.mark.parametrize("codes", CODES)
def test_damaged_files_are_refused_never_half_loaded(codes: str, tmp_path: Path) -> None:
    idx, _, labels, q = _pair(codes, Metric.L2, n=300)
    idx.remove(labels[:7])
    path = tmp_path / "x.quantized"
    idx.save(path, collection_uuid="u", built_seq=1)
    data = path.read_bytes()
    for cut in (10, 200, len(data) // 2, len(data) - 1):
        path.write_bytes(data[:cut])
        with pytest.raises(IndexFileError):
            QuantizedIndex.load(path)
    path.write_bytes(data + b"\0")
    with pytest.raises(IndexFileError):
        QuantizedIndex.load(path)
    # Bit flips anywhere in the body: refused, or an index that still answers. Floats are not
    # scanned on load (that would read them all), so a flip there may make one score odd.
    rng = np.random.default_rng(0)
    for pos in rng.integers(64, len(data), size=60):
        bad = bytearray(data)
        bad[int(pos)] ^= 0xFF
        path.write_bytes(bytes(bad))
        try:
            loaded, _ = QuantizedIndex.load(path)
        except IndexFileError:
            continue
        with np.errstate(all="ignore"):
            assert loaded.search(q[:2], 5)[0].shape == (2, 5)


def test_a_stream_without_a_file_is_read_into_ram() -> None:
    idx, _, _, q = _pair("binary", Metric.DOT, n=500)
    buf = io.BytesIO()
    write_envelope(buf, IndexHeader(
        kind=idx.kind, format=1, collection_uuid="u", metric=idx.metric.value, dim=idx.dim,
        count=len(idx), built_seq=0, params=idx.params(),
    ))
    idx.write_body(buf)
    buf.seek(0)
    again = QuantizedIndex.read_body(buf, read_envelope(buf))
    assert again.memory_report()["floats_mapped_bytes"] == 0
    np.testing.assert_array_equal(again.search(q, 10)[0], idx.search(q, 10)[0])


@pytest.mark.parametrize("codes", CODES)
def test_deletes_compaction_and_vectors_of(codes: str, tmp_path: Path) -> None:
    idx, flat, labels, q = _pair(codes, Metric.COSINE, n=2000)
    gone = labels[::2]
    idx.remove(gone)
    flat.remove(gone)
    got, _ = idx.search(q, 10)
    assert not set(got.ravel().tolist()) & set(gone.tolist())
    with pytest.raises(KeyError):
        idx.vectors_of(gone[:1])
    idx.compact()  # codes shrink now; the floats stay where they are until the next save
    assert idx.deleted_count() == 0 and len(idx) == 1000
    np.testing.assert_array_equal(idx.vectors_of(labels[1::2]), flat.vectors())
    assert _recall(idx.search(q, 10)[0], flat.search(q, 10)[0]) >= TOLERANCE[codes]
    extra = normalize_rows(_data(50, seed=5)[0])
    idx.add(np.arange(10**6, 10**6 + 50, dtype=np.int64), extra)
    flat.add(np.arange(10**6, 10**6 + 50, dtype=np.int64), extra)
    path = tmp_path / "x.quantized"
    idx.save(path, collection_uuid="u", built_seq=1)
    assert path.stat().st_size < 1050 * DIM * 4 + 1050 * 200  # tombstones left the file
    again, _ = QuantizedIndex.load(path)
    assert isinstance(again, QuantizedIndex)
    np.testing.assert_array_equal(again.vectors_of(flat.labels()), flat.vectors())
    np.testing.assert_array_equal(again.search(q, 10)[0], idx.search(q, 10)[0])


@pytest.mark.parametrize(("codes", "metric"), CASES, ids=IDS)
def test_filters_score_only_the_allowed_codes(
    codes: str, metric: Metric, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(approx, "EXACT_MAX_ROWS", 0)  # the in-index path at every selectivity
    monkeypatch.setattr(approx, "EXACT_BELOW", 0.0)
    idx, flat, labels, q = _pair(codes, metric)
    rng = np.random.default_rng(5)
    for sel in (0.5, 0.05, 0.005):
        allowed = rng.choice(labels, size=round(sel * len(labels)), replace=False)
        got, _ = idx.search(q, 10, allowed)
        want, _ = flat.search(q, 10, allowed)
        assert set(got.ravel().tolist()) - {-1} <= set(allowed.tolist())
        assert _recall(got, want) >= TOLERANCE[codes], f"selectivity {sel}"


@pytest.mark.parametrize("codes", CODES)
def test_calibration_follows_growth_and_clips_outliers(codes: str) -> None:
    base, q = _data()
    flat = FlatIndex(DIM, Metric.L2)
    idx = make_index("quantized", DIM, Metric.L2, {"codes": codes})
    labels = np.arange(N, dtype=np.int64)
    # Filled a few vectors at a time, from one tight cluster first: the range is refitted as the
    # index doubles, so recall matches a one-shot build.
    order = np.argsort(base[:, 0])
    for lo in range(0, N, 97):
        rows = order[lo : lo + 97]
        idx.add(labels[rows], base[rows])
        flat.add(labels[rows], base[rows])
    assert _recall(idx.search(q, 10)[0], flat.search(q, 10)[0]) >= TOLERANCE[codes]
    # An outlier beyond the calibrated range is clipped as a code, found and scored exactly.
    far = base[:1] * 50
    idx.add(np.array([-1], dtype=np.int64), far)
    lab, sc = idx.search(far, 1)
    assert lab[0, 0] == -1 and sc[0, 0] == pytest.approx(0.0, abs=1e-2)


def test_params_defaults_and_errors(tmp_db: akindb.Database) -> None:
    assert validate_params("quantized", {}) == {"codes": "int8", "oversample": 4}
    assert validate_params("quantized", {"codes": "binary"}) == {"codes": "binary",
                                                                 "oversample": 16}
    p = QuantizedParams(codes="binary", oversample=7)
    assert QuantizedParams.from_dict(p.to_dict()) == p
    with pytest.raises(errors.InvalidArgumentError, match="'int8' or 'binary'"):
        validate_params("quantized", {"codes": "pq"})
    with pytest.raises(errors.InvalidArgumentError, match="valid ones: codes, oversample"):
        validate_params("quantized", {"bits": 1})
    for bad in (0, 1001, 2.5, "4", True):
        with pytest.raises(errors.InvalidArgumentError, match="must be an integer in"):
            validate_params("quantized", {"oversample": bad})
    idx = make_index("quantized", 4, Metric.DOT, {})
    assert isinstance(idx, QuantizedIndex)
    with pytest.raises(errors.InvalidArgumentError):
        idx.set_knob(0)
    sweep = idx.knob_sweep(10)
    assert sweep == sorted(sweep) and sweep[0] == 1
    col = tmp_db.create_collection("q", model=None, dim=4, index="quantized",
                                   index_params={"codes": "binary"})
    assert col.config.index_params == {"codes": "binary", "oversample": 16}


def test_popcount_without_bitwise_count(monkeypatch: pytest.MonkeyPatch) -> None:
    words = np.random.default_rng(0).integers(0, 2**63, size=100, dtype=np.uint64) * 2 + 1
    want = popcount(words)
    assert want.tolist() == [bin(int(w)).count("1") for w in words]
    if hasattr(np, "bitwise_count"):
        monkeypatch.delattr(np, "bitwise_count")
    assert popcount(words).tolist() == want.tolist()
    x = np.array([[1.0, -1.0] * 40], dtype=np.float32)
    assert popcount(binary_codes(x, np.zeros(80, np.float32))).sum() == 40


def test_collection_keeps_floats_on_disk(tmp_path: Path) -> None:
    base, _ = _data(n=3000)
    with akindb.open(tmp_path / "db") as db:
        col = db.create_collection("c", model=None, dim=DIM, index="quantized",
                                   index_params={"codes": "int8"})
        col.add(ids=[str(i) for i in range(3000)], vectors=base)
        col.flush()
        mem = col.index_stats()["memory"]
        assert mem["floats_ram_bytes"] == 0 and mem["floats_mapped_bytes"] == 3000 * DIM * 4
    with akindb.open(tmp_path / "db") as db:
        col = db.get_collection("c")
        assert col.search_vector(base[42], k=1)[0].id == "42"
        assert "loaded" in col.parts.live.last_event
        assert col.index_stats()["memory"]["codes_bytes"] == 3000 * DIM


def test_searches_beside_a_save_see_one_consistent_view(tmp_path: Path) -> None:
    """``LiveIndex`` saves under the shared lock, so searches may run while the float source is
    swapped (RAM tail + compacted slot map -> the new mapped file): answers must not change."""
    import threading

    idx, _, labels, q = _pair("int8", Metric.DOT, n=2000)
    path = tmp_path / "x.quantized"
    idx.save(path, collection_uuid="u", built_seq=1)
    idx.remove(labels[::3])
    idx.compact()
    idx.add(np.arange(10**6, 10**6 + 300, dtype=np.int64), _data(300, seed=8)[0])
    want = idx.search(q, 10)
    bad: list[str] = []
    stop = threading.Event()

    def searcher() -> None:
        while not stop.is_set():
            got = idx.search(q, 10)
            if not (np.array_equal(got[0], want[0]) and np.allclose(got[1], want[1])):
                bad.append("answer changed during a save")

    thread = threading.Thread(target=searcher)
    thread.start()
    try:
        for seq in range(2, 12):
            idx.save(path, collection_uuid="u", built_seq=seq)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not bad and idx.memory_report()["floats_ram_bytes"] == 0
