"""Retrieval commands for RAG and recommendations: ``akindb context``, ``akindb more-like``."""

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
    err,
    handled,
    out,
    print_json,
)
from akindb.collection import Collection


def _open(db: Path | None, collection: str) -> Collection:
    return akindb.open(db_path(db), create=False).get_collection(collection)


def context(
    query: Annotated[str, typer.Argument(help="The question the context is for.")],
    max_tokens: Annotated[
        int, typer.Option("--max-tokens", min=1, help="Token budget (the model's tokenizer).")
    ] = 1500,
    db: DbOpt = None,
    collection: CollectionOpt = DEFAULT_COLLECTION,
    k: Annotated[int, typer.Option("-k", "--k", min=1, help="Hits to draw passages from.")] = 20,
    mode: Annotated[str, typer.Option(help="hybrid | vector | keyword.")] = "hybrid",
    where: Annotated[str | None, typer.Option(help="Metadata filter as JSON.")] = None,
    dedup: Annotated[
        float, typer.Option(help="Drop a passage with cosine above this to a better one.")
    ] = 0.95,
    json_out: JsonOpt = False,
) -> None:
    """Build RAG context: best passages, de-duplicated, neighbours merged, within the budget,
    each with its citation (source and character offsets)."""
    from akindb.retrieval.request import check_mode

    with handled():
        col = _open(db, collection)
        ctx = col.context(
            query, max_tokens, k=k, mode=check_mode(mode), where=where, dedup_threshold=dedup
        )
        if json_out:
            print_json(ctx.to_dict())
            return
        out.print(ctx.text, markup=False, highlight=False)
        if ctx.note:
            err.print(f"note: {ctx.note}")
        err.print(
            f"{len(ctx.passages)} passage(s), {ctx.tokens}/{ctx.max_tokens} tokens; "
            f"{ctx.stats.get('duplicates_removed', 0)} near-duplicate(s) removed, "
            f"{ctx.stats.get('merged_chunks', 0)} adjacent chunk(s) merged"
        )


def more_like(
    doc_id: Annotated[
        str | None, typer.Argument(help="A stored document id (its vectors are reused).")
    ] = None,
    text: Annotated[str | None, typer.Option(help="Free text instead of an id.")] = None,
    db: DbOpt = None,
    collection: CollectionOpt = DEFAULT_COLLECTION,
    k: Annotated[int, typer.Option("-k", "--k", min=1, help="Number of documents.")] = 10,
    json_out: JsonOpt = False,
) -> None:
    """Documents similar to a stored one (no re-embedding) or to a piece of text."""
    with handled():
        hits = _open(db, collection).more_like(doc_id, k, text=text)
        for rank, h in enumerate(hits, 1):
            if json_out:
                print_json(h.to_dict())
            else:
                out.print(f"{rank}. {h.score:.4f}  {h.source or h.id}", markup=False)


def register(app: typer.Typer) -> None:
    app.command()(context)
    app.command("more-like")(more_like)
