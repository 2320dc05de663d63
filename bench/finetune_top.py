"""Fine-tune MiniLM's top layer(s) on NFCorpus train over cached lower-layer states, early
stopping on the *full-corpus* dev nDCG@10; prints the curve (issue 17, part 5).

The test number is not computed here (never tune on test): measure the saved folder with

    akindb compare beir ../shared/data/ir/nfcorpus --models minilm,OUT --db /tmp/x --json

CPU (about an hour of process CPU time, both cores):

    nice -n 10 python bench/finetune_top.py --out bench/.cache/ft-top --train-layers 1 \
        --max-steps 600 --eval-every 50 --cpu-budget 3600

GPU: add ``--device cuda`` (and raise ``--max-steps`` / ``--epochs``).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

from akindb.eval.finetune_data import load_tune_data
from akindb.models.finetune_top import TopParams
from akindb.models.finetune_top_run import finetune_top

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "ir" / "nfcorpus"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--train-layers", type=int, default=1)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--max-steps", type=int, default=None)
    ap.add_argument("--eval-every", type=int, default=50)
    ap.add_argument("--patience", type=int, default=4)
    ap.add_argument("--cpu-budget", type=float, default=3600.0)
    ap.add_argument("--skip", type=int, default=10)
    ap.add_argument("--depth", type=int, default=100)
    ap.add_argument("--max-ratio", type=float, default=0.95)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    t0 = time.perf_counter()
    data = load_tune_data(args.data, "train", "dev")
    params = TopParams(
        train_layers=args.train_layers, max_length=args.max_length, batch_size=args.batch,
        lr=args.lr, epochs=args.epochs, max_steps=args.max_steps, cpu_budget_s=args.cpu_budget,
        eval_every=args.eval_every, patience=args.patience, skip=args.skip, depth=args.depth,
        max_ratio=args.max_ratio, device=args.device,
    )
    report, curve = finetune_top("default", data.corpus, data.train, args.out, params,
                                 dev=data.dev, evaluate=data.evaluate,
                                 on_note=lambda m: print(m, flush=True),
                                 states_dir=REPO / "bench" / ".cache" / "ft-states")
    ru = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({
        "params": params.to_dict(), "pairs": report.train_pairs, "best_step": report.best_step,
        "stopped_early": report.stopped_early, "curve": curve.points,
        "onnx_max_abs_diff": report.onnx_max_abs_diff,
        "process_cpu_s": round(ru.ru_utime + ru.ru_stime, 1),
        "wall_s": round(time.perf_counter() - t0, 1), "max_rss_mb": ru.ru_maxrss // 1024,
    }, indent=1))


if __name__ == "__main__":
    main()
