"""The default embedder: a BERT sentence-transformers model run by ONNX Runtime, no PyTorch.

The ONNX graph is built once from the safetensors weights (``onnx_graph``) and cached in
``<cache_dir>/models/<weights sha[:16]>-v<builder version>/model.onnx`` beside a ``.sha256``
checksum; a missing, damaged or unreadable cached graph is rebuilt. ``cache_dir`` is the argument,
else ``$AKINDB_CACHE_DIR``, else ``~/.cache/akindb``.

Knobs (each a trade-off):

- ``threads``: ONNX Runtime intra-op threads. More threads embed a batch faster until the
  physical cores run out; fewer leave cores to the rest of the process. None =
  ``$AKINDB_MODEL_THREADS`` if set, else one per physical core. Can change on every load.
  (Measured on the shared 2-core machine, one short query: 1 thread cost *more* CPU than 2,
  4.5-4.8 vs 2.7-2.9 ms, and ``serve --workers 2`` with 1 thread per worker answered 116 and
  269 text searches/s against 279 and 307 with the default, so ``serve`` does not lower it
  per worker; the variable is there to try other machines. docs/benchmarks.md, issue 14.)
- ``batch_size`` (32): measured on a 2-core machine, 32 beats 128 by 1.5-2.4× (less padding,
  better cache use); larger batches only pay off with many cores. Can change at any call.
- Padded length is rounded up to a multiple of ``PAD_MULTIPLE`` (16): at most 16 distinct
  sequence lengths reach ONNX Runtime, which keeps its memory flat over a long ingest (many
  distinct shapes once grew RSS to 8.7 GB), at the cost of up to 15 padding tokens per batch.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from onnxruntime.capi import onnxruntime_pybind11_state as ort_state
from tokenizers import Tokenizer

from akindb.atomic import atomic_write_bytes
from akindb.errors import EmptyTextError, ModelError
from akindb.models.base import Embedder, FloatMatrix, ModelSpec, TokenView
from akindb.models.filestamp import stamped_sha256
from akindb.models.onnx_graph import BUILDER_VERSION, BertConfig, Pooling
from akindb.models.sources import (
    MINILM_REPO_ID,
    MINILM_SHA256,
    ModelFiles,
    resolve_cache_dir,
    verify_weights,
)

log = logging.getLogger(__name__)

PAD_MULTIPLE = 16
SINGLE_PAD_MULTIPLE = 4
"""A lone text (a query) is padded only to this multiple: the batch's padding buys nothing."""
_ORT_LOAD_ERRORS: tuple[type[BaseException], ...] = (
    ort_state.Fail,
    ort_state.InvalidProtobuf,
    ort_state.InvalidGraph,
    ort_state.InvalidArgument,
    ort_state.NoSuchFile,
    ort_state.RuntimeException,
)


def onnx_cache_path(cache_dir: Path, weights_sha256: str, pooling: str, normalize: bool) -> Path:
    """Where the graph for these weights is cached.

    >>> onnx_cache_path(Path("/c"), "53aa51172d142c89d9012cce", "mean", True).as_posix()
    '/c/models/53aa51172d142c89-v1/model.onnx'
    """
    fname = (
        "model.onnx"
        if (pooling, normalize) == ("mean", True)
        else (f"model-{pooling}{'-norm' if normalize else ''}.onnx")
    )
    return cache_dir / "models" / f"{weights_sha256[:16]}-v{BUILDER_VERSION}" / fname


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    return data if isinstance(data, dict) else {}


def _folder_settings(folder: Path, config: BertConfig) -> tuple[int, Pooling, bool]:
    """(max_tokens, pooling, normalize) from the sentence-transformers files of ``folder``."""
    st = _read_json(folder / "sentence_bert_config.json")
    max_tokens = min(int(st.get("max_seq_length", 512)), config.max_position_embeddings)
    pool_cfg = _read_json(folder / "1_Pooling" / "config.json")
    modes = {
        k[len("pooling_mode_") :]
        for k, v in pool_cfg.items()
        if k.startswith("pooling_mode_") and v is True
    }
    pooling: Pooling = "mean"
    if modes == {"cls_token"}:
        pooling = "cls"
    elif modes not in (set(), {"mean_tokens"}):
        raise ModelError(
            f"{folder}: pooling {sorted(modes)} is not supported; only mean or CLS pooling is"
        )
    modules_path = folder / "modules.json"
    normalize = True
    if modules_path.is_file():
        with open(modules_path, encoding="utf-8") as fh:
            modules = json.load(fh)
        normalize = any(str(m.get("type", "")).endswith(".Normalize") for m in modules)
    return max_tokens, pooling, normalize


THREADS_ENV = "AKINDB_MODEL_THREADS"


def env_threads() -> int | None:
    """``$AKINDB_MODEL_THREADS`` as a positive int, else None (ONNX Runtime's default).

    >>> import os; os.environ[THREADS_ENV] = "1"; env_threads()
    1
    >>> os.environ[THREADS_ENV] = "x"; env_threads() is None
    True
    >>> del os.environ[THREADS_ENV]
    """
    import os

    try:
        n = int(os.environ.get(THREADS_ENV, ""))
    except ValueError:
        return None
    return n if n > 0 else None


class PretrainedEmbedder(Embedder):
    """A sentence-transformers BERT model (default: all-MiniLM-L6-v2) on ONNX Runtime.

    Load through ``akindb.models.registry.load_embedder`` so the model is loaded once per
    process. Construction verifies the weights' hash, builds or reuses the cached ONNX graph and
    opens one ``InferenceSession``.
    """

    def __init__(
        self,
        files: ModelFiles,
        *,
        cache_dir: str | Path | None = None,
        threads: int | None = None,
        batch_size: int = 32,
    ) -> None:
        t0 = time.perf_counter()
        self.files = files
        self.batch_size = batch_size
        cache = resolve_cache_dir(cache_dir)
        sha = verify_weights(files, stamp_dir=cache)
        config = BertConfig.from_file(files.config_path)
        max_tokens, pooling, normalize = _folder_settings(files.folder, config)
        self._max_positions = config.max_position_embeddings
        name = files.name or (MINILM_REPO_ID if sha == MINILM_SHA256 else files.folder.name)
        self.spec = ModelSpec(
            name=name,
            revision=files.revision,
            weights_sha256=sha,
            dim=config.hidden_size,
            pooling=pooling,
            normalize=normalize,
            max_tokens=max_tokens,
        )
        # The query path needs only the padding tokenizer; the other two (token views,
        # counting for chunking) are loaded on first use (~80 ms each on the dev machine).
        self._tok_batch = self._load_tokenizer(truncate=True, pad=True)
        self._tok_view_: Tokenizer | None = None
        self._tok_count_: Tokenizer | None = None

        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads = threads or env_threads() or 0
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.log_severity_level = 3
        # No busy-waiting between operators: spinning threads burn the CPU that concurrent
        # requests (and the other worker) need. Measured on the shared 2-core machine: one
        # short query 19.6 -> 12.2 ms of CPU (47 -> 81 queries/s), 4 threads 66 -> 93 q/s,
        # a 256-abstract batch 37.5 -> 34.1 s (docs/benchmarks.md, HTTP server).
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._cache = cache
        self.onnx_path = onnx_cache_path(cache, sha, pooling, normalize)
        self.built_onnx = False
        self._session = self._open_session(opts, config)
        self.load_seconds = time.perf_counter() - t0
        log.info("loaded %s in %.2fs", self.spec.describe(), self.load_seconds)

    # ---- loading ----------------------------------------------------------------------------
    @property
    def _tok_view(self) -> Tokenizer:
        if self._tok_view_ is None:
            self._tok_view_ = self._load_tokenizer(truncate=True, pad=False)
        return self._tok_view_

    @property
    def _tok_count(self) -> Tokenizer:
        if self._tok_count_ is None:
            self._tok_count_ = self._load_tokenizer(truncate=False, pad=False)
        return self._tok_count_

    @property
    def _n_special(self) -> int:
        return int(self._tok_count.num_special_tokens_to_add(False))

    def _load_tokenizer(self, *, truncate: bool, pad: bool) -> Tokenizer:
        tok = Tokenizer.from_file(str(self.files.tokenizer_path))
        tok.no_truncation()
        tok.no_padding()
        if truncate:
            tok.enable_truncation(max_length=self.spec.max_tokens)
        if pad:
            pad_id = tok.token_to_id("[PAD]")
            tok.enable_padding(
                pad_id=0 if pad_id is None else pad_id,
                pad_token="[PAD]",
                pad_to_multiple_of=PAD_MULTIPLE,
            )
        return tok

    def _build(self, config: BertConfig) -> bytes:
        log.info("building the ONNX graph for %s into %s", self.spec.name, self.onnx_path)
        from akindb.models.onnx_graph import build_bert_graph, load_safetensors, set_metadata

        model = build_bert_graph(
            load_safetensors(self.files.weights_path),
            config,
            pooling="cls" if self.spec.pooling == "cls" else "mean",
            normalize=self.spec.normalize,
            doc=self.spec.describe(),
        )
        set_metadata(
            model,
            {
                "akindb.weights_sha256": self.spec.weights_sha256,
                "akindb.builder_version": str(BUILDER_VERSION),
            },
        )
        data: bytes = model.SerializeToString()
        self.built_onnx = True
        try:
            atomic_write_bytes(self.onnx_path, data)
            atomic_write_bytes(
                self.onnx_path.with_name(self.onnx_path.name + ".sha256"),
                _sha256(data).encode("ascii"),
            )
        except OSError as exc:  # a read-only cache costs a rebuild per process, nothing more
            log.warning("could not cache the ONNX graph at %s: %s", self.onnx_path, exc)
        return data

    def _cached(self) -> str | None:
        """The cached graph's path if present and its checksum matches, else None. The file is
        re-hashed only when its stat changed (``filestamp``); ONNX Runtime reads it itself."""
        sidecar = self.onnx_path.with_name(self.onnx_path.name + ".sha256")
        try:
            expected = sidecar.read_text(encoding="ascii").strip()
            actual = stamped_sha256(self.onnx_path, self._cache)
        except OSError:
            return None
        if actual != expected:
            log.warning("cached ONNX graph %s is damaged; rebuilding it", self.onnx_path)
            return None
        return str(self.onnx_path.resolve())

    def _open_session(self, opts: ort.SessionOptions, config: BertConfig) -> ort.InferenceSession:
        data: str | bytes | None = self._cached()
        if data is not None:
            try:
                return ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
            except _ORT_LOAD_ERRORS as exc:
                log.warning("cached ONNX graph %s unreadable (%s); rebuilding", self.onnx_path, exc)
        data = self._build(config)
        try:
            return ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
        except _ORT_LOAD_ERRORS as exc:
            raise ModelError(
                f"ONNX Runtime cannot run the graph built for {self.spec.name}: {exc}; "
                "upgrade onnxruntime (pip install -U onnxruntime)"
            ) from exc

    # ---- the Embedder interface -------------------------------------------------------------
    def embed_batch(self, texts: Sequence[str]) -> FloatMatrix:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encs = self._tok_batch.encode_batch(list(texts))
        ids = np.array([e.ids for e in encs], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encs], dtype=np.int64)
        if len(encs) == 1:
            # One text (a query): no other row to align with, so only the shapes cache needs
            # padding; to a multiple of SINGLE_PAD_MULTIPLE (at most 64 shapes). A 10-token
            # query padded to 16 cost 15-25 % more model CPU (docs/benchmarks.md, issue 14).
            keep = -(-int(mask.sum()) // SINGLE_PAD_MULTIPLE) * SINGLE_PAD_MULTIPLE
            ids, mask = ids[:, :keep], mask[:, :keep]
        if ids.shape[1] > self._max_positions:  # only padding columns can lie past the limit
            ids, mask = ids[:, : self._max_positions], mask[:, : self._max_positions]
        out = self._session.run(["sentence_embedding"], {"input_ids": ids, "attention_mask": mask})
        return np.ascontiguousarray(out[0], dtype=np.float32)

    def tokenize(self, text: str) -> TokenView:
        if not isinstance(text, str) or not text.strip():
            raise EmptyTextError("cannot tokenize empty text; give non-empty text")
        enc = self._tok_view.encode(text)
        return TokenView(
            tokens=list(enc.tokens),
            ids=list(enc.ids),
            offsets=[(int(a), int(b)) for a, b in enc.offsets],
            truncated=bool(enc.overflowing),
            max_tokens=self.spec.max_tokens,
        )

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        encs = self._tok_count.encode_batch(list(texts), add_special_tokens=False)
        return [len(e.ids) for e in encs]

    def will_truncate(self, text: str) -> bool:
        """True when ``text`` is longer than the model reads (it would be cut to ``max_tokens``,
        special tokens included): say so to the user rather than silently dropping the tail."""
        return self.count_tokens([text])[0] + self._n_special > self.spec.max_tokens

    @property
    def max_tokens(self) -> int:
        return self.spec.max_tokens

    def __repr__(self) -> str:
        return f"PretrainedEmbedder({self.spec.describe()}, origin={self.files.origin})"
