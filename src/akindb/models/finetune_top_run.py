"""The top-layer fine-tune as one run: cache the frozen part's states, mine negatives with the
base model, train the top layers with early stopping on the whole-corpus dev nDCG@10, save.

Kept apart from ``finetune_top`` (the split model, negatives, batches and loss) so each module
has one job. Progress goes through ``on_note``; cost is counted in process CPU seconds (the
machine may be shared, so wall time says little), and ``TopParams.cpu_budget_s`` caps it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from akindb.errors import InvalidArgumentError, MissingExtraError
from akindb.models.finetune import FinetuneReport, _base_folder, _check_onnx, _save, _write_marker
from akindb.models.finetune_top import (
    Evaluate,
    Judged,
    SplitModel,
    TopCurve,
    TopParams,
    batch_loss,
    example_batches,
    mine_negatives,
    pick_negative,
)


def _cpu() -> float:
    """Process CPU seconds, all threads and waited-for children (the machine may be shared,
    so wall time says little about cost)."""
    import resource

    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + ch.ru_utime + ch.ru_stime


def finetune_top(
    base: str,
    corpus: Sequence[str],
    train: Judged,
    out: str | Path,
    params: TopParams | None = None,
    *,
    dev: Judged | None = None,
    evaluate: Evaluate | None = None,
    on_note: Callable[[str], None] | None = None,
    overwrite: bool = False,
    states_dir: str | Path | None = None,
) -> tuple[FinetuneReport, TopCurve]:
    """Train the top ``params.train_layers`` layers of ``base`` on ``train``'s judged pairs
    over ``corpus`` and save the checkpoint with the best dev nDCG@10 (``evaluate`` over the
    whole corpus; the base weights when nothing beats them) to ``out``. Without ``evaluate``
    the weights after the last step are saved. Ctrl-C leaves nothing at ``out``.
    ``states_dir`` keeps the frozen part's states between runs (``SplitModel.lower_cached``)."""
    from akindb.models import finetune_state as fs

    with fs.quiet_progress_bars():
        return _run(base, corpus, train, out, params or TopParams(), dev, evaluate,
                    on_note or (lambda _m: None), overwrite,
                    None if states_dir is None else Path(states_dir))


def _run(base: str, corpus: Sequence[str], train: Judged, out: str | Path, params: TopParams,
         dev: Judged | None, evaluate: Evaluate | None, note: Callable[[str], None],
         overwrite: bool, states_dir: Path | None) -> tuple[FinetuneReport, TopCurve]:
    try:
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise MissingExtraError("train", "sentence-model fine-tuning") from exc
    from akindb.models.finetune import MARKER

    outp = Path(out).expanduser().resolve()
    if outp.exists() and not (overwrite and (outp / MARKER).is_file()):
        raise InvalidArgumentError(
            f"{outp} exists; choose another folder (or --force to replace a fine-tuned model)"
        )
    if (dev is None) != (evaluate is None):
        raise InvalidArgumentError("give both dev queries and their evaluate function, or neither")
    pairs = [(q, d) for q, rel in enumerate(train.relevant) for d, g in sorted(rel.items())
             if g > 0 and 0 <= d < len(corpus)]
    if len(pairs) < params.batch_size:
        raise InvalidArgumentError(
            f"only {len(pairs)} judged training pairs; need at least one batch of "
            f"{params.batch_size}"
        )
    cpu0, t0 = _cpu(), time.perf_counter()
    rng = random.Random(params.seed)
    torch.manual_seed(params.seed)
    st = SentenceTransformer(str(_base_folder(base)), device=params.device)
    window = int(st.max_seq_length or 256)
    split = SplitModel(st, params.train_layers)
    note(f"caching layer-{split.cut} states: {len(corpus):,} passages at {window} and at "
         f"{params.max_length} tokens, {len(train.queries):,} training queries")
    def lower(texts: Sequence[str], length: int) -> list[Any]:
        return split.lower_cached(texts, length, states_dir, str(_base_folder(base)))

    c_eval = lower(corpus, window)
    c_train = c_eval if params.max_length >= window else lower(corpus, params.max_length)
    q_train = lower(train.queries, window)
    q_dev = lower(dev.queries, window) if dev is not None else []
    dv, base_q = split.embed_cached(c_eval), split.embed_cached(q_train)
    negs = mine_negatives(base_q, dv, train, skip=params.skip, depth=params.depth,
                          max_ratio=params.max_ratio)
    note(f"cached in {_cpu() - cpu0:.0f} CPU s; {len(pairs):,} judged pairs")

    def dev_score() -> float:
        assert evaluate is not None
        return evaluate(split.embed_cached(q_dev), split.embed_cached(c_eval))

    plan: list[list[tuple[int, int]]] = []
    for _ in range(params.epochs):
        plan.extend(b for b in example_batches(pairs, params.batch_size, rng) if len(b) >= 2)
    if params.max_steps is not None:
        plan = plan[: params.max_steps]
    total = len(plan)
    warm = max(1, int(total * params.warmup_ratio))
    opt = torch.optim.AdamW(split.trained_parameters(), lr=params.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warm if s < warm else max(0.0, (total - s) / max(total - warm, 1))
    )
    dev_pairs = sum(g > 0 for r in dev.relevant for g in r.values()) if dev else 0
    report = FinetuneReport(base, str(outp), len(pairs), dev_pairs, params.to_dict())
    report.kept = "best" if evaluate is not None else "last"
    curve = TopCurve()
    best = dev_score() if evaluate is not None else float("-inf")
    best_state = split.trained_state()

    def point(step: int, seen: int, score: float, loss: float | None) -> None:
        p = {"step": step, "examples": seen, "cpu_s": round(_cpu() - cpu0, 1),
             "wall_s": round(time.perf_counter() - t0, 1)}
        if evaluate is not None:
            p["dev_ndcg@10"] = round(score, 4)
        if loss is not None:
            p["train_loss"] = round(loss, 4)
        curve.points.append(p)

    if evaluate is not None:
        point(0, 0, best, None)
        note(f"{total} steps of {params.batch_size}; base dev nDCG@10 {best:.4f}")
    bad, seen, running, n_run = 0, 0, 0.0, 0
    st.train()
    for step, batch in enumerate(plan, 1):
        cols = [d for _, d in batch]
        for q, d in batch:
            neg = pick_negative(negs[q], float(dv[d] @ base_q[q]), params.max_ratio, rng)
            if neg is not None:
                cols.append(neg)
        loss = batch_loss(split, [q_train[q] for q, _ in batch], [c_train[c] for c in cols],
                          cols, [train.relevant[q] for q, _ in batch], params.scale)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(split.trained_parameters(), 1.0)
        opt.step()
        sched.step()
        seen += len(batch)
        running, n_run = running + float(loss.detach()), n_run + 1
        report.steps = step
        over = params.cpu_budget_s is not None and _cpu() - cpu0 >= params.cpu_budget_s
        if step % params.eval_every == 0 or step == total or over:
            avg, running, n_run = running / n_run, 0.0, 0
            score = dev_score() if evaluate is not None else float("nan")
            point(step, seen, score, avg)
            gain = evaluate is not None and score > best + 1e-4
            note(f"step {step}/{total}: {seen:,} examples, loss {avg:.4f}"
                 + (f", dev nDCG@10 {score:.4f}{' (best)' if gain else ''}"
                    if evaluate is not None else "")
                 + f" · {_cpu() - cpu0:.0f} CPU s, {time.perf_counter() - t0:.0f} s")
            if gain:
                best, bad, report.best_step = score, 0, step
                best_state = split.trained_state()
            elif evaluate is not None:
                bad += 1
                if bad >= params.patience:
                    report.stopped_early = True
                    note(f"early stop: no dev gain in {bad} evaluations")
                    break
            if over:
                note(f"CPU budget of {params.cpu_budget_s:.0f} s spent")
                break
    if evaluate is None:
        best_state, report.best_step = split.trained_state(), report.steps
    elif report.best_step == 0:
        note("no step beat the base model on dev; saving the base weights")
    split.load_trained(best_state)
    report.train_seconds = round(time.perf_counter() - t0, 1)
    report.history = curve.points
    report.best_dev_loss = None
    report.base_dev_loss = None
    st.max_seq_length = window
    st.eval()
    _save(st, outp, report)
    report.onnx_max_abs_diff = _check_onnx(st, outp)
    _write_marker(outp, report)
    return report, curve
