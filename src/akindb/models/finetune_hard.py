"""Fine-tuning that aims at retrieval: hard negatives, a large cached batch, dev nDCG stopping.

``finetune.py`` trains on (query, passage) pairs with in-batch negatives and stops on the dev
pairs' loss; on NFCorpus that made MiniLM worse (test nDCG@10 0.2996 vs 0.3159, issue 17): the
loss falls while ranking does not improve, and random in-batch passages are too easy. Here:

* **Hard negatives.** Each example is (query, relevant passage, hard negative), the negative
  mined from what BM25 and the current model rank high but the judgements do not mark relevant
  (``akindb.eval.hard_negatives``). The loss is multiple-negatives ranking over every passage
  and negative of the batch (``B`` queries against ``2B`` passages).
* **A large effective batch on small memory** (gradient caching, Gao et al., 2021, "Scaling Deep
  Contrastive Learning Batch Size under Memory Limited Setup"; sentence-transformers'
  ``CachedMultipleNegativesRankingLoss``): embed the whole batch without gradients in
  mini-batches, take the loss and its gradient with respect to the embeddings, then re-embed
  each mini-batch with gradients and back-propagate that cached gradient. Same result as one
  big batch; memory of one mini-batch.
* **Early stopping on what we want**: ``evaluate(embed) -> nDCG@10`` on dev, called every
  ``eval_every`` steps; the best checkpoint (the base model if nothing beats it) is saved.

The saved folder is a plain sentence-transformers folder that ``load_embedder`` runs on ONNX
Runtime (as ``finetune.py``'s). Needs the ``train`` extra (PyTorch, sentence-transformers).
"""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from akindb.errors import InvalidArgumentError, MissingExtraError
from akindb.models.finetune import FinetuneReport, _base_folder, _check_onnx, _save, _write_marker

Triple = tuple[str, str, str]
Evaluate = Callable[[Callable[[list[str]], np.ndarray[Any, Any]]], float]
"""Given ``embed(texts) -> unit vectors``, the dev nDCG@10 (higher is better)."""


@dataclass(frozen=True, slots=True)
class HardParams:
    """Knobs (each a trade-off): ``batch_size`` queries per step (each brings its passage and
    its negative: harder task, better gradients, more time per step); ``mini_batch`` texts per
    forward pass (memory only; the result does not depend on it); ``lr`` with linear warm-up
    and decay; ``max_steps``; ``eval_every`` / ``patience`` for early stopping on dev nDCG."""

    batch_size: int = 64
    mini_batch: int = 16
    lr: float = 2e-5
    warmup_ratio: float = 0.1
    max_steps: int = 200
    eval_every: int = 20
    patience: int = 3
    scale: float = 20.0
    max_seq_length: int = 128
    seed: int = 1
    device: str = "cpu"
    """Where PyTorch trains: "cpu", or "cuda" on a machine with a GPU."""

    def __post_init__(self) -> None:
        if self.batch_size < 2 or self.mini_batch < 1:
            raise InvalidArgumentError("batch_size must be >= 2 and mini_batch >= 1")
        if self.max_steps < 1 or self.eval_every < 1 or self.patience < 1:
            raise InvalidArgumentError("max_steps, eval_every and patience must be >= 1")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class Curve:
    """(step, seconds, dev nDCG@10) after every evaluation; step 0 is the base model."""

    points: list[dict[str, float]] = field(default_factory=list)


def batches(triples: Sequence[Triple], size: int, rng: random.Random) -> list[list[Triple]]:
    """Shuffled batches in which no query and no passage (positive or negative) repeats, so no
    in-batch "negative" is in fact a positive of the same text.

    >>> b = batches([("q", "a", "x"), ("q", "b", "y"), ("r", "c", "a")], 2, random.Random(0))
    >>> sum(len(x) for x in b), all(len({s for t in x for s in t}) == 3 * len(x) for x in b)
    (3, True)
    """
    pending = list(triples)
    rng.shuffle(pending)
    out: list[list[Triple]] = []
    while pending:
        batch: list[Triple] = []
        seen: set[str] = set()
        rest: list[Triple] = []
        for t in pending:
            if len(batch) < size and not ({t[0], t[1], t[2]} & seen):
                batch.append(t)
                seen.update(t)
            else:
                rest.append(t)
        out.append(batch)
        pending = rest
    return out


def finetune_hard(
    base: str,
    train: Sequence[Triple],
    out: str | Path,
    evaluate: Evaluate,
    params: HardParams | None = None,
    *,
    on_note: Callable[[str], None] | None = None,
) -> tuple[FinetuneReport, Curve]:
    """Train ``base`` on ``train`` triples and save the checkpoint with the best dev nDCG@10."""
    params = params or HardParams()
    try:
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise MissingExtraError("train", "sentence-model fine-tuning") from exc
    note = on_note or (lambda _m: None)
    outp = Path(out).expanduser().resolve()
    if outp.exists():
        raise InvalidArgumentError(f"{outp} exists; choose another folder")
    rng = random.Random(params.seed)
    torch.manual_seed(params.seed)
    model = SentenceTransformer(str(_base_folder(base)), device=params.device)
    base_len = int(model.max_seq_length or 256)
    model.max_seq_length = params.max_seq_length
    prep = getattr(model, "preprocess", None) or model.tokenize

    def forward(texts: list[str]) -> Any:
        emb = model(prep(texts))["sentence_embedding"]
        return torch.nn.functional.normalize(emb, dim=-1)

    def embed_eval(texts: list[str]) -> np.ndarray[Any, Any]:
        model.eval()
        with torch.no_grad():
            parts = [forward(texts[i : i + 64]).cpu().numpy() for i in range(0, len(texts), 64)]
        model.train()
        return np.concatenate(parts) if parts else np.zeros((0, 1), np.float32)

    def step_loss(batch: list[Triple]) -> float:
        """One gradient-cached multiple-negatives step over ``batch`` (module doc)."""
        qs = [t[0] for t in batch]
        ps = [t[1] for t in batch] + [t[2] for t in batch]
        mb = params.mini_batch
        with torch.no_grad():
            q_all = torch.cat([forward(qs[i : i + mb]) for i in range(0, len(qs), mb)])
            p_all = torch.cat([forward(ps[i : i + mb]) for i in range(0, len(ps), mb)])
        q_all.requires_grad_(True)
        p_all.requires_grad_(True)
        scores = params.scale * q_all @ p_all.T
        labels = torch.arange(len(qs), device=scores.device)
        loss = torch.nn.functional.cross_entropy(scores, labels)
        loss.backward()  # type: ignore[no-untyped-call]
        assert q_all.grad is not None and p_all.grad is not None
        for texts, grads in ((qs, q_all.grad), (ps, p_all.grad)):
            for i in range(0, len(texts), mb):
                forward(texts[i : i + mb]).backward(grads[i : i + mb])
        return float(loss.detach())

    steps = batches(train, params.batch_size, rng)
    steps = [b for b in steps if len(b) >= 2][: params.max_steps]
    total = len(steps)
    if total == 0:
        raise InvalidArgumentError("no training batch: give more (query, positive, negative)")
    warm = max(1, int(total * params.warmup_ratio))
    opt = torch.optim.AdamW(model.parameters(), lr=params.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warm if s < warm else max(0.0, (total - s) / max(total - warm, 1))
    )
    report = FinetuneReport(base, str(outp), len(train), 0, params.to_dict())
    curve = Curve()
    t0 = time.perf_counter()
    best = evaluate(embed_eval)
    curve.points.append({"step": 0, "seconds": 0.0, "ndcg@10": round(best, 4)})
    best_state = copy.deepcopy(model.state_dict())
    note(f"{len(train):,} triples, {total} steps of {params.batch_size}; base dev nDCG@10 "
         f"{best:.4f}")
    bad = 0
    model.train()
    for step, batch in enumerate(steps, 1):
        opt.zero_grad()
        loss = step_loss(batch)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        report.steps = step
        if step % params.eval_every == 0 or step == total:
            score = evaluate(embed_eval)
            secs = round(time.perf_counter() - t0, 1)
            curve.points.append({"step": step, "seconds": secs, "ndcg@10": round(score, 4),
                                 "train_loss": round(loss, 4)})
            note(f"step {step}/{total}: loss {loss:.4f}, dev nDCG@10 {score:.4f} · {secs:.0f} s")
            if score > best + 1e-4:
                best, bad, report.best_step = score, 0, step
                best_state = copy.deepcopy(model.state_dict())
            else:
                bad += 1
                if bad >= params.patience:
                    report.stopped_early = True
                    break
    report.train_seconds = round(time.perf_counter() - t0, 1)
    report.history = curve.points
    model.load_state_dict(best_state)
    model.max_seq_length = base_len
    _save(model, outp, report)
    report.onnx_max_abs_diff = _check_onnx(model, outp)
    _write_marker(outp, report)
    return report, curve
