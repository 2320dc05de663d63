"""Regression tests for the defects an independent probe found (issue 13, items 1-14 except
7 and 11). Each test is named after its item and failed before the fix."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import akindb
from akindb import errors
from tests.conftest import HashEmbedder

# ---- item 1: non-finite metadata ----------------------------------------------------------


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), [1.0, float("nan")],
                                 {"deep": float("inf")}])
def test_item1_nonfinite_metadata_is_refused_at_write(tmp_db: akindb.Database, bad: Any) -> None:
    col = tmp_db.create_collection("c", model=None, dim=2)
    with pytest.raises(errors.InvalidArgumentError, match="finite"):
        col.add(ids=["x"], vectors=[[1, 0]], metadatas=[{"price": bad}])
    col.add(ids=["y"], vectors=[[0, 1]], metadatas=[{"lang": "en"}])
    assert [r.id for r in col.get(where={"lang": "en"})] == ["y"]
    assert col.count() == 1


def test_item1_malformed_json_is_not_reported_as_corruption(tmp_db: akindb.Database) -> None:
    """A row written by an older akindb (NaN in the JSON) makes SQLite's json functions fail:
    that is bad data in one row, not a corrupt database."""
    col = tmp_db.create_collection("c", model=None, dim=2)
    col.add(ids=["x"], vectors=[[1, 0]], metadatas=[{"lang": "en"}])
    with tmp_db.lock:
        tmp_db.conn.execute("UPDATE documents SET metadata = '{\"p\": NaN}'")
    with pytest.raises(errors.StorageError) as info:
        col.get(where={"lang": "en"})
    assert not isinstance(info.value, errors.CorruptDatabaseError)
    assert "not valid JSON" in str(info.value) and "upsert" in str(info.value)


# ---- item 2: read-only filesystem must not hide the WAL -----------------------------------


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


_KILLED_WRITER = """
import os, signal, sys
import akindb
db = akindb.open(sys.argv[1])
col = db.get_or_create_collection("v", model=None, dim=2)
col.add(ids=["base"], vectors=[[1, 0]])
db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
col.add(ids=["acked"], vectors=[[0, 1]])
col.delete(["base"])
print("acked", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_item2_read_only_fs_never_serves_state_older_than_acknowledged(small_fs: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(akindb.__file__).parents[1])}
    out = subprocess.run([sys.executable, "-c", _KILLED_WRITER, str(small_fs / "db")],
                         capture_output=True, text=True, env=env, timeout=120)
    assert "acked" in out.stdout, out.stderr
    assert (small_fs / "db" / "akindb.sqlite-wal").stat().st_size > 0
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    try:
        db = akindb.open(small_fs / "db")
    except errors.ReadOnlyError as exc:  # refusing clearly is allowed; serving stale is not
        assert "writable" in str(exc)
        return
    with db:
        col = db.get_collection("v")
        assert {r.id for r in col.get()} == {"acked"}
        with pytest.raises(errors.ReadOnlyError):
            col.add(ids=["z"], vectors=[[1, 1]])


# ---- item 3: a non-UTF-8 file name must not abort the whole run ---------------------------


def test_item3_non_utf8_file_name_is_skipped_and_counted(tmp_db: akindb.Database,
                                                        tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "good.txt").write_text("alpha beta gamma")
    bad = os.fsencode(str(folder)) + b"/bad-\xff.txt"
    with open(bad, "wb") as fh:
        fh.write(b"delta epsilon")
    col = tmp_db.create_collection("c", model=HashEmbedder())
    report = col.add_files([folder])
    assert report.added == 1 and col.count() == 1
    assert sum(report.skipped.values()) == 1
    assert report.skipped["name_not_utf8"] == 1


# ---- item 4: a search during an upsert sees the old or the new version --------------------


def _upsert_from_elsewhere(path: Path, version: int) -> None:
    """Another connection (as another process would) replaces document "t"."""
    with akindb.open(path) as other:
        other.get_collection("c").upsert(
            [f"target v{version}"], ids=["t"], vectors=[[1.0, 0.0, 0.0]],
            metadatas=[{"lang": "en"}],
        )


@pytest.fixture
def target_col(tmp_path: Path) -> Iterator[tuple[Path, Any]]:
    db = akindb.open(tmp_path / "db")
    col = db.create_collection("c", model=None, dim=3, metric="cosine")
    col.upsert(["target v0"], ids=["t"], vectors=[[1.0, 0.0, 0.0]], metadatas=[{"lang": "en"}])
    col.add(["other"], ids=["o"], vectors=[[0.0, 1.0, 0.0]], metadatas=[{"lang": "en"}])
    col.search_vector([1, 0, 0], k=1)  # load the index
    yield tmp_path / "db", col
    db.close()


@pytest.mark.parametrize("where", [None, {"lang": "en"}])
def test_item4_upsert_between_filter_or_search_and_row_fetch(
    target_col: tuple[Path, Any], where: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The upsert lands after the filter ids (filtered) or after the index search (the row
    fetch then misses the old chunk): before the fix the document vanished from the answer."""
    path, col = target_col
    store = col.parts.store
    hook = "filter_chunk_ids" if where is not None else "hit_rows"
    real = getattr(store, hook)
    fired: list[int] = []

    def racing(*args: Any, **kw: Any) -> Any:
        if hook == "filter_chunk_ids":
            out = real(*args, **kw)
            if not fired:
                fired.append(1)
                _upsert_from_elsewhere(path, 1)
            return out
        if not fired:
            fired.append(1)
            _upsert_from_elsewhere(path, 1)
        return real(*args, **kw)

    monkeypatch.setattr(store, hook, racing)
    hits = col.search_vector([1, 0, 0], k=2, where=where)
    assert fired
    assert [h.id for h in hits] == ["t", "o"]
    assert hits[0].text in ("target v0", "target v1")
    monkeypatch.setattr(store, hook, real)
    text_hits = col.search_vectors([[1, 0, 0]], k=2, where=where, include=["documents"])
    assert text_hits["ids"] == [["t", "o"]]


def test_item4_concurrent_upserts_never_hide_the_document(target_col: tuple[Path, Any]) -> None:
    """A writer thread upserts "t" over and over; readers always find it, with k hits."""
    _, col = target_col
    stop = threading.Event()

    def writer() -> None:
        v = 0
        while not stop.is_set():
            v += 1
            col.upsert([f"target v{v}"], ids=["t"], vectors=[[1.0, 0.0, 0.0]],
                       metadatas=[{"lang": "en"}])

    t = threading.Thread(target=writer)
    t.start()
    bad: list[Any] = []
    try:
        for i in range(600):
            where = {"lang": "en"} if i % 2 else None
            hits = col.search_vector([1, 0, 0], k=2, where=where)
            if [h.id for h in hits] != ["t", "o"]:
                bad.append((where, [h.id for h in hits]))
    finally:
        stop.set()
        t.join()
    assert bad == []


# ---- item 5: strings that cannot be encoded as UTF-8 ---------------------------------------


@pytest.mark.parametrize("field", ["ids", "texts", "sources", "meta_value", "meta_key"])
def test_item5_lone_surrogates_are_refused(tmp_db: akindb.Database, field: str) -> None:
    col = tmp_db.create_collection("c", model=HashEmbedder())
    kw: dict[str, Any] = {"ids": ["a"], "metadatas": [{"k": "v"}], "sources": ["s"]}
    texts = ["hello world"]
    if field == "ids":
        kw["ids"] = ["a\ud800"]
    elif field == "texts":
        texts = ["hello \udcff world"]
    elif field == "sources":
        kw["sources"] = ["s\ud800"]
    elif field == "meta_value":
        kw["metadatas"] = [{"k": ["x\ud800"]}]
    else:
        kw["metadatas"] = [{"k\ud800": 1}]
    with pytest.raises(errors.InvalidArgumentError, match="UTF-8"):
        col.add(texts, **kw)
    assert col.count() == 0


def test_item5_lone_surrogate_query_and_filter(tmp_db: akindb.Database) -> None:
    col = tmp_db.create_collection("c", model=HashEmbedder())
    col.add(["hello world"], ids=["a"], metadatas=[{"k": "v"}])
    with pytest.raises(errors.InvalidArgumentError, match="UTF-8"):
        col.search("\ud800 x")
    with pytest.raises(errors.InvalidArgumentError, match="UTF-8"):
        col.get(where={"k": "\ud800"})
    with pytest.raises(errors.InvalidArgumentError, match="UTF-8"):
        col.get(["\udcff"])


# ---- item 6: k is capped -------------------------------------------------------------------


def test_item6_huge_k_is_capped_at_the_collection_size(tmp_db: akindb.Database) -> None:
    col = tmp_db.create_collection("c", model=None, dim=2, index="hnsw")
    col.add(ids=["a", "b"], vectors=[[1, 0], [0, 1]])
    hits = col.search_vector([1, 0], k=10**8)  # allocated (1, 10**8) arrays before
    assert [h.id for h in hits] == ["a", "b"]
    res = col.search_vectors([[1, 0]] * 3, k=10**12, include=[])
    assert res["ids"] == [["a", "b"]] * 3
    assert [h.id for h in col.search_vector([1, 0], k=10**8, exact=True)] == ["a", "b"]


def test_item6_huge_k_text_search(tmp_db: akindb.Database) -> None:
    col = tmp_db.create_collection("c", model=HashEmbedder())
    col.add(["alpha beta", "beta gamma"], ids=["a", "b"])
    assert {h.id for h in col.search("beta", k=10**9)} == {"a", "b"}


# ---- item 8: collection names --------------------------------------------------------------


@pytest.mark.parametrize("name", ["A\n", "a\r\n", "b\n\n"])
def test_item8_collection_name_with_trailing_newline_is_refused(
    tmp_db: akindb.Database, name: str
) -> None:
    with pytest.raises(errors.InvalidArgumentError, match="invalid collection name"):
        tmp_db.create_collection(name, model=None, dim=2)
    assert tmp_db.list_collections() == []


# ---- item 10: wrong types are InvalidArgumentError ------------------------------------------


def test_item10_wrong_types_raise_invalid_argument(tmp_db: akindb.Database) -> None:
    col = tmp_db.create_collection("c", model=None, dim=2)
    col.add(ids=["a"], vectors=[[1, 0]], metadatas=[{"n": 1}])
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(5000):
        node["x"] = {}
        node = node["x"]
    calls = [
        lambda: col.add(ids=["b"], vectors=[[1, 0]], metadatas=[deep]),
        lambda: col.add(ids=["b"], vectors=[[1, 0]], metadatas=["notadict"]),  # type: ignore[list-item]
        lambda: col.add(ids=["b"], vectors=[[1, 0]], metadatas=[{1: "int key"}]),  # type: ignore[dict-item]
        lambda: col.add(ids=[None], vectors=[[1, 0]]),  # type: ignore[list-item]
        lambda: col.add(ids=["b"], vectors=[[1, 0]], sources=[5]),  # type: ignore[list-item]
        lambda: col.add(ids=["b"], vectors=[[1, 0]], metadatas=[{"n": 10**40}]),
        lambda: col.get(limit=10**30),
        lambda: col.get(offset=-(10**30)),
        lambda: col.get(limit="3"),  # type: ignore[arg-type]
        lambda: col.get(where={"n": 10**30}),
        lambda: col.get(where=deep),
        lambda: col.get(where={"n": {"$in": list(range(40_000))}}),
        lambda: col.search_vector([1, 0], k=2.0),  # type: ignore[arg-type]
        lambda: col.search_vector([1 + 1j, 0]),
        lambda: col.delete(ids=[object()]),  # type: ignore[list-item]
        lambda: col.get(ids=[b"bytes"]),  # type: ignore[list-item]
    ]
    for i, call in enumerate(calls):
        with pytest.raises(errors.InvalidArgumentError):
            call()
            pytest.fail(f"call #{i} was accepted")
    assert col.count() == 1
    assert [h.id for h in col.search_vector([1, 0], k=2**70)] == ["a"]  # OverflowError before


def test_item10_complex_vectors_are_refused(tmp_db: akindb.Database) -> None:
    col = tmp_db.create_collection("c", model=None, dim=2)
    with pytest.raises(errors.InvalidVectorError, match="complex"):
        col.add(ids=["a"], vectors=np.array([[1 + 2j, 0]]))
    assert col.count() == 0


# ---- item 12: NUL bytes after the loader's sniffed prefix ----------------------------------


def test_item12_nul_bytes_past_the_sniffed_prefix_are_not_stored(
    tmp_db: akindb.Database, tmp_path: Path
) -> None:
    from akindb.text.loaders import SNIFF_BYTES

    f = tmp_path / "late.txt"
    f.write_bytes(b"word " * (SNIFF_BYTES // 5 + 10) + b"\x00\x01 tail")
    col = tmp_db.create_collection("c", model=HashEmbedder())
    report = col.add_files([f])
    assert report.added == 0 and report.skipped["binary"] == 1
    assert all("\x00" not in r.text for r in col.get())


# ---- item 14: a full disk still lets you free space ----------------------------------------


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1536k", "tmpfs", str(mnt)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_item14_delete_and_compact_work_on_a_full_disk(tiny_fs: Path) -> None:
    rng = np.random.default_rng(0)
    acked: list[str] = []
    with akindb.open(tiny_fs / "db") as db:
        col = db.create_collection("v", model=None, dim=32, index="hnsw")
        col.add(ids=["seed"], vectors=rng.normal(size=(1, 32)))
        col.flush()  # an index file exists: derived, so it may be dropped to make room
        with pytest.raises(errors.DiskFullError, match="full"):
            for i in range(100_000):
                ids = [f"{i}-{j}" for j in range(20)]
                col.add(ids=ids, vectors=rng.normal(size=(20, 32)), texts=["x" * 300] * 20)
                acked.extend(ids)
        # Fill the last bytes too, so even a tiny write fails.
        filler = tiny_fs / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError:
            pass
        finally:
            os.close(fd)
        n = col.delete(acked[:100])  # failed with DiskFullError before
        assert n == 100
        assert col.count() == len(acked) - 100 + 1
        with pytest.raises(errors.DiskFullError, match="VACUUM needs about"):
            col.compact()  # says what it needs instead of a bare "disk full"
        assert col.count() == len(acked) - 100 + 1
        filler.unlink()
    with akindb.open(tiny_fs / "db") as db:
        col = db.get_collection("v")
        assert col.count() == len(acked) - 100 + 1
        assert col.get([acked[0]]) == []
        assert len(col.get([acked[-1]])) == 1
