"""``akindb doctor``, ``akindb dupes`` and ``akindb monitor`` (the work is in
``akindb.hygiene`` and ``akindb.monitor``)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

import akindb
from akindb.cli.common import (
    DEFAULT_COLLECTION,
    CollectionOpt,
    DbOpt,
    JsonOpt,
    db_path,
    handled,
    out,
    print_json,
)
from akindb.cli.progress_bar import phase_bar

_MARK = {"ok": "[green]ok[/]", "warn": "[yellow]warn[/]", "error": "[bold red]error[/]"}


def doctor(
    db: DbOpt = None,
    fix: Annotated[
        bool, typer.Option("--fix", help="Repair what is derived: index files, the keyword "
                           "index, unreachable rows and stray files (never your documents).")
    ] = False,
    no_models: Annotated[
        bool, typer.Option("--no-models", help="Skip loading each pinned model to check it.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Check the database: SQLite integrity, orphan chunks and vectors, index coverage vs the
    log, each pinned model against the weights on disk, the live recall estimate.

    Exit code 0 when healthy, 1 when an error is left (run again with --fix)."""
    from akindb.hygiene import doctor as run

    with handled():
        database = akindb.open(db_path(db), create=False)
        try:
            rep = run(database, fix=fix, check_models=not no_models)
        finally:
            database.close()
    if json_out:
        print_json(rep.to_dict())
    else:
        for f in rep.findings:
            where = f" [{f.collection}]" if f.collection else ""
            fixed = " [green](fixed)[/]" if f.fixed else ""
            out.print(f"{_MARK[f.level]} {f.check}{where}: {f.message}{fixed}", markup=True)
        out.print("healthy" if rep.healthy else "problems found: see the errors above")
    if not rep.healthy:
        raise typer.Exit(1)


def dupes(
    db: DbOpt = None,
    collection: CollectionOpt = DEFAULT_COLLECTION,
    threshold: Annotated[
        float, typer.Option(help="Cosine similarity at or above which chunks count as the "
                            "same. 1.0: identical vectors only.", min=0.0, max=1.0)
    ] = 0.95,
    k: Annotated[int, typer.Option("-k", help="Neighbours looked at per chunk.", min=1)] = 10,
    delete: Annotated[
        bool, typer.Option("--delete", help="Delete all but the oldest document of each group.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Find duplicate documents: exact ones (same content hash) and near ones (a kNN self-join
    over the collection's own index); optionally delete all but one per group."""
    from akindb.hygiene import find_dupes

    with handled():
        database = akindb.open(db_path(db), create=False)
        try:
            col = database.get_collection(collection)
            with phase_bar(not json_out) as bar:
                rep = find_dupes(col, threshold, k=k, delete=delete, progress=bar)
        finally:
            database.close()
    if json_out:
        print_json(rep.to_dict())
        return
    for g in rep.groups[:50]:
        more = f" (+{len(g.duplicates) - 5} more)" if len(g.duplicates) > 5 else ""
        out.print(f"{g.kind:5} keep {g.keep}: {', '.join(g.duplicates[:5])}{more} "
                  f"(similarity >= {g.min_similarity:.3f})")
    if len(rep.groups) > 50:
        out.print(f"... {len(rep.groups) - 50} more groups (--json lists all)")
    verb = f"deleted {rep.deleted}" if delete else "--delete would remove them"
    out.print(f"{len(rep.groups)} groups, {rep.duplicate_documents} duplicate documents among "
              f"{rep.documents} ({verb}) in {rep.seconds:.1f} s")


def monitor(
    db: DbOpt = None,
    collection: CollectionOpt = DEFAULT_COLLECTION,
    rate: Annotated[
        float | None, typer.Option(help="Fraction of real queries re-run exactly (default "
                                   "0.01; more: a faster estimate, more background work).")
    ] = None,
    k: Annotated[int | None, typer.Option("-k", help="The k of recall@k.", min=1)] = None,
    target: Annotated[
        float | None, typer.Option(help="Warn when the estimate falls below this.")
    ] = None,
    off: Annotated[bool, typer.Option("--off", help="Stop sampling (rate 0).")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Show or set the recall monitor of a collection: a live recall@k estimate of its
    approximate index on sampled real queries."""
    from akindb.collection import monitor as mon

    with handled():
        database = akindb.open(db_path(db), create=False)
        try:
            col = database.get_collection(collection)
            est: dict[str, Any] | None
            if off or rate is not None or k is not None or target is not None:
                est = mon.configure(col, rate=0.0 if off else rate, k=k, target=target)
            else:
                est = mon.recall_estimate(col)
        finally:
            database.close()
    if json_out:
        print_json(est)
        return
    if est is None:
        out.print(f"'{collection}' uses a flat index: exact, recall 1.0, nothing to monitor")
        return
    state = "off" if est["rate"] == 0 else f"sampling {est['rate']:.2%} of queries"
    value = "no samples yet" if not est["samples"] else (
        f"recall@{est['k']} {est['recall']:.3f} over {est['samples']} samples")
    flag = " — BELOW TARGET: run `akindb tune`" if est["below_target"] else ""
    out.print(f"{collection}: {value} (target {est['target']}; {state}){flag}")


def register(app: typer.Typer) -> None:
    app.command()(doctor)
    app.command()(dupes)
    app.command()(monitor)
