"""``akindb train word2vec`` and ``akindb train sentence``: train embeddings on your own data."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from akindb.cli.common import (
    INTERRUPTED,
    JsonOpt,
    err,
    handled,
    out,
    print_error,
    print_json,
    progress_enabled,
)

if TYPE_CHECKING:
    from akindb.collection import Collection

train_app = typer.Typer(help="Train embeddings on your own data.", no_args_is_help=True)


@contextlib.contextmanager
def _interruptible(dest: Path, *, resumable: bool = False) -> Iterator[None]:
    try:
        yield
    except KeyboardInterrupt:
        from akindb.models.finetune_state import CHECKPOINT, resume_dir
        from akindb.models.word2vec.work import has_checkpoint, work_dir

        work = work_dir(dest.expanduser().resolve())
        sentence_ckpt = resume_dir(dest.expanduser().resolve())
        if (sentence_ckpt / CHECKPOINT).is_file():
            work = sentence_ckpt
        if resumable and (work == sentence_ckpt or has_checkpoint(work)):
            message = (
                f"interrupted: no model was written to {dest}; the last finished epoch "
                f"(word2vec) or dev evaluation (sentence) is checkpointed in {work} (not a "
                "model): run the same command with --resume to "
                "continue, or with --force to start over"
            )
        else:
            message = (
                f"interrupted: nothing was written to {dest} (a model folder appears only when "
                "training is complete); run the command again to start over"
            )
        print_error(message, INTERRUPTED, 130)  # a JSON line under --json
        raise typer.Exit(130) from None


class _ChunkTexts:
    """A collection's chunk texts, paged, starting over on each ``iter()``: word2vec reads its
    corpus once per epoch, and the models layer never sees the collection."""

    def __init__(self, col: Collection, page: int = 256) -> None:
        self.col, self.page = col, page

    def __iter__(self) -> Iterator[str]:
        offset = 0
        while records := self.col.get(limit=self.page, offset=offset):
            for r in records:
                for c in r.chunks:
                    yield c.text
            offset += self.page


@train_app.command("word2vec")
def word2vec(
    corpus: Annotated[
        list[Path] | None,
        typer.Argument(help="Text files or folders (.txt, .md, .rst, .gz ...), one text per line."),
    ] = None,
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Model folder to write.")] = Path(
        "word2vec-model"
    ),
    mode: Annotated[
        str, typer.Option(help="skipgram (rare words, semantics) or cbow (faster).")
    ] = ("skipgram"),
    dim: Annotated[int, typer.Option(help="Vector dimensions.")] = 100,
    window: Annotated[int, typer.Option(help="Largest context distance (dynamic window).")] = 5,
    min_count: Annotated[int, typer.Option(help="Ignore words rarer than this.")] = 5,
    negative: Annotated[int, typer.Option(help="Negative samples per positive pair.")] = 5,
    sample: Annotated[float, typer.Option(help="Sub-sampling threshold of frequent words.")] = 1e-3,
    epochs: Annotated[int, typer.Option(help="Passes over the corpus.")] = 5,
    workers: Annotated[int, typer.Option(help="Training threads (0 = one per CPU).")] = 0,
    seed: Annotated[int, typer.Option(help="Random seed (exact repeats need --workers 1).")] = 1,
    tokenizer: Annotated[
        str,
        typer.Option(help="word (lower-cased words), wordpiece or bpe (trained on the corpus)."),
    ] = "word",
    vocab_size: Annotated[
        int, typer.Option(help="Subword vocabulary size (wordpiece/bpe).")
    ] = 30000,
    db: Annotated[Path | None, typer.Option(help="Database of --collection.")] = None,
    collection: Annotated[
        str | None,
        typer.Option("--collection", "-c", help="Also train on this collection's chunks."),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(help="Replace an existing model folder, or an unfinished run's checkpoint."),
    ] = False,
    resume: Annotated[
        bool,
        typer.Option(
            help="Continue an interrupted run from its last epoch checkpoint (OUT.unfinished/; "
            "same corpus and settings); starts afresh if there is none."
        ),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Train word2vec (skip-gram or CBOW, negative sampling) into a WordVectors model folder.

    The corpus is tokenized once into OUT.unfinished/, which also keeps a checkpoint after each
    epoch (so --resume can continue after Ctrl-C or a crash); it is deleted when the model is
    written.
    """
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from akindb.models.word2vec import Corpus, EpochReport, Word2VecParams, train_word2vec
    from akindb.models.word2vec.tokenizer import TokenizerConfig

    with handled(), _interruptible(out_dir, resumable=True):
        params = Word2VecParams(
            mode=mode,  # type: ignore[arg-type]
            dim=dim,
            window=window,
            min_count=min_count,
            negative=negative,
            sample=sample,
            epochs=epochs,
            workers=workers,
            seed=seed,
        )
        tok = TokenizerConfig(kind=tokenizer, vocab_size=vocab_size)  # type: ignore[arg-type]
        texts, label = None, None
        if collection is not None:
            import akindb
            from akindb.cli.common import db_path

            col = akindb.open(db_path(db), create=False).get_collection(collection)
            texts, label = _ChunkTexts(col), col.name
        source = Corpus(corpus or [], texts=texts, label=label)

        def epoch_line(e: EpochReport) -> None:
            if not json_out:
                err.print(
                    f"epoch {e.epoch}/{epochs}: loss {e.loss:,.0f} · {e.tokens_per_second:,.0f} "
                    f"tokens/s · {e.seconds:.1f} s"
                )

        show = progress_enabled() and not json_out
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=err,
            transient=True,
            disable=not show,
        ) as bar:
            task = bar.add_task("reading the corpus", total=None)

            def tick(phase: str, done: int, total: int) -> None:
                of = f"/{total:,}" if total else ""
                desc = f"{phase}: {done:,}{of} texts" if done or total else f"training, {phase}"
                bar.update(task, description=desc)

            wv, report = train_word2vec(
                source,
                out_dir,
                params,
                tokenizer=tok,
                on_epoch=epoch_line,
                on_text=tick,
                overwrite=force,
                resume=resume,
            )
    if json_out:
        print_json({"out": str(wv.folder), "params": params.to_dict(), **report.to_dict()})
    else:
        if report.resumed_from_epoch:
            out.print(f"resumed after epoch {report.resumed_from_epoch} of {params.epochs}")
        out.print(
            f"trained {params.mode} on {report.tokens:,} tokens ({report.texts:,} texts): "
            f"{report.vocab_size:,} words × {params.dim} dims, {report.tokens_per_second:,.0f} "
            f"tokens/s, {report.train_seconds:.1f} s → {wv.folder}"
        )


@train_app.command("sentence")
def sentence(
    pairs: Annotated[
        Path | None, typer.Option(help='JSONL pairs file: {"query": ..., "passage": ...} per line.')
    ] = None,
    beir: Annotated[
        Path | None, typer.Option(help="BEIR folder to take (query, doc) pairs from.")
    ] = None,
    split: Annotated[str, typer.Option(help="BEIR qrels split to train on.")] = "train",
    dev_split: Annotated[
        str | None, typer.Option(help="BEIR split for early stopping (default: dev if present).")
    ] = "dev",
    base: Annotated[str, typer.Option(help="Base sentence model (name or folder).")] = "minilm",
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Model folder to write.")] = Path(
        "sentence-model"
    ),
    epochs: Annotated[int, typer.Option(help="Passes over the pairs.")] = 1,
    batch_size: Annotated[
        int, typer.Option(help="Pairs per batch (= in-batch negatives + 1).")
    ] = 32,
    lr: Annotated[
        float | None,
        typer.Option(help="AdamW learning rate (default 2e-5; 1e-4 with --train-layers)."),
    ] = None,
    max_pairs: Annotated[
        int | None, typer.Option(help="Train on a random sample of this many pairs.")
    ] = None,
    max_seq_length: Annotated[int, typer.Option(help="Token limit while training.")] = 128,
    eval_every: Annotated[int, typer.Option(help="Steps between dev evaluations.")] = 50,
    patience: Annotated[
        int, typer.Option(help="Stop after this many evaluations without gain.")
    ] = 3,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 1,
    force: Annotated[bool, typer.Option(help="Replace an existing model folder.")] = False,
    keep: Annotated[
        str,
        typer.Option(help="Weights to save: best (lowest dev loss; may be the base model) | "
                     "last (after the last step)."),
    ] = "best",
    resume: Annotated[
        bool,
        typer.Option(help="Continue an interrupted run from its last checkpoint (same "
                     "inputs and options)."),
    ] = False,
    train_layers: Annotated[
        int,
        typer.Option(help="Train only the top N layers, over cached states of the frozen "
                     "lower ones (needs --beir; hard negatives, dev nDCG@10 early stopping); "
                     "0: the whole model."),
    ] = 0,
    max_steps: Annotated[
        int | None, typer.Option(help="With --train-layers: stop after this many steps.")
    ] = None,
    cpu_budget: Annotated[
        float | None,
        typer.Option(help="With --train-layers: stop after this many seconds of process CPU."),
    ] = None,
    device: Annotated[
        str, typer.Option(help="With --train-layers: where PyTorch trains (cpu | cuda).")
    ] = "cpu",
    json_out: JsonOpt = False,
) -> None:
    r"""Fine-tune the sentence model on (query, relevant passage) pairs, in-batch negatives.

    Needs the train extra (pip install 'akindb\[train]', PyTorch). The result is a
    sentence-transformers folder that search runs on ONNX Runtime, without PyTorch.
    With --train-layers N only the top N layers train, over cached states of the rest (a
    step costs a fraction of a full pass), and early stopping watches the whole-corpus dev
    nDCG@10 every --eval-every steps.
    """
    from akindb.eval.pairs import load_pairs
    from akindb.models.finetune import FinetuneParams, finetune

    if train_layers:
        from akindb.cli.train_top import TopOptions, run_top

        with _interruptible(out_dir):
            run_top(TopOptions(
                beir=beir, pairs=pairs, split=split, dev_split=dev_split, base=base, out=out_dir,
                train_layers=train_layers, max_length=max_seq_length, batch_size=batch_size,
                lr=lr if lr is not None else 1e-4, epochs=epochs, max_steps=max_steps,
                cpu_budget=cpu_budget, eval_every=eval_every, patience=patience, seed=seed,
                device=device, force=force, resume=resume, keep=keep,
            ), json_out)
        return
    with handled(), _interruptible(out_dir, resumable=True):
        train, dev = load_pairs(pairs=pairs, beir=beir, split=split, dev_split=dev_split)
        params = FinetuneParams(
            epochs=epochs,
            batch_size=batch_size,
            lr=lr if lr is not None else 2e-5,
            max_pairs=max_pairs,
            max_seq_length=max_seq_length,
            eval_every=eval_every,
            patience=patience,
            seed=seed,
        )

        def note(msg: str) -> None:
            err.print(msg)  # progress goes to stderr, also with --json (stdout stays JSON)

        report = finetune(base, train, out_dir, params, dev=dev, on_note=note, overwrite=force,
                          keep=keep, resume=resume)
    data: dict[str, Any] = report.to_dict()
    if json_out:
        print_json(data)
    else:
        out.print(
            f"fine-tuned {data['base']} on {data['train_pairs']:,} pairs in "
            f"{data['train_seconds']:.0f} s ({data['steps']} steps, best dev loss "
            f"{data['best_dev_loss']}) → {data['out']}"
        )


def register(app: typer.Typer) -> None:
    app.add_typer(train_app, name="train")
