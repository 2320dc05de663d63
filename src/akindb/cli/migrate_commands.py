"""``akindb migrate``: move a collection to another model (the work is in ``akindb.migrate``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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


def migrate(
    model: Annotated[str, typer.Option("--model", help="The new model (name or folder).")],
    db: DbOpt = None,
    collection: CollectionOpt = DEFAULT_COLLECTION,
    qrels: Annotated[
        Path | None,
        typer.Option(help="Folder with queries.jsonl and qrels/<split>.tsv (BEIR layout, "
                     "document ids as stored) to compare nDCG@10 old vs new."),
    ] = None,
    split: Annotated[str, typer.Option(help="Which qrels/<split>.tsv.")] = "test",
    gate: Annotated[
        float, typer.Option(help="Switch only if new nDCG@10 - old >= this (0: not worse).")
    ] = 0.0,
    accept: Annotated[
        bool, typer.Option("--accept", help="Without --qrels: switch anyway (after reading "
                           "the neighbour agreement).")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Re-embed a collection with another model in a shadow collection (resumable: run it
    again after an interruption), compare old vs new, and switch atomically only when the
    gate passes. The old collection is kept as NAME.pre-migrate-<time> until you drop it."""
    from akindb.migrate import migrate as run

    with handled():
        evaluate = None
        if qrels is not None:
            from akindb.eval.qrels_gate import qrels_evaluator

            evaluate = qrels_evaluator(qrels, split)
        database = akindb.open(db_path(db), create=False)
        try:
            with phase_bar(not json_out) as bar:
                rep = run(database, collection, model, evaluate=evaluate, gate=gate,
                          accept=accept, progress=bar)
        finally:
            database.close()
    if json_out:
        print_json(rep.to_dict())
        return
    if rep.noop:
        out.print(rep.note)
        return
    out.print(f"{collection}: {rep.old_model} → {rep.new_model}; shadow '{rep.shadow}': "
              f"{rep.embedded} embedded, {rep.skipped} already there, {rep.removed} removed")
    out.print(rep.note)
    if rep.switched:
        out.print(f"switched: '{collection}' now uses the new model; the old one is kept as "
                  f"'{rep.kept_as}' (drop it with `akindb collections drop {rep.kept_as}`)")


def register(app: typer.Typer) -> None:
    app.command()(migrate)
