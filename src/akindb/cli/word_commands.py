"""``akindb similar``, ``akindb analogy``, ``akindb eval words``, ``akindb eval sts``."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from akindb.cli.common import JsonOpt, err, fail, handled, out, print_json, progress_enabled

ModelDirOpt = Annotated[
    Path, typer.Option("--model", "-m", help="A word-vector model folder (akindb train word2vec).")
]
DATA_ENV = "AKINDB_EVAL_DATA"


def similar(
    word: Annotated[str, typer.Argument(help="A word of the model's vocabulary.")],
    model: ModelDirOpt,
    k: Annotated[int, typer.Option("-k", help="How many neighbours.")] = 10,
    json_out: JsonOpt = False,
) -> None:
    """Nearest words to WORD by cosine similarity."""
    from akindb.models.word2vec.vectors import WordVectors

    with handled():
        wv = WordVectors.load(model)
        hits = wv.similar(word, k)
    _show_neighbours(word, hits, json_out)


def analogy(
    a: Annotated[str, typer.Argument(help="Word to start from (king).")],
    minus: Annotated[str, typer.Argument(help="Word to subtract (man).")],
    plus: Annotated[str, typer.Argument(help="Word to add (woman).")],
    model: ModelDirOpt,
    k: Annotated[int, typer.Option("-k", help="How many answers.")] = 5,
    json_out: JsonOpt = False,
) -> None:
    """A - MINUS + PLUS by 3CosAdd: 'king man woman' asks king - man + woman (≈ queen)."""
    from akindb.models.word2vec.vectors import WordVectors

    with handled():
        wv = WordVectors.load(model)
        hits = wv.analogy(minus, a, plus, k)
    _show_neighbours(f"{a} - {minus} + {plus}", hits, json_out)


def _show_neighbours(query: str, hits: list[Any], json_out: bool) -> None:
    if json_out:
        print_json(
            {"query": query, "neighbours": [{"word": h.word, "score": h.score} for h in hits]}
        )
        return
    out.print(f"[bold]{escape(query)}[/]", markup=True)
    for h in hits:
        out.print(f"  {h.score:6.3f}  {h.word}")


def _data_dir(data: Path | None) -> Path:
    """The evaluation data folder: DATA or --data, else $AKINDB_EVAL_DATA, else the project's
    ``shared/data`` found from the working directory upwards (as in a checkout beside it).
    A folder is accepted when it holds ``word_analogy/questions-words.txt``; when none does,
    the error lists every place tried and says how to point at one."""
    from akindb.eval.words import ANALOGY_FILE

    if data is not None:
        tried = [data]
    elif os.environ.get(DATA_ENV):
        tried = [Path(os.environ[DATA_ENV])]
    else:
        here = Path.cwd().resolve()
        tried = [d / sub for d in (here, *here.parents) for sub in ("shared/data", "data")]
        tried = [here, *tried]
    for folder in tried:
        if (folder / ANALOGY_FILE).is_file():
            return folder
    where = (
        f"{tried[0]}" if len(tried) == 1
        else f"{tried[0]} and the shared/data or data folders above it"
    )
    fail(
        f"no word evaluation data ({ANALOGY_FILE}) in {where}; give the folder that holds "
        f"word_analogy/ and word_similarity/ (the project's shared/data) as DATA, or set "
        f"{DATA_ENV}"
    )


def words(
    model: ModelDirOpt,
    folder: Annotated[
        Path | None,
        typer.Argument(
            help="Evaluation data folder (word_analogy/, word_similarity/), like eval beir's "
            f"FOLDER; default: --data, ${DATA_ENV}, or shared/data found from here upwards.",
            show_default=False,
        ),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(help=f"Same as DATA (kept for scripts); env {DATA_ENV}."),
    ] = None,
    restrict_vocab: Annotated[
        int, typer.Option(help="Analogies search the N most frequent words (word2vec: 30000).")
    ] = 30000,
    sections: Annotated[bool, typer.Option(help="Show every analogy section.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Analogy accuracy (3CosAdd) and WS-353 / SimLex-999 / MEN Spearman of a word model."""
    from akindb.eval.words import evaluate_words
    from akindb.models.word2vec.vectors import WordVectors

    with handled():
        wv = WordVectors.load(model)
        res = evaluate_words(wv, _data_dir(folder or data), restrict_vocab=restrict_vocab)
    if json_out:
        print_json({"model": str(model), **res})
        return
    an = res["analogy"]
    out.print(
        f"analogies (3CosAdd, {an['restrict_vocab']} most frequent words, lower-cased): "
        f"{an['total']['accuracy']:.2%} of {an['total']['covered']} covered questions "
        f"({an['total']['questions']} in all) · semantic {an['semantic']['accuracy']:.2%} · "
        f"syntactic {an['syntactic']['accuracy']:.2%}"
    )
    if sections:
        for s in an["sections"]:
            out.print(
                f"  {s['section']:<28} {s['accuracy']:7.2%}  of {s['covered']:>5}/{s['questions']}"
            )
    for s in res["similarity"]:
        rho = "n/a" if math.isnan(s["spearman"]) else f"{s['spearman']:.3f}"
        out.print(
            f"{s['name']:<11} Spearman {rho} over {s['covered']}/{s['pairs']} pairs "
            f"({s['coverage']:.0%} coverage)"
        )


def sts(
    file: Annotated[Path, typer.Argument(help="STS-B sts-dev.csv / sts-train.csv, or SICK TSV.")],
    model: Annotated[
        str, typer.Option("--model", "-m", help="Model name or folder (default all-MiniLM-L6-v2).")
    ] = "default",
    limit: Annotated[int | None, typer.Option(help="Only the first N pairs.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Spearman correlation of cosine(sentence1, sentence2) with the gold similarity score."""
    from rich.progress import Progress

    from akindb.eval.sts import evaluate_sts, read_sts
    from akindb.models.registry import load_embedder

    with handled():
        rows = read_sts(file)[:limit] if limit else read_sts(file)
        emb = load_embedder(None if model == "default" else model)
        if progress_enabled() and not json_out:
            with Progress(console=err, transient=True) as bar:
                task = bar.add_task("embedding", total=2 * len(rows))
                res = evaluate_sts(emb, rows, progress=lambda n: bar.advance(task, n))
        else:
            res = evaluate_sts(emb, rows)
    if json_out:
        print_json({"file": str(file), **res.to_dict()})
    else:
        out.print(
            f"{file.name}: Spearman {res.spearman:.4f} · Pearson {res.pearson:.4f} · "
            f"{res.pairs} pairs · model {res.model}"
        )


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    app.command()(similar)
    app.command()(analogy)
    eval_app.command("words")(words)
    eval_app.command("sts")(sts)
