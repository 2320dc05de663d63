"""Contrastive fine-tuning of a sentence model on (query, relevant passage) pairs.

Loss: in-batch negatives (``MultipleNegativesRankingLoss``): for a batch of B pairs, each query
must score its own passage above the other B-1 passages, by cross-entropy over
``scale * cos(q_i, p_j)``. Batches are built so that no query or passage appears twice in one
batch (a repeated passage would be a false negative). Training runs on PyTorch through
sentence-transformers (the optional ``akindb[train]`` extra); the result is a plain
sentence-transformers folder (``model.safetensors`` + ``config.json`` + ``tokenizer.json``) which
``load_embedder(folder)`` runs on ONNX Runtime through the same graph builder as the default
model, so search needs no PyTorch.

Knobs (each a trade-off):

- ``batch_size`` (32): more in-batch negatives make a harder, better task, but cost memory and
  time per step.
- ``lr`` (2e-5) with 10 % linear warm-up then linear decay: higher adapts faster and forgets the
  base model's general knowledge faster.
- ``max_seq_length`` (128 while training; the saved model keeps the base's window): shorter is
  much faster on CPU and sees only the start of long passages.
- ``eval_every`` / ``patience``: early stopping on the dev pairs' loss; the best checkpoint (which
  may be the base model itself) is what is saved.
- ``max_pairs``: a random sample of the training pairs, for machines where the full set is slow.
"""

from __future__ import annotations

import copy
import json
import math
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from akindb.atomic import replace_dir
from akindb.errors import InvalidArgumentError, MissingExtraError
from akindb.models import finetune_state as fs

Q = TypeVar("Q")
P = TypeVar("P")

Pair = tuple[str, str]
MARKER = "akindb-finetune.json"


@dataclass(frozen=True, slots=True)
class FinetuneParams:
    epochs: int = 1
    batch_size: int = 32
    lr: float = 2e-5
    warmup_ratio: float = 0.1
    max_pairs: int | None = None
    max_seq_length: int = 128
    eval_every: int = 50
    patience: int = 3
    scale: float = 20.0
    seed: int = 1
    dev_pairs: int = 256

    def __post_init__(self) -> None:
        if self.batch_size < 2:
            raise InvalidArgumentError("batch_size must be at least 2 (in-batch negatives)")
        if self.epochs < 1 or self.eval_every < 1 or self.patience < 1:
            raise InvalidArgumentError("epochs, eval_every and patience must be at least 1")
        if not 0 < self.lr < 1:
            raise InvalidArgumentError(f"lr must be in (0, 1), got {self.lr}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class FinetuneReport:
    base: str
    out: str
    train_pairs: int
    dev_pairs: int
    params: dict[str, Any]
    steps: int = 0
    train_seconds: float = 0.0
    best_step: int = 0
    best_dev_loss: float | None = None
    base_dev_loss: float | None = None
    history: list[dict[str, float]] = field(default_factory=list)
    stopped_early: bool = False
    onnx_max_abs_diff: float | None = None
    kept: str = "best"
    resumed_from_step: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---- pairs -------------------------------------------------------------------------------------
def read_pairs_jsonl(path: str | Path) -> list[Pair]:
    """``{"query": ..., "passage": ...}`` per line (``anchor``/``positive`` also accepted)."""
    pairs: list[Pair] = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidArgumentError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from exc
            if not isinstance(rec, dict):
                raise InvalidArgumentError(f"{path}:{lineno}: want a JSON object")
            q = rec.get("query", rec.get("anchor"))
            p = rec.get("passage", rec.get("positive"))
            missing = [
                n
                for n, v in (("query", q), ("passage", p))
                if not isinstance(v, str) or not v.strip()
            ]
            if missing:
                raise InvalidArgumentError(
                    f"{path}:{lineno}: missing or empty field(s) {', '.join(missing)}; each line "
                    'needs {"query": "...", "passage": "..."}'
                )
            pairs.append((str(q), str(p)))
    if not pairs:
        raise InvalidArgumentError(f"{path} holds no pairs")
    return pairs


def no_repeat_batches(
    pairs: Sequence[tuple[Q, P]], size: int, min_size: int = 2,
) -> list[list[tuple[Q, P]]]:
    """Cut ``pairs`` (in order) into batches where no query and no passage repeats. A batch of
    fewer than ``min_size`` pairs is dropped (by default one pair: it has no in-batch negative
    to learn from). Also the batching of ``finetune_top.example_batches``.

    >>> [len(b) for b in no_repeat_batches([("q", "a"), ("q", "b"), ("r", "c"), ("s", "d")], 2)]
    [2, 2]
    >>> no_repeat_batches([("q", "a"), ("q", "b"), ("r", "c")], 2)  # ("q", "b") is left alone
    [[('q', 'a'), ('r', 'c')]]
    """
    batches: list[list[tuple[Q, P]]] = []
    pending = list(pairs)
    while pending:
        batch: list[tuple[Q, P]] = []
        seen_q: set[Q] = set()
        seen_p: set[P] = set()
        rest: list[tuple[Q, P]] = []
        for q, p in pending:
            if len(batch) < size and q not in seen_q and p not in seen_p:
                batch.append((q, p))
                seen_q.add(q)
                seen_p.add(p)
            else:
                rest.append((q, p))
        batches.append(batch)
        pending = rest
    return [b for b in batches if len(b) >= min_size]


# ---- training ----------------------------------------------------------------------------------
def _base_folder(base: str) -> Path:
    from akindb.models.registry import ALIASES
    from akindb.models.sources import from_hub, from_package

    if base.lower() in {"default", *(a.lower() for a in ALIASES)}:
        return from_package().folder
    if base.startswith("hf:"):
        repo, _, rev = base[3:].partition("@")
        return from_hub(repo, revision=rev or None).folder
    folder = Path(base).expanduser()
    if not (folder / "model.safetensors").is_file():
        raise InvalidArgumentError(
            f"base model {base!r} is not a sentence-transformers folder (no model.safetensors)"
        )
    return folder


def finetune(
    base: str,
    train: Sequence[Pair],
    out: str | Path,
    params: FinetuneParams | None = None,
    *,
    dev: Sequence[Pair] | None = None,
    on_note: Callable[[str], None] | None = None,
    overwrite: bool = False,
    keep: str = "best",
    resume: bool = False,
) -> FinetuneReport:
    """Fine-tune ``base`` on ``train`` pairs and save the best checkpoint (by dev loss; ``keep=
    "last"``: the weights after the last step) to ``out``.

    Without ``dev``, 10 % of the pairs (at most ``params.dev_pairs``) are held out. The folder is
    written to a temporary sibling and renamed at the end: Ctrl-C leaves nothing at ``out``, only
    the resume checkpoint that ``resume=True`` continues from (``akindb.models.finetune_state``).
    """
    fs.check_keep(keep)
    with fs.quiet_progress_bars():
        return _finetune(base, train, out, params, dev=dev, on_note=on_note,
                         overwrite=overwrite, keep=keep, resume=resume)


def _finetune(
    base: str,
    train: Sequence[Pair],
    out: str | Path,
    params: FinetuneParams | None = None,
    *,
    dev: Sequence[Pair] | None = None,
    on_note: Callable[[str], None] | None = None,
    overwrite: bool = False,
    keep: str = "best",
    resume: bool = False,
) -> FinetuneReport:
    params = params or FinetuneParams()
    try:
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise MissingExtraError("train", "sentence-model fine-tuning") from exc
    note = on_note or (lambda _m: None)
    outp = Path(out).expanduser().resolve()
    if outp.exists() and not (overwrite and (outp / MARKER).is_file()):
        raise InvalidArgumentError(
            f"{outp} exists; choose another folder (or --force to replace a fine-tuned model)"
        )
    rng = random.Random(params.seed)
    train = list(train)
    rng.shuffle(train)
    if dev is None:
        n_dev = min(params.dev_pairs, max(len(train) // 10, 2))
        dev, train = train[:n_dev], train[n_dev:]
    else:
        dev = list(dev)
        rng.shuffle(dev)
        dev = dev[: params.dev_pairs]
    if params.max_pairs is not None:
        train = train[: params.max_pairs]
    if len(train) < params.batch_size:
        raise InvalidArgumentError(
            f"only {len(train)} training pairs; need at least one batch of {params.batch_size}"
        )
    folder = _base_folder(base)
    torch.manual_seed(params.seed)
    model = SentenceTransformer(str(folder), device="cpu")
    base_len = int(model.max_seq_length or 256)
    model.max_seq_length = params.max_seq_length
    report = FinetuneReport(base, str(outp), len(train), len(dev), params.to_dict())

    prep = getattr(model, "preprocess", None) or model.tokenize  # ST >= 6 renamed tokenize

    def batch_loss(batch: Sequence[Pair]) -> Any:
        qf = prep([q for q, _ in batch])
        pf = prep([p for _, p in batch])
        qe = model(qf)["sentence_embedding"]
        pe = model(pf)["sentence_embedding"]
        qe = torch.nn.functional.normalize(qe, dim=-1)
        pe = torch.nn.functional.normalize(pe, dim=-1)
        scores = params.scale * qe @ pe.T
        return torch.nn.functional.cross_entropy(scores, torch.arange(len(batch)))

    dev_batches = no_repeat_batches(dev, params.batch_size)

    def dev_loss() -> float:
        model.eval()
        with torch.no_grad():
            losses = [float(batch_loss(b)) * len(b) for b in dev_batches]
        model.train()
        return sum(losses) / max(sum(len(b) for b in dev_batches), 1)

    epochs_batches = []
    for _ in range(params.epochs):
        order = list(train)
        rng.shuffle(order)
        epochs_batches.extend(no_repeat_batches(order, params.batch_size))
    total = len(epochs_batches)
    warm = max(1, int(total * params.warmup_ratio))
    opt = torch.optim.AdamW(model.parameters(), lr=params.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warm if s < warm else max(0.0, (total - s) / max(total - warm, 1))
    )
    t0 = time.perf_counter()
    best = dev_loss()
    report.base_dev_loss = report.best_dev_loss = round(best, 5)
    best_state = copy.deepcopy(model.state_dict())
    note(
        f"{len(train):,} training pairs, {len(dev):,} dev pairs, {total} steps; "
        f"base dev loss {best:.4f}"
    )
    bad, running = 0, 0.0
    key = fs.run_key(base, params.to_dict(), train, dev)
    report.kept = keep
    if resume:
        st = fs.load_checkpoint(outp, key)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        sched.load_state_dict(st["sched"])
        torch.set_rng_state(st["torch_rng"])
        best, best_state, bad = st["best"], st["best_state"], st["bad"]
        report.history, report.best_step = st["history"], st["best_step"]
        report.best_dev_loss, report.resumed_from_step = st["best_dev_loss"], st["step"]
        note(f"resuming at step {st['step']}/{total}")
    model.train()
    for step, batch in enumerate(epochs_batches, 1):
        if step <= report.resumed_from_step:
            continue
        loss = batch_loss(batch)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        running += float(loss.detach())
        report.steps = step
        if step % params.eval_every == 0 or step == total:
            d = dev_loss()
            n = step % params.eval_every or params.eval_every
            report.history.append(
                {"step": step, "train_loss": round(running / n, 5), "dev_loss": round(d, 5)}
            )
            running = 0.0
            improved = d < best - 1e-4
            note(
                f"step {step}/{total}: train loss {report.history[-1]['train_loss']:.4f}, dev loss "
                f"{d:.4f}{' (best)' if improved else ''} · {time.perf_counter() - t0:.0f} s"
            )
            if improved:
                best, bad = d, 0
                best_state = copy.deepcopy(model.state_dict())
                report.best_step, report.best_dev_loss = step, round(d, 5)
            else:
                bad += 1
                if bad >= params.patience:
                    report.stopped_early = True
                    note(f"early stop: no dev gain in {bad} evaluations")
                    break
            fs.save_checkpoint(outp, {
                "key": key, "step": step, "model": model.state_dict(), "opt": opt.state_dict(),
                "sched": sched.state_dict(), "torch_rng": torch.get_rng_state(), "best": best,
                "best_state": best_state, "bad": bad, "history": report.history,
                "best_step": report.best_step, "best_dev_loss": report.best_dev_loss,
            })
    report.train_seconds = round(time.perf_counter() - t0, 1)
    if keep == "best" and report.best_step == 0:
        note("no checkpoint beat the base model on the dev pairs; saving the base weights "
             "(keep='last' / --keep last saves the trained ones)")
    if keep == "best":
        model.load_state_dict(best_state)
    model.max_seq_length = base_len
    _save(model, outp, report)
    report.onnx_max_abs_diff = _check_onnx(model, outp)
    _write_marker(outp, report)
    fs.drop_checkpoint(outp)
    return report


def _write_marker(folder: Path, report: FinetuneReport) -> None:
    with open(folder / MARKER, "w", encoding="utf-8") as fh:
        json.dump(report.to_dict(), fh, indent=1)


def _save(model: Any, out: Path, report: FinetuneReport) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        model.save(str(tmp), safe_serialization=True)
        _pin_window(tmp, int(model.max_seq_length or 256))
        _write_marker(tmp, report)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    replace_dir(tmp, out)


def _pin_window(folder: Path, max_seq_length: int) -> None:
    """sentence-transformers >= 6 no longer writes ``max_seq_length`` to
    ``sentence_bert_config.json``; the ONNX path reads it from there (else 512), so pin it."""
    path = folder / "sentence_bert_config.json"
    cfg: dict[str, Any] = {}
    if path.is_file():
        with open(path, encoding="utf-8") as fh:
            loaded = json.load(fh)
        cfg = loaded if isinstance(loaded, dict) else {}
    cfg["max_seq_length"] = max_seq_length
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(cfg, fh, indent=2)


def _check_onnx(model: Any, folder: Path) -> float:
    """Largest |ONNX − PyTorch| over a few texts: the exported search path matches training."""
    from akindb.models.registry import load_embedder

    texts = ["How does vitamin D affect bone health?", "A man is playing a guitar."]
    emb = load_embedder(folder)
    a = emb.embed(texts)
    b = model.encode(texts, convert_to_numpy=True, normalize_embeddings=True,
                     show_progress_bar=False)
    diff = float(abs(a - b).max())
    return diff if math.isfinite(diff) else float("inf")
