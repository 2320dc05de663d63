"""Fine-tune only the top layers of a sentence model, on cached lower-layer states.

Why: on a small CPU a full fine-tune of MiniLM (6 layers forward and backward at up to 256
tokens) sees a few hundred (query, passage) pairs in half an hour, 1-2 % of NFCorpus train, and
the result is noise (issue 17, part 5). Freezing the embeddings and the lower ``L - N`` layers
lets us run them **once** per text and keep their output (the hidden states entering layer
``L - N``); every step then runs only the top ``N`` layers and the pooling, forward and
backward, over those cached states. With ``N = 1`` a step costs about a tenth of a full pass,
and a dev evaluation over the *whole* corpus (exact, not a pool proxy) costs one layer over
the cached states, so early stopping can watch the real dev nDCG@10.

Exactness: the top layers see exactly what they would see in a full pass (padding positions
are masked out of attention, so zero-padding the cache changes nothing), hence the gradient of
the trained layers equals the full-pass gradient (checked in ``tests/models/
test_finetune_top.py``). The saved folder is a whole sentence-transformers folder (frozen
layers unchanged), exported through the same ONNX path as every model.

The examples: every judged (query, relevant passage) pair, one epoch at a time, each with a
hard negative mined from the base model's ranking (``mine_negatives``: ranks ``skip`` to
``depth``, not judged relevant, and scoring below ``max_ratio`` x the positive's score, since
NFCorpus-like judgements are sparse and the very top unjudged hits are often relevant), and a
multiple-negatives loss over the batch's passages and negatives in which any passage judged
relevant to a query is left out of that query's negatives (no false in-batch negatives).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from akindb.errors import InvalidArgumentError
from akindb.models.finetune import no_repeat_batches

Vectors = np.ndarray[Any, Any]
Evaluate = Callable[[Vectors, Vectors], float]
"""``evaluate(dev query vectors, corpus vectors) -> dev nDCG@10`` (unit vectors, row order of
``Judged.queries`` and of the corpus)."""


@dataclass(frozen=True, slots=True)
class Judged:
    """Queries and their judgements as indexes into the corpus list: ``relevant[i]`` maps a
    corpus index to its grade for ``queries[i]`` (grade > 0: relevant)."""

    queries: list[str]
    relevant: list[dict[int, int]]


@dataclass(frozen=True, slots=True)
class TopParams:
    """Knobs (each a trade-off): ``train_layers`` (more layers adapt more, cost more per step);
    ``max_length`` tokens per passage while training (128 is MiniLM's own training length;
    evaluation and the saved model keep the base's window); ``batch_size`` examples per step
    (each brings its passage and negative: more in-batch negatives); ``lr`` with linear warm-up
    and decay; ``epochs`` over the judged pairs, capped by ``max_steps`` and by
    ``cpu_budget_s`` seconds of process CPU time (all threads; the cached states included);
    ``eval_every`` / ``patience`` for early stopping on dev nDCG@10; ``skip`` / ``depth`` /
    ``max_ratio`` for the negatives."""

    train_layers: int = 1
    max_length: int = 128
    batch_size: int = 64
    lr: float = 5e-5
    warmup_ratio: float = 0.1
    epochs: int = 1
    max_steps: int | None = None
    cpu_budget_s: float | None = None
    eval_every: int = 100
    patience: int = 3
    scale: float = 20.0
    skip: int = 10
    depth: int = 100
    max_ratio: float = 0.95
    seed: int = 1
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.train_layers < 1:
            raise InvalidArgumentError("train_layers must be at least 1")
        if self.batch_size < 2 or self.epochs < 1 or self.eval_every < 1 or self.patience < 1:
            raise InvalidArgumentError(
                "batch_size must be >= 2, and epochs, eval_every and patience >= 1"
            )
        if self.max_length < 8:
            raise InvalidArgumentError(f"max_length must be >= 8 tokens, got {self.max_length}")
        if not 0 < self.lr < 1:
            raise InvalidArgumentError(f"lr must be in (0, 1), got {self.lr}")
        if not 0 <= self.skip < self.depth:
            raise InvalidArgumentError("negatives need 0 <= skip < depth")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class TopCurve:
    """One point per dev evaluation: step, examples seen, CPU and wall seconds, dev nDCG@10."""

    points: list[dict[str, float]] = field(default_factory=list)


# ---- the split model ---------------------------------------------------------------------------
class SplitModel:
    """A sentence-transformers model cut at layer ``cut``: ``lower`` runs the frozen part once
    per text, ``top`` the trained part over cached states."""

    def __init__(self, st: Any, train_layers: int) -> None:
        import torch

        self.st, self.torch = st, torch
        self.bert = st[0].auto_model
        n = len(self.bert.encoder.layer)
        if train_layers > n:
            raise InvalidArgumentError(f"the model has {n} layers; cannot train {train_layers}")
        self.cut = n - train_layers
        self.top_layers = list(self.bert.encoder.layer[self.cut :])
        for p in self.st.parameters():
            p.requires_grad_(False)
        for p in self.trained_parameters():
            p.requires_grad_(True)

    def trained_parameters(self) -> list[Any]:
        """The top layers' and any trainable head's parameters (pooling has none for MiniLM)."""
        params = [p for layer in self.top_layers for p in layer.parameters()]
        for module in list(self.st)[1:]:
            params.extend(module.parameters())
        return params

    def _trained_modules(self) -> list[Any]:
        return [*self.top_layers, *list(self.st)[1:]]

    def trained_state(self) -> list[dict[str, Any]]:
        """A copy of the trained modules' weights (the rest never changes)."""
        return [{k: v.detach().clone() for k, v in m.state_dict().items()}
                for m in self._trained_modules()]

    def load_trained(self, state: list[dict[str, Any]]) -> None:
        for module, weights in zip(self._trained_modules(), state, strict=True):
            module.load_state_dict(weights)

    def _mask(self, hidden: Any, mask: Any) -> Any:
        from transformers.masking_utils import create_bidirectional_mask

        return create_bidirectional_mask(config=self.bert.config, inputs_embeds=hidden,
                                         attention_mask=mask)

    def lower(self, texts: Sequence[str], max_length: int, batch: int = 32) -> list[Any]:
        """The hidden states entering layer ``cut`` for each text (``[tokens, hidden]``,
        padding dropped), computed without gradients, shortest texts batched together."""
        torch = self.torch
        tok = self.st.tokenizer
        out: list[Any] = [None] * len(texts)
        lengths = [len(t) for t in texts]
        order = sorted(range(len(texts)), key=lambda i: lengths[i])
        self.bert.eval()
        with torch.no_grad():
            for s in range(0, len(order), batch):
                idx = order[s : s + batch]
                enc = tok([texts[i] for i in idx], padding=True, truncation=True,
                          max_length=max_length, return_tensors="pt").to(self.st.device)
                h = self.bert.embeddings(input_ids=enc["input_ids"],
                                         token_type_ids=enc.get("token_type_ids"))
                m = self._mask(h, enc["attention_mask"])
                for layer in self.bert.encoder.layer[: self.cut]:
                    h = layer(h, m)
                n_tok = enc["attention_mask"].sum(1).tolist()
                for j, i in enumerate(idx):
                    out[i] = h[j, : int(n_tok[j])].detach().cpu().contiguous()
        return out

    def lower_cached(self, texts: Sequence[str], max_length: int, folder: Path | None,
                     tag: str) -> list[Any]:
        """``lower``, kept in ``folder`` (when given) under a digest of the model ``tag``, the
        cut, the length and the texts: a second run on the same data skips the frozen part."""
        if folder is None:
            return self.lower(texts, max_length)
        h = hashlib.sha256(f"{tag}\0{self.cut}\0{max_length}".encode())
        for t in texts:
            h.update(t.encode())
            h.update(b"\0")
        path = folder / f"states-{h.hexdigest()[:24]}.pt"
        if path.is_file():
            loaded: list[Any] = self.torch.load(path, weights_only=True)
            return loaded
        states = self.lower(texts, max_length)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        self.torch.save(states, tmp)
        tmp.replace(path)
        return states

    def top(self, states: Sequence[Any]) -> Any:
        """Unit sentence vectors of cached states through the top layers and the pooling."""
        torch = self.torch
        n = max(int(s.shape[0]) for s in states)
        dev = self.st.device
        h = torch.zeros(len(states), n, states[0].shape[1], device=dev)
        mask = torch.zeros(len(states), n, dtype=torch.long, device=dev)
        for i, s in enumerate(states):
            h[i, : s.shape[0]] = s.to(dev)
            mask[i, : s.shape[0]] = 1
        m = self._mask(h, mask)
        for layer in self.top_layers:
            h = layer(h, m)
        feats = {"token_embeddings": h, "attention_mask": mask}
        for module in list(self.st)[1:]:
            feats = module(feats)
        return torch.nn.functional.normalize(feats["sentence_embedding"], dim=-1)

    def embed_cached(self, states: Sequence[Any], batch: int = 64) -> Vectors:
        """``top`` over many cached texts without gradients, as a float32 array."""
        torch = self.torch
        order = sorted(range(len(states)), key=lambda i: int(states[i].shape[0]))
        out = np.zeros((len(states), self.bert.config.hidden_size), np.float32)
        was = self.st.training
        self.st.eval()
        with torch.no_grad():
            for s in range(0, len(order), batch):
                idx = order[s : s + batch]
                out[idx] = self.top([states[i] for i in idx]).cpu().numpy()
        self.st.train(was)
        return out


# ---- negatives and batches ---------------------------------------------------------------------
def mine_negatives(qv: Vectors, dv: Vectors, judged: Judged, *, skip: int, depth: int,
                   max_ratio: float) -> list[list[tuple[int, float]]]:
    """Per query: (corpus index, score) of candidate negatives, ranks ``skip``..``depth`` of the
    base model that are not judged relevant. ``pick_negative`` applies the positive-aware cut.

    >>> q = np.array([[1.0, 0.0]]); d = np.array([[1.0, 0.0], [0.9, 0.1], [0.5, 0.5], [0, 1.0]])
    >>> [[i for i, _ in c] for c in mine_negatives(q, d, Judged(["q"], [{0: 1}]), skip=0,
    ...                                            depth=3, max_ratio=0.95)]
    [[1, 2]]
    """
    out: list[list[tuple[int, float]]] = []
    for i in range(len(judged.queries)):
        s = dv @ qv[i]
        top = np.argsort(-s, kind="stable")[:depth]
        rel = judged.relevant[i]
        out.append([(int(d), float(s[d])) for d in top[skip:] if rel.get(int(d), 0) <= 0])
    return out


def pick_negative(cands: list[tuple[int, float]], pos_score: float, max_ratio: float,
                  rng: random.Random) -> int | None:
    """A random candidate scoring below ``max_ratio`` x the positive (NV-Retriever's
    "TopK-PercPos" filter: a near-tie with the positive is likely an unjudged positive)."""
    ok = [d for d, s in cands if s < max_ratio * pos_score]
    return rng.choice(ok) if ok else None


def example_batches(pairs: Sequence[tuple[int, int]], size: int,
                    rng: random.Random) -> list[list[tuple[int, int]]]:
    """Shuffled (query, positive) batches in which no query and no passage repeats.

    >>> b = example_batches([(0, 5), (0, 6), (1, 5), (2, 7)], 2, random.Random(0))
    >>> sum(len(x) for x in b), all(len({q for q, _ in x}) == len(x) for x in b)
    (4, True)
    """
    pending = list(pairs)
    rng.shuffle(pending)
    return no_repeat_batches(pending, size, min_size=1)


def batch_loss(split: SplitModel, q_states: Sequence[Any], d_states: Sequence[Any],
               cols: Sequence[int], relevant: Sequence[dict[int, int]], scale: float) -> Any:
    """Multiple-negatives ranking loss: query ``i``'s label is column ``i``; every other column
    whose corpus index (``cols``) is judged relevant to query ``i`` is masked out."""
    torch = split.torch
    q = split.top(q_states)
    d = split.top(d_states)
    scores = scale * q @ d.T
    block = torch.zeros_like(scores, dtype=torch.bool)
    for i, rel in enumerate(relevant):
        for j, c in enumerate(cols):
            if j != i and rel.get(c, 0) > 0:
                block[i, j] = True
    scores = scores.masked_fill(block, float("-inf"))
    return torch.nn.functional.cross_entropy(scores, torch.arange(len(q_states),
                                                                  device=scores.device))
