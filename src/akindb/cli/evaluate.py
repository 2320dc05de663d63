"""``akindb eval``: retrieval quality on a BEIR-format folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:  # rich.progress is imported by the command that draws a bar
    from rich.progress import Progress, TaskID

from akindb.cli.common import (
    DbOpt,
    JsonOpt,
    err,
    handled,
    json_object,
    out,
    print_json,
    progress_enabled,
)

eval_app = typer.Typer(help="Measure retrieval quality.", no_args_is_help=True)


@eval_app.command("beir")
def beir(
    folder: Annotated[
        Path, typer.Argument(help="BEIR folder: corpus.jsonl[.gz], queries.jsonl, qrels/.")
    ],
    split: Annotated[str, typer.Option(help="Which qrels/<split>.tsv to score.")] = "test",
    db: DbOpt = None,
    collection: Annotated[
        str | None, typer.Option("--collection", "-c", help="Collection to (re)use in --db.")
    ] = None,
    model: Annotated[str, typer.Option(help="Embedding model.")] = "default",
    chunked: Annotated[
        bool, typer.Option(help="Use the collection's chunking (a doc scores as its best chunk).")
    ] = False,
    both: Annotated[bool, typer.Option(help="Report whole-document and chunked runs.")] = False,
    mode: Annotated[
        str, typer.Option(help="Search mode: vector | keyword (BM25) | hybrid.")
    ] = "vector",
    index: Annotated[
        str, typer.Option(help="Index of the collection: flat (exact) | hnsw | lsh | quantized.")
    ] = "flat",
    index_params: Annotated[
        str | None, typer.Option(help='Index parameters as JSON, e.g. \'{"ef_search": 64}\'.')
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """nDCG@10, recall@100 and MRR@10 of the model on a BEIR dataset (MTEB-comparable)."""
    from akindb.eval.beir import load_beir
    from akindb.eval.run_beir import run_beir

    with handled():
        params = json_object(index_params, "--index-params")
        data = load_beir(folder, split)
        modes = [False, True] if both else [chunked]
        results = []
        for chunk_mode in modes:
            if progress_enabled() and not json_out:
                from rich.progress import (
                    BarColumn,
                    MofNCompleteColumn,
                    Progress,
                    TextColumn,
                    TimeElapsedColumn,
                )

                with Progress(
                    TextColumn("[bold]{task.description}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TimeElapsedColumn(),
                    console=err,
                ) as bar:
                    res = run_beir(
                        data,
                        db_path=db,
                        collection=collection,
                        model=model,
                        chunked=chunk_mode,
                        progress=_bar_updater(bar),
                        mode=mode,
                        index=index,
                        index_params=params,
                    )
            else:
                res = run_beir(
                    data, db_path=db, collection=collection, model=model, chunked=chunk_mode,
                    mode=mode, index=index, index_params=params,
                )
            results.append(res)
        for res in results:
            if json_out:
                print_json({"dataset": data.name, "split": split, **res.to_dict()})
            else:
                d = res.to_dict()
                label = "chunked" if res.chunked else "whole documents (MTEB style)"
                out.print(
                    f"{data.name} [{split}] {label}: nDCG@10 {d['ndcg@10']:.4f} · "
                    f"recall@100 {d['recall@100']:.4f} · MRR@10 {d['mrr@10']:.4f} · "
                    f"{d['queries']} queries over {d['docs']} docs · "
                    f"index {d['index_seconds']:.1f} s, queries {d['query_seconds']:.2f} s"
                    f" · mode {res.mode} · index {index}",
                    markup=False,
                )
                dist = d.get("score_distribution@10")
                if dist:
                    rel, non = dist["relevant"], dist["non_relevant"]
                    out.print(
                        f"  top-10 scores, relevant: median {rel['median']:.3f} "
                        f"(q1 {rel['q1']:.3f}, q3 {rel['q3']:.3f}, n {rel['count']}); "
                        f"non-relevant: median {non['median']:.3f} (q1 {non['q1']:.3f}, "
                        f"q3 {non['q3']:.3f}, n {non['count']}) — to pick a --min-score"
                    )


def _bar_updater(bar: Progress) -> Callable[[str, int, int], None]:
    """One Rich task per phase ("index", "search"), created on first report."""
    tasks: dict[str, TaskID] = {}

    def tick(phase: str, done: int, total: int) -> None:
        if phase not in tasks:
            tasks[phase] = bar.add_task(phase, total=total)
        bar.update(tasks[phase], completed=done)

    return tick
