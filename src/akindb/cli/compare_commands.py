"""``akindb compare beir`` (models side by side) and ``akindb map`` (a 2-D picture of a space)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from akindb.cli.common import DbOpt, JsonOpt, err, handled, out, print_json, progress_enabled

compare_app = typer.Typer(help="Compare models on your own data.", no_args_is_help=True)


@compare_app.command("beir")
def beir(
    folder: Annotated[
        Path, typer.Argument(help="BEIR folder: corpus.jsonl[.gz], queries, qrels/.")
    ],
    models: Annotated[
        str,
        typer.Option(help="Comma-separated: minilm, model folders (sentence or word2vec), bm25."),
    ] = "minilm,bm25",
    split: Annotated[str, typer.Option(help="Which qrels/<split>.tsv to score.")] = "test",
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """nDCG@10, recall@100 and QPS of each model on a BEIR dataset, in one table.

    Collections are built once in --db (one per model) and reused by later runs.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
    from rich.table import Table

    from akindb.cli.common import db_path
    from akindb.eval.beir import load_beir
    from akindb.eval.compare import CompareRow, compare_beir

    names = [m.strip() for m in models.split(",") if m.strip()]
    with handled():
        data = load_beir(folder, split)
        show = progress_enabled() and not json_out
        with Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            console=err, transient=True, disable=not show,
        ) as bar:  # fmt: skip
            tasks: dict[str, TaskID] = {}

            def tick(phase: str, done: int, total: int) -> None:
                if phase not in tasks:
                    tasks[phase] = bar.add_task(phase, total=total)
                bar.update(tasks[phase], completed=done)

            def row_done(r: CompareRow) -> None:
                if show:
                    err.print(f"{r.model}: nDCG@10 {r.metrics['ndcg@10']:.4f}")

            rows = compare_beir(data, names, db_path=db_path(db), progress=tick, on_row=row_done)
    if json_out:
        print_json({"dataset": data.name, "split": split, "rows": [r.to_dict() for r in rows]})
        return
    table = Table(title=f"{data.name} [{split}]: {rows[0].queries} queries, {rows[0].docs} docs")
    for col in ("model", "nDCG@10", "recall@100", "MRR@10", "QPS", "index s"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for r in rows:
        d = r.to_dict()
        table.add_row(
            r.model, f"{d['ndcg@10']:.4f}", f"{d['recall@100']:.4f}", f"{d['mrr@10']:.4f}",
            f"{d['qps']:,.0f}", f"{d['index_seconds']:.0f}",
        )  # fmt: skip
    out.print(table)


def space_map(
    out_file: Annotated[Path, typer.Option("--out", "-o", help="map.png or map.html")] = Path(
        "map.png"
    ),
    collection: Annotated[
        str | None, typer.Option("--collection", "-c", help="Map this collection's chunks.")
    ] = None,
    db: DbOpt = None,
    model: Annotated[
        Path | None, typer.Option("--model", "-m", help="Or map a word-vector model's words.")
    ] = None,
    query: Annotated[
        str | None, typer.Option("--query", "-q", help="Overlay this query and its neighbours.")
    ] = None,
    neighbours: Annotated[int, typer.Option(help="How many neighbours of the query.")] = 10,
    method: Annotated[str, typer.Option(help="pca (default) or umap (extra \\[viz]).")] = "pca",
    clusters: Annotated[int, typer.Option(help="k-means clusters to colour.")] = 8,
    labels: Annotated[int, typer.Option(help="How many points to label.")] = 30,
    limit: Annotated[int, typer.Option(help="At most this many documents / words.")] = 5000,
    seed: Annotated[int, typer.Option(help="Seed of clustering and label sampling.")] = 0,
    json_out: JsonOpt = False,
) -> None:
    """Draw a 2-D map of a collection (or of a word model): clusters, labels, a query overlaid."""
    from akindb.viz import collection_map, save_map, word_map

    kw: dict[str, Any] = {
        "neighbours": neighbours, "clusters": clusters, "n_labels": labels,
        "method": method, "seed": seed,
    }  # fmt: skip
    with handled():
        if model is not None:
            from akindb.models.word2vec.vectors import WordVectors

            m = word_map(WordVectors.load(model), query=query, top=limit, **kw)
        else:
            import akindb
            from akindb.cli.common import DEFAULT_COLLECTION, db_path

            database = akindb.open(db_path(db), create=False)
            try:
                col = database.get_collection(collection or DEFAULT_COLLECTION)
                m = collection_map(col, query=query, limit=limit, **kw)
            finally:
                database.close()
        path = save_map(m, out_file)
    if json_out:
        print_json(
            {
                "out": str(path), "points": len(m.labels), "method": m.method,
                "neighbours": [{"label": m.labels[i], "score": s} for i, s in m.neighbours],
            }
        )  # fmt: skip
    else:
        out.print(f"wrote {path}: {len(m.labels):,} points, {m.method.upper()}")


def register(app: typer.Typer) -> None:
    app.add_typer(compare_app, name="compare")
    app.command("map")(space_map)
