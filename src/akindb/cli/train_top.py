"""``akindb train sentence --train-layers N``: the top-layer fine-tune from the command line.

Kept out of ``train_commands`` (already long): the checks of which options go with it, loading
the BEIR folder as corpus indexes (``eval.finetune_data``), progress lines on stderr, and the
report (the dev curve: step, examples, CPU and wall seconds, dev nDCG@10).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from akindb.cli.common import err, handled, out, print_json
from akindb.errors import InvalidArgumentError


@dataclass(frozen=True, slots=True)
class TopOptions:
    beir: Path | None
    pairs: Path | None
    split: str
    dev_split: str | None
    base: str
    out: Path
    train_layers: int
    max_length: int
    batch_size: int
    lr: float
    epochs: int
    max_steps: int | None
    cpu_budget: float | None
    eval_every: int
    patience: int
    seed: int
    device: str
    force: bool
    resume: bool
    keep: str


def _check(o: TopOptions) -> Path:
    if o.beir is None or o.pairs is not None:
        raise InvalidArgumentError(
            "--train-layers needs --beir (a BEIR folder: the judgements mark which passages "
            "are no negatives) and no --pairs; use --train-layers 0 for a pairs file"
        )
    if o.resume:
        raise InvalidArgumentError(
            "--resume continues a whole-model run; a --train-layers run starts by caching "
            "states and is not resumable: run it again without --resume"
        )
    if o.keep != "best":
        raise InvalidArgumentError(
            "--keep last goes with --train-layers 0; with --train-layers the best dev "
            "checkpoint is kept (the weights after the last step when there is no dev split)"
        )
    return o.beir


def run_top(o: TopOptions, json_out: bool) -> None:
    """Run the top-layer fine-tune and print its report (JSON with ``--json``); the caller
    turns Ctrl-C into its message (nothing is written to ``o.out`` before the end)."""
    from akindb.eval.finetune_data import load_tune_data
    from akindb.models.finetune_top import TopParams
    from akindb.models.finetune_top_run import finetune_top

    with handled():
        beir = _check(o)
        data = load_tune_data(beir, o.split, o.dev_split)
        params = TopParams(
            train_layers=o.train_layers, max_length=o.max_length, batch_size=o.batch_size,
            lr=o.lr, epochs=o.epochs, max_steps=o.max_steps, cpu_budget_s=o.cpu_budget,
            eval_every=o.eval_every, patience=o.patience, seed=o.seed, device=o.device,
        )

        def note(msg: str) -> None:
            err.print(msg)  # progress goes to stderr, also with --json (stdout stays JSON)

        report, curve = finetune_top(o.base, data.corpus, data.train, o.out, params,
                                     dev=data.dev, evaluate=data.evaluate, on_note=note,
                                     overwrite=o.force)
    result: dict[str, Any] = {**report.to_dict(), "curve": curve.points}
    if json_out:
        print_json(result)
        return
    best = next((p for p in curve.points if p["step"] == report.best_step), None)
    score = f", dev nDCG@10 {best['dev_ndcg@10']:.4f}" if best and "dev_ndcg@10" in best else ""
    out.print(
        f"fine-tuned the top {o.train_layers} layer(s) of {report.base} on "
        f"{report.train_pairs:,} judged pairs: {report.steps} steps, kept step "
        f"{report.best_step}{score} → {report.out}"
    )
