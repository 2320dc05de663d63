"""Models beyond MiniLM, offline and pinned: a user's own folders, checked and named once.

``akindb models add PATH`` inspects a local Hugging Face folder of a BERT-family sentence model
(``config.json``, ``tokenizer.json``, ``model.safetensors``; sentence-transformers' optional
``1_Pooling/config.json``, ``modules.json``, ``config_sentence_transformers.json``), checks it
and records it in the per-user catalog (``<cache dir>/models.json``, the cache dir of
``sources.resolve_cache_dir``), pinned by the SHA-256 of its weights. ``load_embedder(name)``
then loads it through the same ONNX path as the default model (no PyTorch), with its declared
pooling, normalisation and query/document prefixes (``Embedder.embed(..., role="query")``).

Weights whose SHA-256 is in ``KNOWN_PINS`` get that model's pooling and prefixes, and a folder
*declared* as a known model (``--name BAAI/bge-small-en-v1.5``) must carry exactly its weights.
What is checked, each failure naming the file and what was expected: the folder and its three
required files exist; ``config.json`` says ``model_type: bert`` (what the ONNX builder runs:
BERT, MiniLM, bge, e5, gte; not mpnet, roberta or gemma); the pooling config's dimension is the
model's hidden size; the pooling is mean or CLS.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from akindb.errors import ModelError, ModelIntegrityError, ModelNotFoundError
from akindb.models.sources import (
    MINILM_REPO_ID,
    MINILM_SHA256,
    REQUIRED_FILES,
    resolve_cache_dir,
    sha256_file,
)

CATALOG_FILE = "models.json"


@dataclass(frozen=True, slots=True)
class KnownModel:
    """A model whose weights we can recognise by hash, and how it must be run."""

    name: str
    sha256: str
    pooling: str
    query_prefix: str = ""
    document_prefix: str = ""


KNOWN_PINS: tuple[KnownModel, ...] = (
    KnownModel(MINILM_REPO_ID, MINILM_SHA256, "mean"),
    KnownModel("BAAI/bge-small-en-v1.5",
               "3c9f31665447c8911517620762200d2245a2518d6e7208acc78cd9db317e21ad", "cls",
               "Represent this sentence for searching relevant passages: "),
    KnownModel("intfloat/e5-small-v2",
               "45bfa60070649aae2244fbc9d508537779b93b6f353c17b0f95ceccb1c5116c1", "mean",
               "query: ", "passage: "),
)
"""``model.safetensors`` SHA-256 of models users bring (from the models' hub pages)."""


@dataclass(frozen=True, slots=True)
class ModelEntry:
    """One catalogued model folder (round-trips to JSON)."""

    name: str
    folder: str
    sha256: str
    pooling: str
    normalize: bool
    dim: int
    query_prefix: str = ""
    document_prefix: str = ""
    known_as: str | None = None
    """The ``KNOWN_PINS`` name its weights matched, if any."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelEntry:
        return cls(**d)


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path} is not readable JSON ({exc}); restore the file") from None
    if not isinstance(data, dict):
        raise ModelError(f"{path} should hold a JSON object; restore the file")
    return data


def _known_by_hash(sha: str) -> KnownModel | None:
    return next((k for k in KNOWN_PINS if k.sha256 == sha), None)


def _known_by_name(name: str) -> KnownModel | None:
    return next((k for k in KNOWN_PINS if k.name.lower() == name.lower()), None)


def inspect_folder(
    path: str | Path,
    *,
    name: str | None = None,
    query_prefix: str | None = None,
    document_prefix: str | None = None,
) -> ModelEntry:
    """Check a model folder (module doc) and describe it; nothing is written."""
    folder = Path(path).expanduser().resolve()
    if not folder.is_dir():
        raise ModelNotFoundError(f"model folder {folder} does not exist; give an existing folder")
    for f in REQUIRED_FILES:
        if not (folder / f).is_file():
            what = {"config.json": "the model's configuration (hidden_size, model_type)",
                    "tokenizer.json": "the Hugging Face fast tokenizer file",
                    "model.safetensors": "the weights in safetensors format (an ONNX-only "
                                         "folder is not supported: akindb builds its own graph)"}
            raise ModelNotFoundError(f"{folder / f} is missing: a model folder needs {what[f]}")
    config = _json(folder / "config.json")
    mtype = config.get("model_type")
    if mtype != "bert":
        raise ModelError(
            f"{folder / 'config.json'} says model_type {mtype!r}; akindb runs BERT-family "
            "sentence models (model_type 'bert': MiniLM, bge, e5, gte) through its ONNX builder"
        )
    dim = int(config.get("hidden_size", 0))
    pool_file = folder / "1_Pooling" / "config.json"
    pool = _json(pool_file) if pool_file.is_file() else {}
    pdim = pool.get("word_embedding_dimension")
    if pdim is not None and int(pdim) != dim:
        raise ModelError(
            f"{pool_file} declares word_embedding_dimension {pdim} but {folder / 'config.json'} "
            f"has hidden_size {dim}; the files come from different models"
        )
    modes = {k[len("pooling_mode_"):] for k, v in pool.items()
             if k.startswith("pooling_mode_") and v is True}
    if modes not in (set(), {"mean_tokens"}, {"cls_token"}):
        raise ModelError(f"{pool_file} asks for pooling {sorted(modes)}; only mean or CLS is run")
    pooling = "cls" if modes == {"cls_token"} else "mean"
    normalize = True
    if (folder / "modules.json").is_file():
        mods = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        normalize = any(str(m.get("type", "")).endswith(".Normalize") for m in mods)
    sha = sha256_file(folder / "model.safetensors")
    declared = _known_by_name(name) if name else None
    if declared is not None and declared.sha256 != sha:
        raise ModelIntegrityError(
            f"{folder / 'model.safetensors'} has SHA-256 {sha}, but {declared.name} is pinned "
            f"to {declared.sha256}; the file is damaged or another model: re-download it, or "
            "add it under a name of your own"
        )
    known = declared or _known_by_hash(sha)
    prompts: dict[str, Any] = {}
    st = folder / "config_sentence_transformers.json"
    if st.is_file():
        prompts = _json(st).get("prompts") or {}
    qp = query_prefix if query_prefix is not None else (
        known.query_prefix if known else str(prompts.get("query", "")))
    doc_prompt = str(prompts.get("document", prompts.get("passage", "")))
    dp = document_prefix if document_prefix is not None else (
        known.document_prefix if known else doc_prompt)
    if known is not None and pool_file.is_file() and pooling != known.pooling:
        raise ModelError(
            f"{pool_file} asks for {pooling} pooling but {known.name} is run with "
            f"{known.pooling} pooling; fix the pooling config"
        )
    if known is not None and not pool_file.is_file():
        pooling = known.pooling
    return ModelEntry(
        name=name or (known.name if known else folder.name), folder=str(folder), sha256=sha,
        pooling=pooling, normalize=normalize, dim=dim, query_prefix=qp, document_prefix=dp,
        known_as=known.name if known else None,
    )


def catalog_path(cache_dir: str | Path | None = None) -> Path:
    return resolve_cache_dir(cache_dir) / CATALOG_FILE


def read_catalog(cache_dir: str | Path | None = None) -> dict[str, ModelEntry]:
    path = catalog_path(cache_dir)
    if not path.is_file():
        return {}
    data = _json(path)
    return {n: ModelEntry.from_dict(e) for n, e in data.get("models", {}).items()}


def add_model(
    path: str | Path,
    *,
    name: str | None = None,
    query_prefix: str | None = None,
    document_prefix: str | None = None,
    cache_dir: str | Path | None = None,
) -> ModelEntry:
    """Check the folder and record it in the catalog under its name (replacing an entry of that
    name); written atomically (temp file, then rename)."""
    entry = inspect_folder(path, name=name, query_prefix=query_prefix,
                           document_prefix=document_prefix)
    models = read_catalog(cache_dir)
    models[entry.name] = entry
    out = catalog_path(cache_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=".models-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"models": {n: e.to_dict() for n, e in models.items()}}, fh, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, out)
    return entry


def find(name: str, cache_dir: str | Path | None = None) -> ModelEntry | None:
    """The catalogued model called ``name``, re-checked against its pin when loaded."""
    return read_catalog(cache_dir).get(name)
