"""Fine-tuning bookkeeping kept apart from the training loop: which weights to keep, the resume
checkpoint, and silencing transformers' progress bars.

* ``keep``: ``"best"`` saves the checkpoint with the lowest dev loss, which after a tiny run is
  often the base model itself (nothing beat it); ``"last"`` saves the weights after the last
  step, so a short run's training is never thrown away.
* Resume: at every dev evaluation the model, optimizer, schedule, step and best-so-far are
  written (atomically) to ``.<out>.resume`` beside the output folder; Ctrl-C leaves it, and
  ``finetune(..., resume=True)`` (CLI ``--resume``) continues from that step with the same
  batches (they are drawn from the seed). The checkpoint records the run's inputs and refuses to
  continue a different run. A finished run removes it.
* transformers >= 5 draws "Loading weights" and "Writing model shards" bars on stderr; training
  reports its own progress through ``on_note``, so those bars are switched off while we run and
  restored after (process-wide state, put back as it was).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from akindb.errors import InvalidArgumentError

KEEP_CHOICES: tuple[str, ...] = ("best", "last")
CHECKPOINT = "checkpoint.pt"


def check_keep(keep: str) -> str:
    """``keep`` must be one of ``KEEP_CHOICES``.

    >>> check_keep("last")
    'last'
    """
    if keep not in KEEP_CHOICES:
        raise InvalidArgumentError(f"keep must be one of {', '.join(KEEP_CHOICES)}, got {keep!r}")
    return keep


def resume_dir(out: Path) -> Path:
    """Where the resume checkpoint of a run writing ``out`` lives (a hidden sibling)."""
    return out.parent / f".{out.name}.resume"


def run_key(base: str, params: dict[str, Any], train: Sequence[tuple[str, str]],
            dev: Sequence[tuple[str, str]]) -> str:
    """A digest of what a run trains on: a checkpoint continues only the same run."""
    h = hashlib.sha256(json.dumps([base, params], sort_keys=True).encode())
    for q, p in (*train, ("--dev--", ""), *dev):
        h.update(q.encode())
        h.update(b"\x00")
        h.update(p.encode())
        h.update(b"\x01")
    return h.hexdigest()


def save_checkpoint(out: Path, state: dict[str, Any]) -> None:
    """Write ``state`` (tensors and plain values) to the resume folder, atomically."""
    import torch

    folder = resume_dir(out)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / (CHECKPOINT + ".tmp")
    torch.save(state, tmp)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, folder / CHECKPOINT)


def load_checkpoint(out: Path, key: str) -> dict[str, Any]:
    """The saved state of the run writing ``out``; a clear error when there is none or it
    belongs to another run."""
    import torch

    path = resume_dir(out) / CHECKPOINT
    if not path.is_file():
        raise InvalidArgumentError(
            f"nothing to resume: no checkpoint at {path}; run without --resume to start"
        )
    state: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=False)
    if state.get("key") != key:
        raise InvalidArgumentError(
            f"the checkpoint at {path} is of another run (different base, pairs or "
            "parameters); give the same inputs, or remove it to start afresh"
        )
    return state


def drop_checkpoint(out: Path) -> None:
    shutil.rmtree(resume_dir(out), ignore_errors=True)


@contextmanager
def quiet_progress_bars() -> Iterator[None]:
    """transformers' progress bars off for the block, then back as they were."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # pragma: no cover - the train extra brings transformers
        yield
        return
    was = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        yield
    finally:
        if was:
            hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]
