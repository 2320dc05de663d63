"""``akindb export`` and ``akindb import``: move a collection out to a file and back in (or in
from Chroma). Thin: the work is in ``akindb.transfer``."""

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
    fail,
    handled,
    out,
    print_json,
)
from akindb.cli.progress_bar import phase_bar


def export(
    out_path: Annotated[Path, typer.Option("--out", "-o", help="File to write.")],
    db: DbOpt = None,
    collection: CollectionOpt = DEFAULT_COLLECTION,
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="jsonl or parquet (default: from the --out suffix)."),
    ] = None,
    batch_size: Annotated[
        int, typer.Option(help="Documents held in memory at a time.", min=1)
    ] = 1000,
    json_out: JsonOpt = False,
) -> None:
    """Write a collection (texts, chunks with offsets, metadata, vectors, model pin) to a file.

    The schema is in docs/format.md; the file opens in pandas, DuckDB or any JSON reader."""
    from akindb.transfer import export_collection

    with handled():
        database = akindb.open(db_path(db), create=False)
        try:
            col = database.get_collection(collection)
            with phase_bar(not json_out) as bar:
                tick = (lambda d, t: bar("export", d, t)) if bar else None
                rep = export_collection(col, out_path, format=fmt, batch_size=batch_size,
                                        progress=tick)
        finally:
            database.close()
        if json_out:
            print_json(rep.__dict__)
            return
        out.print(
            f"exported {rep.documents} documents ({rep.chunks} chunks) of '{collection}' to "
            f"{rep.path} ({rep.format}, {rep.bytes / 1e6:.1f} MB) in {rep.seconds:.1f} s"
        )


def import_(
    source: Annotated[Path, typer.Argument(help="An akindb export (.jsonl/.parquet) or, with "
                                           "--from chroma, a Chroma persist directory.")],
    db: DbOpt = None,
    collection: CollectionOpt = DEFAULT_COLLECTION,
    from_: Annotated[
        str, typer.Option("--from", help="akindb (an export file) or chroma (a directory).")
    ] = "akindb",
    chroma_collection: Annotated[
        str | None, typer.Option(help="Which Chroma collection (when it holds several).")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(help="Model for a new collection (default: the file's pinned model)."),
    ] = None,
    partial: Annotated[
        bool, typer.Option("--partial", help="Skip bad rows and keep the good ones (default: "
                           "a bad row stops the import before anything is written).")
    ] = False,
    batch_size: Annotated[int, typer.Option(help="Rows read at a time.", min=1)] = 1000,
    json_out: JsonOpt = False,
) -> None:
    """Import an export file or a Chroma directory into a collection (created if missing).

    Idempotent: documents already stored with the same content hash are skipped. The file's
    vectors are reused when its model pin matches the collection's, else texts are re-embedded."""
    from akindb.transfer import import_file
    from akindb.transfer.readers import Reader, open_reader

    with handled():
        reader: Reader
        if from_ == "chroma":
            from akindb.transfer.chroma import ChromaReader

            reader = ChromaReader(source, chroma_collection)
        elif from_ == "akindb":
            reader = open_reader(source)
        else:
            fail(f"--from must be akindb or chroma, got {from_!r}")
        database = akindb.open(db_path(db))
        try:
            with phase_bar(not json_out) as bar:
                rep = import_file(database, reader, collection, model=model, partial=partial,
                                  batch_size=batch_size, progress=bar)
        finally:
            database.close()
        if json_out:
            print_json(rep.__dict__)
            return
        how = "vectors reused" if rep.vectors_reused else f"{rep.reembedded} re-embedded"
        out.print(
            f"imported {rep.documents} documents into '{rep.collection}': {rep.added} added, "
            f"{rep.updated} updated, {rep.unchanged} unchanged ({how}) in {rep.seconds:.1f} s"
        )
        for line in rep.bad_rows[:10]:
            out.print(f"  skipped: {line}")


def register(app: typer.Typer) -> None:
    app.command()(export)
    app.command(name="import")(import_)
