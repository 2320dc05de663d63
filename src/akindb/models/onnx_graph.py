"""Build a BERT sentence encoder as an ONNX graph straight from safetensors weights.

No PyTorch: the graph is written node by node with ``onnx.helper`` from the weight arrays and the
model's ``config.json``. The graph computes

    token + position (+ type) embeddings → LayerNorm → N × [self-attention → add & LayerNorm →
    GELU(erf) feed-forward → add & LayerNorm] → pooling over the attention mask → L2 normalise

Inputs ``input_ids`` and ``attention_mask`` (and, when asked, ``token_type_ids``) are int64 of
shape (batch, sequence), both dynamic; the output ``sentence_embedding`` is float32 (batch, hidden).

Choices made for CPU speed (ONNX Runtime, measured on all-MiniLM-L6-v2, see docs/benchmarks.md):
hidden states are kept 2-D (tokens, hidden) so every projection is one GEMM with its bias;
query, key and value are one fused GEMM; the 1/sqrt(head_dim) scale is folded into the query
weights; the additive attention mask is computed once, not per layer.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from akindb.errors import ModelError

if TYPE_CHECKING:  # the onnx package is imported only when a graph is built (see _onnx)
    import onnx

BUILDER_VERSION = 1
"""Bumped whenever the graph this module writes changes; part of the ONNX cache key."""

OPSET = 17
"""ONNX opset of the graph (17 brings ``LayerNormalization``)."""

Pooling = Literal["mean", "cls"]
Array = npt.NDArray[Any]

_MASK_VALUE = -1.0e9
"""Added to the attention scores of padding tokens: softmax gives them exactly zero weight."""

_PREFIXES = ("bert.", "model.", "0.auto_model.", "auto_model.")


@dataclass(frozen=True, slots=True)
class BertConfig:
    """The few facts of a Hugging Face ``BertConfig`` the graph needs."""

    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    hidden_act: str = "gelu"

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BertConfig:
        """Read a ``config.json`` dict; refuse what this builder cannot run.

        >>> BertConfig.from_dict({"model_type": "bert", "vocab_size": 10, "hidden_size": 8,
        ...     "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16}).head_dim
        4
        """
        model_type = data.get("model_type", "bert")
        if model_type != "bert":
            raise ModelError(
                f"model_type {model_type!r} is not supported by the ONNX builder; "
                "use a BERT-family sentence-transformers model"
            )
        act = str(data.get("hidden_act", "gelu"))
        if act != "gelu":
            raise ModelError(f"hidden_act {act!r} is not supported; only 'gelu' (erf) is")
        pos_type = data.get("position_embedding_type", "absolute")
        if pos_type != "absolute":
            raise ModelError(f"position_embedding_type {pos_type!r} is not supported")
        try:
            cfg = cls(
                vocab_size=int(data["vocab_size"]),
                hidden_size=int(data["hidden_size"]),
                num_hidden_layers=int(data["num_hidden_layers"]),
                num_attention_heads=int(data["num_attention_heads"]),
                intermediate_size=int(data["intermediate_size"]),
                max_position_embeddings=int(data.get("max_position_embeddings", 512)),
                type_vocab_size=int(data.get("type_vocab_size", 2)),
                layer_norm_eps=float(data.get("layer_norm_eps", 1e-12)),
                hidden_act=act,
            )
        except KeyError as exc:
            raise ModelError(f"config.json lacks {exc.args[0]!r}; is this a BERT model?") from exc
        if cfg.hidden_size % cfg.num_attention_heads:
            raise ModelError("hidden_size is not a multiple of num_attention_heads")
        return cfg

    @classmethod
    def from_file(cls, path: str | Path) -> BertConfig:
        with open(path, encoding="utf-8") as fh:
            return cls.from_dict(json.load(fh))


def load_safetensors(path: str | Path) -> dict[str, Array]:
    """Read every tensor of a ``.safetensors`` file as numpy, with any ``bert.``-style prefix
    removed so keys look like ``encoder.layer.0.attention.self.query.weight``."""
    from safetensors.numpy import load_file

    raw: dict[str, Array] = load_file(str(path))
    out: dict[str, Array] = {}
    for key, value in raw.items():
        name = key
        for prefix in _PREFIXES:
            if name.startswith(prefix):
                name = name[len(prefix) :]
                break
        out[name] = value
    return out


class _Graph:
    """Accumulates nodes and initializers with unique names."""

    def __init__(self) -> None:
        from onnx import helper, numpy_helper

        self._helper, self._numpy_helper = helper, numpy_helper
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def const(self, name: str, value: Array) -> str:
        self.inits.append(self._numpy_helper.from_array(np.asarray(value, order="C"), name))
        return name

    def op(self, op_type: str, inputs: list[str], name: str | None = None, **attrs: Any) -> str:
        self._n += 1
        out = name or f"{op_type.lower()}_{self._n}"
        node = self._helper.make_node(op_type, inputs, [out], name=f"n{self._n}", **attrs)
        self.nodes.append(node)
        return out


def _f32(a: Array) -> Array:
    return np.asarray(a, dtype=np.float32)


def build_bert_graph(
    weights: Mapping[str, Array],
    config: BertConfig,
    *,
    pooling: Pooling = "mean",
    normalize: bool = True,
    token_type_ids: bool = False,
    doc: str = "",
) -> onnx.ModelProto:
    """The whole sentence encoder as one ``onnx.ModelProto``.

    ``weights`` are the BERT tensors by their Hugging Face names (see ``load_safetensors``).
    Without ``token_type_ids`` every token gets type 0, as sentence-transformers does for a
    single text. Raises ``ModelError`` when a tensor is missing or has the wrong shape.
    """
    # Imported here, not at module level: opening a cached graph (every query process) needs
    # only onnxruntime; the onnx package (~0.3 s to import) is for building one.
    from onnx import TensorProto, helper

    def w(key: str, shape: tuple[int, ...]) -> Array:
        try:
            arr = _f32(weights[key])
        except KeyError as exc:
            raise ModelError(f"weights lack tensor {key!r}; is this a BERT checkpoint?") from exc
        if arr.shape != shape:
            raise ModelError(f"tensor {key!r} has shape {arr.shape}, expected {shape}")
        return arr

    cfg = config
    h, heads, hd = cfg.hidden_size, cfg.num_attention_heads, cfg.head_dim
    g = _Graph()
    eps = float(cfg.layer_norm_eps)

    # ---- shapes and mask (computed once) --------------------------------------------------
    ids_shape = g.op("Shape", ["input_ids"])
    s0, s1, s2 = (g.const(f"s{j}", np.array([j], np.int64)) for j in range(3))
    seq_len_1d = g.op("Slice", [ids_shape, s1, s2])  # [S]
    mask_f = g.op("Cast", ["attention_mask"], to=TensorProto.FLOAT)  # (B, S)
    inv_mask = g.op("Sub", [g.const("one_f", np.array(1.0, np.float32)), mask_f])
    add_mask = g.op("Mul", [inv_mask, g.const("mask_value", np.array(_MASK_VALUE, np.float32))])
    add_mask = g.op("Unsqueeze", [add_mask, g.const("axes12", np.array([1, 2], np.int64))])

    # ---- embeddings -----------------------------------------------------------------------
    word = g.const("word_embeddings", w("embeddings.word_embeddings.weight", (cfg.vocab_size, h)))
    pos_table = w("embeddings.position_embeddings.weight", (cfg.max_position_embeddings, h))
    type_table = w("embeddings.token_type_embeddings.weight", (cfg.type_vocab_size, h))
    x = g.op("Gather", [word, "input_ids"], axis=0)  # (B, S, H)
    if token_type_ids:
        x = g.op(
            "Add",
            [x, g.op("Gather", [g.const("type_embeddings", type_table), "token_type_ids"], axis=0)],
        )
        pos_source = pos_table
    else:
        pos_source = pos_table + type_table[0:1]  # type 0 for every token, folded in
    pos = g.op(
        "Slice",
        [g.const("position_embeddings", pos_source), s0, seq_len_1d, s0],
    )
    x = g.op("Add", [x, pos])
    x = g.op(
        "LayerNormalization",
        [
            x,
            g.const("emb_ln_w", w("embeddings.LayerNorm.weight", (h,))),
            g.const("emb_ln_b", w("embeddings.LayerNorm.bias", (h,))),
        ],
        axis=-1,
        epsilon=eps,
    )
    # Keep hidden states 2-D (B*S, H): each projection becomes a single GEMM with bias.
    x = g.op("Reshape", [x, g.const("to_2d", np.array([-1, h], np.int64))])
    shape_bshd = g.op(
        "Concat",
        [g.op("Slice", [ids_shape, s0, s2]), g.const("hd_dims", np.array([heads, hd], np.int64))],
        axis=0,
    )  # [B, S, heads, head_dim]
    scale = np.float32(1.0 / math.sqrt(hd))

    # ---- encoder layers -------------------------------------------------------------------
    for i in range(cfg.num_hidden_layers):
        p = f"encoder.layer.{i}."
        wq = w(p + "attention.self.query.weight", (h, h)) * scale
        bq = w(p + "attention.self.query.bias", (h,)) * scale
        wk = w(p + "attention.self.key.weight", (h, h))
        bk = w(p + "attention.self.key.bias", (h,))
        wv = w(p + "attention.self.value.weight", (h, h))
        bv = w(p + "attention.self.value.bias", (h,))
        w_qkv = np.concatenate([wq, wk, wv], axis=0).T  # (H, 3H)
        b_qkv = np.concatenate([bq, bk, bv])
        qkv = g.op("Gemm", [x, g.const(f"l{i}_qkv_w", w_qkv), g.const(f"l{i}_qkv_b", b_qkv)])
        q, k, v = (f"l{i}_q2d", f"l{i}_k2d", f"l{i}_v2d")
        g.nodes.append(
            helper.make_node(
                "Split",
                [qkv, g.const(f"l{i}_split", np.array([h, h, h], np.int64))],
                [q, k, v],
                name=f"l{i}_split_qkv",
                axis=1,
            )
        )
        q4 = g.op("Transpose", [g.op("Reshape", [q, shape_bshd])], perm=[0, 2, 1, 3])
        k4 = g.op("Transpose", [g.op("Reshape", [k, shape_bshd])], perm=[0, 2, 3, 1])
        v4 = g.op("Transpose", [g.op("Reshape", [v, shape_bshd])], perm=[0, 2, 1, 3])
        scores = g.op("Add", [g.op("MatMul", [q4, k4]), add_mask])  # (B, heads, S, S)
        probs = g.op("Softmax", [scores], axis=-1)
        ctx = g.op("Transpose", [g.op("MatMul", [probs, v4])], perm=[0, 2, 1, 3])
        ctx = g.op("Reshape", [ctx, g.const(f"l{i}_to_2d", np.array([-1, h], np.int64))])
        attn = g.op(
            "Gemm",
            [
                ctx,
                g.const(f"l{i}_ao_w", w(p + "attention.output.dense.weight", (h, h)).T),
                g.const(f"l{i}_ao_b", w(p + "attention.output.dense.bias", (h,))),
            ],
        )
        x = g.op(
            "LayerNormalization",
            [
                g.op("Add", [attn, x]),
                g.const(f"l{i}_ln1_w", w(p + "attention.output.LayerNorm.weight", (h,))),
                g.const(f"l{i}_ln1_b", w(p + "attention.output.LayerNorm.bias", (h,))),
            ],
            axis=-1,
            epsilon=eps,
        )
        inter = g.op(
            "Gemm",
            [
                x,
                g.const(
                    f"l{i}_in_w", w(p + "intermediate.dense.weight", (cfg.intermediate_size, h)).T
                ),
                g.const(f"l{i}_in_b", w(p + "intermediate.dense.bias", (cfg.intermediate_size,))),
            ],
        )
        inter = _gelu_erf(g, inter)
        out = g.op(
            "Gemm",
            [
                inter,
                g.const(f"l{i}_out_w", w(p + "output.dense.weight", (h, cfg.intermediate_size)).T),
                g.const(f"l{i}_out_b", w(p + "output.dense.bias", (h,))),
            ],
        )
        x = g.op(
            "LayerNormalization",
            [
                g.op("Add", [out, x]),
                g.const(f"l{i}_ln2_w", w(p + "output.LayerNorm.weight", (h,))),
                g.const(f"l{i}_ln2_b", w(p + "output.LayerNorm.bias", (h,))),
            ],
            axis=-1,
            epsilon=eps,
        )

    # ---- pooling and normalisation --------------------------------------------------------
    shape_bsh = g.op(
        "Concat",
        [g.op("Slice", [ids_shape, s0, s2]), g.const("h_dim", np.array([h], np.int64))],
        axis=0,
    )
    hidden = g.op("Reshape", [x, shape_bsh])  # (B, S, H)
    if pooling == "mean":
        m3 = g.op("Unsqueeze", [mask_f, g.const("axes1", np.array([1], np.int64))])  # (B, 1, S)
        summed = g.op("MatMul", [m3, hidden])  # (B, 1, H)
        summed = g.op("Squeeze", [summed, "axes1"])
        count = g.op("ReduceSum", [mask_f, "axes1"], keepdims=1)  # (B, 1)
        count = g.op("Max", [count, g.const("min_count", np.array(1e-9, np.float32))])
        pooled = g.op("Div", [summed, count])
    elif pooling == "cls":
        pooled = g.op("Gather", [hidden, g.const("zero_i", np.array(0, np.int64))], axis=1)
    else:
        raise ModelError(f"pooling {pooling!r} is not supported; use 'mean' or 'cls'")
    if normalize:
        norm = g.op("ReduceL2", [pooled], axes=[1], keepdims=1)  # axes: attribute in opset 17
        norm = g.op("Max", [norm, g.const("min_norm", np.array(1e-12, np.float32))])
        g.op("Div", [pooled, norm], name="sentence_embedding")
    else:
        g.op("Identity", [pooled], name="sentence_embedding")

    inputs = [
        helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
        helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "sequence"]),
    ]
    if token_type_ids:
        inputs.append(
            helper.make_tensor_value_info(
                "token_type_ids", TensorProto.INT64, ["batch", "sequence"]
            )
        )
    outputs = [helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", h])]
    graph = helper.make_graph(g.nodes, "sentence_encoder", inputs, outputs, initializer=g.inits)
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="akindb",
        producer_version=str(BUILDER_VERSION),
        doc_string=doc,
    )
    model.ir_version = 8  # readable by every onnxruntime >= 1.14
    return model


def _gelu_erf(g: _Graph, x: str) -> str:
    """GELU with erf, the exact form BERT uses: 0.5 * x * (1 + erf(x / sqrt(2))).

    ONNX Runtime fuses this pattern (with the GEMM bias before it) into one ``BiasGelu`` kernel.
    """
    if "sqrt2" not in {t.name for t in g.inits}:
        g.const("sqrt2", np.array(math.sqrt(2.0), np.float32))
        g.const("half", np.array(0.5, np.float32))
    erf = g.op("Erf", [g.op("Div", [x, "sqrt2"])])
    return g.op("Mul", [g.op("Mul", [x, g.op("Add", [erf, "one_f"])]), "half"])


def set_metadata(model: onnx.ModelProto, items: Mapping[str, str]) -> None:
    """Record provenance (weights hash, builder version...) in the model's metadata."""
    for key, value in items.items():
        entry = model.metadata_props.add()
        entry.key = key
        entry.value = value
