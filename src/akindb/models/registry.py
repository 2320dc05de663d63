"""Name → embedder, loaded once per process and kept.

``load_embedder`` accepts:

| given                                              | loads                                   |
|----------------------------------------------------|-----------------------------------------|
| None, "all-MiniLM-L6-v2", "minilm",                | all-MiniLM-L6-v2 from the weights       |
| "sentence-transformers/all-MiniLM-L6-v2"           | package (offline)                       |
| a name added with ``akindb models add``            | that folder, re-checked against its pin |
| a path to a folder                                 | chosen by the folder's marker file      |
| "hf:<repo_id>" or "hf:<repo_id>@<revision>"        | a hub model (downloaded once)           |

Folder kinds are dispatched on a marker file (see ``register_folder_kind``): a folder with
``config.json`` + ``model.safetensors`` is a sentence-transformers model; other kinds (word
vectors...) register their own marker. The heavy modules (ONNX Runtime, tokenizers) are imported
only when a model is loaded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from akindb.errors import ModelNotFoundError
from akindb.models.base import Embedder

DEFAULT_MODEL = "all-MiniLM-L6-v2"
ALIASES: tuple[str, ...] = ("minilm", "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2")
HUB_PREFIX = "hf:"

FolderLoader = Callable[[Path, Path], Embedder]
"""Loads the model in a folder; called with (folder, cache_dir for derived files)."""

_FOLDER_KINDS: list[tuple[str, FolderLoader]] = []
_LOADED: dict[tuple[str, str, str], Embedder] = {}
_LOCK = threading.RLock()


def register_folder_kind(marker: str, loader: FolderLoader) -> None:
    """Make folders holding the file ``marker`` load with ``loader``.

    Later registrations are tried first; the sentence-transformers kind (marker
    ``model.safetensors``) is always tried last.
    """
    with _LOCK:
        _FOLDER_KINDS[:] = [(m, f) for m, f in _FOLDER_KINDS if m != marker]
        _FOLDER_KINDS.insert(0, (marker, loader))


def _load_pretrained_folder(folder: Path, cache_dir: Path) -> Embedder:
    from akindb.models.pretrained import PretrainedEmbedder
    from akindb.models.sources import from_folder

    return PretrainedEmbedder(from_folder(folder), cache_dir=cache_dir)


def _load_word_vectors_folder(folder: Path, cache_dir: Path) -> Embedder:
    from akindb.models.word2vec.sif import SIFEmbedder

    return SIFEmbedder.from_folder(folder, cache_dir)


register_folder_kind("akindb-word-vectors.json", _load_word_vectors_folder)  # word2vec + SIF


def _what_works() -> str:
    names = ", ".join(repr(a) for a in ALIASES)
    markers = ", ".join(m for m, _ in _FOLDER_KINDS) or "none"
    return (
        f"use one of {names}; a path to a model folder (sentence-transformers layout with "
        f"config.json + model.safetensors + tokenizer.json; other folder markers: {markers}); "
        f"or '{HUB_PREFIX}<repo_id>[@revision]' to download from the Hugging Face hub"
    )


def _resolve(name: str, cache: Path | None = None) -> tuple[str, str]:
    """(kind, identifier) for ``name``: kind is 'default', 'catalog', 'folder' or 'hub'."""
    if name.lower() in {a.lower() for a in ALIASES}:
        return "default", DEFAULT_MODEL
    from akindb.models.catalog import find

    if find(name, cache) is not None:
        return "catalog", name
    if name.startswith(HUB_PREFIX):
        repo = name[len(HUB_PREFIX) :].strip()
        if not repo:
            raise ModelNotFoundError(f"{name!r} names no repo; {_what_works()}")
        return "hub", repo
    path = Path(name).expanduser()
    if path.is_dir():
        return "folder", str(path.resolve())
    if path.exists():
        raise ModelNotFoundError(f"{name!r} is a file, not a model folder; {_what_works()}")
    raise ModelNotFoundError(f"unknown model {name!r} (no such name or folder); {_what_works()}")


def _load(kind: str, ident: str, cache_dir: Path) -> Embedder:
    from akindb.models.pretrained import PretrainedEmbedder
    from akindb.models.sources import from_hub, from_package

    if kind == "default":
        return PretrainedEmbedder(from_package(), cache_dir=cache_dir)
    if kind == "catalog":
        from akindb.models.catalog import find
        from akindb.models.sources import from_folder

        entry = find(ident, cache_dir)
        assert entry is not None
        emb = PretrainedEmbedder(
            from_folder(entry.folder, name=entry.name, expected_sha256=entry.sha256),
            cache_dir=cache_dir,
        )
        emb.query_prefix, emb.document_prefix = entry.query_prefix, entry.document_prefix
        return emb
    if kind == "hub":
        repo, _, revision = ident.partition("@")
        return PretrainedEmbedder(from_hub(repo, revision=revision or None), cache_dir=cache_dir)
    folder = Path(ident)
    for marker, loader in [*_FOLDER_KINDS, ("model.safetensors", _load_pretrained_folder)]:
        if (folder / marker).exists():
            return loader(folder, cache_dir)
    raise ModelNotFoundError(f"folder {folder} holds no model this version knows; {_what_works()}")


def load_embedder(
    name_or_path: str | Path | None = None, *, cache_dir: str | Path | None = None
) -> Embedder:
    """The embedder for ``name_or_path`` (default ``DEFAULT_MODEL``), loaded once per process.

    ``cache_dir`` holds derived files (the ONNX graph); default ``$AKINDB_CACHE_DIR`` or
    ``~/.cache/akindb``. Raises ``ModelNotFoundError`` (naming what works) for an unknown name,
    ``ModelIntegrityError`` for weights whose hash differs from the pinned one.
    """
    from akindb.models.sources import resolve_cache_dir

    cache = resolve_cache_dir(cache_dir).resolve()
    kind, ident = _resolve(
        str(name_or_path) if name_or_path is not None else DEFAULT_MODEL, cache
    )
    key = (kind, ident, str(cache))
    with _LOCK:  # one load at a time: a second caller waits and then shares the first's model
        emb = _LOADED.get(key)
        if emb is None:
            emb = _load(kind, ident, cache)
            _LOADED[key] = emb
        return emb


def clear_loaded() -> None:
    """Forget every loaded embedder (tests; or to free memory)."""
    with _LOCK:
        _LOADED.clear()
