"""The query path stays light: a cached graph opens without the ``onnx`` package and without
re-hashing unchanged files (issue 14, part 1); a changed file is hashed again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from akindb.models.filestamp import sha256_file, stamp_path, stamped_sha256
from akindb.models.pretrained import PretrainedEmbedder
from akindb.models.sources import from_package

SRC = Path(__file__).resolve().parents[2] / "src"


def test_stamp_reused_while_unchanged_and_refreshed_after_a_change(tmp_path: Path) -> None:
    f = tmp_path / "weights.bin"
    f.write_bytes(b"a" * 1000)
    first = stamped_sha256(f, tmp_path / "cache")
    assert first == sha256_file(f)
    stamp = stamp_path(tmp_path / "cache", f.resolve())
    rec = json.loads(stamp.read_text())
    # A stamp whose identity matches is trusted: prove it is read by planting another hash.
    stamp.write_text(json.dumps({"id": rec["id"], "sha256": "planted"}))
    assert stamped_sha256(f, tmp_path / "cache") == "planted"
    # Any change to the file (size, mtime) makes the stamp stale: a full hash again.
    f.write_bytes(b"b" * 1001)
    assert stamped_sha256(f, tmp_path / "cache") == sha256_file(f) != first


def test_damaged_stamp_costs_a_full_hash(tmp_path: Path) -> None:
    f = tmp_path / "w.bin"
    f.write_bytes(b"xyz")
    stamp = stamp_path(tmp_path, f.resolve())
    stamp.parent.mkdir(parents=True)
    stamp.write_bytes(b"\x00not json")
    assert stamped_sha256(f, tmp_path) == sha256_file(f)


def test_cached_graph_opens_without_the_onnx_package(tmp_path: Path) -> None:
    emb = PretrainedEmbedder(from_package(), cache_dir=tmp_path)  # builds and caches the graph
    assert emb.built_onnx
    code = (
        "import sys\n"
        "from akindb.models.pretrained import PretrainedEmbedder\n"
        "from akindb.models.sources import from_package\n"
        f"e = PretrainedEmbedder(from_package(), cache_dir={str(tmp_path)!r})\n"
        "assert not e.built_onnx\n"
        "e.embed(['a query'])\n"
        "print(sorted(m for m in ('onnx', 'torch', 'typer', 'rich') if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_tampered_cached_graph_is_rebuilt_even_with_a_stamp(tmp_path: Path) -> None:
    emb = PretrainedEmbedder(from_package(), cache_dir=tmp_path)
    again = PretrainedEmbedder(from_package(), cache_dir=tmp_path)  # stamps the graph
    assert not again.built_onnx
    data = bytearray(emb.onnx_path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte inside the weights: ONNX Runtime would run it
    emb.onnx_path.write_bytes(bytes(data))
    fixed = PretrainedEmbedder(from_package(), cache_dir=tmp_path)
    assert fixed.built_onnx
    assert (fixed.embed(["x"]) == emb.embed(["x"])).all()


def test_cli_search_imports_neither_onnx_nor_progress_bars(tmp_path: Path) -> None:
    """``akindb search`` on a collection with the real model, in a fresh process: the cached
    graph is opened with onnxruntime alone, and no progress-bar or server module is loaded."""
    import akindb

    with akindb.open(tmp_path / "db") as db:
        db.create_collection("c").add(["red apples and green pears", "a blue sky"],
                                      ids=["a", "b"])
    code = (
        "import sys\n"
        f"sys.argv = ['akindb', 'search', 'apples', '--db', {str(tmp_path / 'db')!r},"
        " '--collection', 'c', '--mode', 'vector', '--json']\n"
        "from akindb.cli.main import main\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "heavy = ('onnx', 'torch', 'rich.progress', 'fastapi', 'uvicorn', 'ray')\n"
        "print('LOADED', sorted(m for m in heavy if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert '"a"' in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "LOADED []"
