"""Index maintenance commands: ``akindb tune`` and ``akindb compact``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

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
from akindb.cli.progress_bar import PhaseProgress, phase_bar

if TYPE_CHECKING:
    from akindb.collection.reports import TuneReport


def tune(
    db: DbOpt = None,
    collection: CollectionOpt = DEFAULT_COLLECTION,
    target_recall: Annotated[
        float, typer.Option(help="Recall@k to reach against exact search, in (0, 1].")
    ] = 0.95,
    k: Annotated[int, typer.Option("-k", "--k", help="The k of recall@k.", min=1)] = 10,
    queries: Annotated[
        Path | None,
        typer.Option(
            help="Real queries: a text file (one per line, embedded with the collection's "
            "model) or a .npy matrix of vectors. Without it stored vectors are sampled, which "
            "overestimates recall."
        ),
    ] = None,
    n_queries: Annotated[
        int, typer.Option(help="Stored vectors held out of a side graph as queries (more: a "
                          "narrower margin, so a cheaper setting).", min=1)
    ] = 1000,
    recorded: Annotated[
        bool, typer.Option("--recorded", help="Use the real queries the recall monitor "
                           "recorded (`akindb monitor`) instead of stored vectors.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Pick the cheapest HNSW ef_search / LSH probes that reaches a recall target; save it.
    A re-tune never lowers the setting a previous tuning chose for a target at least as high
    (pass a lower --target-recall to go lower)."""
    with handled():
        with phase_bar(not json_out) as bar:  # closed before the result is printed
            report = _tune(db, collection, target_recall, k, queries, n_queries, recorded, bar)
        if json_out:
            print_json(report)
            return
        if report.get("note"):
            out.print(f"{report['kind']}: {report['note']}")
            return
        b, a = report["before"], report["after"]
        knob = report["knob"]
        verdict = "met" if report["met"] else "NOT met (best setting kept)"
        out.print(
            f"{report['kind']} {knob}: {b['value']} → {a['value']}; recall@{report['k']} "
            f"{b['recall']:.3f} → {a['recall']:.3f} (target {report['target_recall']}: "
            f"{verdict}); {b['qps']:.0f} → {a['qps']:.0f} queries/s on "
            f"{report['n_queries']} {'real' if queries is not None else 'sampled'} queries"
        )
        if report.get("kept"):
            out.print(f"kept {knob}={report['kept']['value']}: {report['kept']['reason']}",
                      markup=False)


def _tune(db: Path | None, collection: str, target_recall: float, k: int,
          queries: Path | None, n_queries: int, recorded: bool,
          bar: PhaseProgress | None) -> TuneReport:
    """``Collection.tune`` with the command's query sources and a progress bar."""
    database = akindb.open(db_path(db), create=False)
    try:
        col = database.get_collection(collection)
        from akindb.collection.monitor import recorded_queries

        qs = recorded_queries(col) if recorded else None
        if qs is not None and len(qs) == 0:
            fail("no recorded queries yet: the recall monitor samples real searches "
                 "(`akindb monitor --rate 0.05`); tune without --recorded meanwhile")
        if queries is not None:
            from akindb.cli.queries_file import load_queries

            qs = load_queries(queries, col)
        from akindb.collection import maintenance
        from akindb.core.vectors import as_matrix

        q = None if qs is None else as_matrix(qs, col.dim, col.metric, what="queries")
        return maintenance.tune(col.parts, target_recall, k=k, n_queries=n_queries,
                                queries=q, progress=bar)  # Collection.tune + a bar
    finally:
        database.close()


def compact(
    db: DbOpt = None,
    collection: CollectionOpt = DEFAULT_COLLECTION,
    json_out: JsonOpt = False,
) -> None:
    """Drop index tombstones (rebuilds HNSW) and reclaim disk space (SQLite VACUUM)."""
    with handled():
        database = akindb.open(db_path(db), create=False)
        try:
            report = database.get_collection(collection).compact()
        finally:
            database.close()
        if json_out:
            print_json(report)
            return
        mb = 1024 * 1024
        out.print(
            f"{report['kind']}: dropped {report['tombstones_dropped']} tombstones; database "
            f"{report['db_bytes_before'] / mb:.1f} → {report['db_bytes_after'] / mb:.1f} MB, "
            f"index file {report['index_bytes_before'] / mb:.1f} → "
            f"{report['index_bytes_after'] / mb:.1f} MB"
        )


def register(app: typer.Typer) -> None:
    app.command()(tune)
    app.command()(compact)
