"""Core commands: index, search, tokens, get, delete, collections."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

import akindb
from akindb.cli.common import (
    DEFAULT_COLLECTION,
    CollectionOpt,
    DbOpt,
    JsonOpt,
    db_path,
    err,
    handled,
    json_object,
    out,
    print_json,
    progress_enabled,
)
from akindb.collection import Collection

if TYPE_CHECKING:
    from akindb.retrieval.fusion import FusionParams

collections_app = typer.Typer(
    help="List collections, show one (count, model, metric, dims, size) or drop one.",
    invoke_without_command=True,
    no_args_is_help=False,
)


def _open_collection(db: Path | None, collection: str) -> Collection:
    database = akindb.open(db_path(db), create=False)
    return database.get_collection(collection)


def index(
    paths: Annotated[list[Path], typer.Argument(help="Files and folders to index.")],
    db: DbOpt = None,
    collection: CollectionOpt = DEFAULT_COLLECTION,
    model: Annotated[str, typer.Option(help="Embedding model for a new collection.")] = "default",
    metric: Annotated[str, typer.Option(help="cosine | l2 | dot (new collection).")] = "cosine",
    index_kind: Annotated[
        str,
        typer.Option(
            "--index", help="Index kind (new collection): flat | hnsw | lsh | quantized."
        ),
    ] = "flat",
    index_params: Annotated[
        str | None,
        typer.Option(
            help='Index parameters as JSON (new collection), e.g. \'{"M": 32}\' for hnsw, '
            '\'{"codes": "binary"}\' for quantized; an unknown name lists the valid ones.'
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Chunk, embed and store files; re-running skips unchanged files (content hash)."""
    with handled():
        params = json_object(index_params, "--index-params")
        database = akindb.open(db_path(db))
        col = database.get_or_create_collection(
            collection, model=model, metric=metric, index=index_kind, index_params=params
        )
        if progress_enabled() and not json_out:
            # Imported here: only indexing draws a bar (search starts faster without it).
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            with Progress(
                TextColumn("[bold]indexing"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("files · {task.fields[chunks]} chunks"),
                TimeRemainingColumn(),
                console=err,
                transient=False,
            ) as bar:
                task = bar.add_task("index", total=None, chunks=0)

                def tick(done: int, total: int, chunks: int) -> None:
                    bar.update(task, completed=done, total=total, chunks=chunks)

                report = col.add_files(paths, progress=tick)
        else:
            report = col.add_files(paths)
        database.close()
        if json_out:
            print_json({"collection": collection, **report.to_dict()})
            return
        skipped = ", ".join(f"{n} {why}" for why, n in sorted(report.skipped.items())) or "none"
        out.print(
            f"{report.files} files: {report.added} added, {report.updated} updated, "
            f"{report.unchanged} unchanged, skipped {skipped}; {report.chunks} chunks "
            f"in {report.seconds:.1f} s → collection '{collection}' in {db_path(db)}"
        )


def search(
    query: Annotated[str, typer.Argument(help="What to look for, in your own words.")],
    db: DbOpt = None,
    collection: CollectionOpt = DEFAULT_COLLECTION,
    k: Annotated[int, typer.Option("-k", "--k", help="Number of results.", min=1)] = 5,
    min_score: Annotated[
        float | None,
        typer.Option(
            help="Keep hits with score ≥ this: a cosine in --mode vector; in hybrid mode the "
            "fused score (RRF: at most 2/61 ≈ 0.033; weighted: 0 to 2)."
        ),
    ] = None,
    max_distance: Annotated[
        float | None, typer.Option(help="Keep hits with distance ≤ this.")
    ] = None,
    where: Annotated[
        str | None, typer.Option(help='Metadata filter as JSON, e.g. \'{"ext": ".md"}\'.')
    ] = None,
    exact: Annotated[bool, typer.Option(help="Bypass the index (exact search).")] = False,
    mode: Annotated[
        str,
        typer.Option(
            help="hybrid (vectors + BM25, fused) | vector (cosine scores) | keyword (BM25)."
        ),
    ] = "hybrid",
    explain: Annotated[
        bool,
        typer.Option(
            "--explain",
            help="Show each hit's score parts and which query words mattered (occlusion).",
        ),
    ] = False,
    fusion: Annotated[
        str,
        typer.Option(
            help="Hybrid fusion: rrf (reciprocal rank) | weighted (min-max normalised scores)."
        ),
    ] = "rrf",
    rrf_k: Annotated[
        float, typer.Option(help="RRF rank constant: smaller lets each list's top hits dominate.")
    ] = 60.0,
    keyword_weight: Annotated[
        float, typer.Option(help="Weight of the BM25 list in fusion (vector: 1).")
    ] = 1.0,
    keyword_gate: Annotated[
        bool,
        typer.Option(
            help="Lower the BM25 list's weight for queries whose best keyword match is weak."
        ),
    ] = True,
    rerank: Annotated[
        str | None,
        typer.Option(
            help="Re-rank the top candidates: mmr (diversity) | cross-encoder:PATH (a local "
            "sentence-transformers CrossEncoder folder; needs the rerank extra)."
        ),
    ] = None,
    mmr_lambda: Annotated[
        float, typer.Option(help="MMR, in [0, 1]: 1 = relevance only, 0 = diversity only.")
    ] = 0.7,
    rerank_pool: Annotated[
        int | None,
        typer.Option(min=1, help="Candidates the reranker sees (mmr 50, cross-encoder 30)."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Search a collection by meaning and keywords; prints ranked hits with score, source and
    passage."""
    with handled():
        # The truncation note comes once, from the search itself (a logged note).
        col = _open_collection(db, collection)
        from akindb.retrieval.request import check_mode
        from akindb.retrieval.rerank import parse_reranker

        params = _fusion_params(fusion, rrf_k, keyword_weight, keyword_gate)
        reranker = (
            parse_reranker(rerank, mmr_lambda=mmr_lambda, pool=rerank_pool)
            if rerank is not None else None
        )
        hits = col.search(
            query, k=k, mode=check_mode(mode), min_score=min_score, max_distance=max_distance,
            where=where, exact=exact, explain=explain, fusion=params, rerank=reranker,
        )
        if json_out:
            for h in hits:
                print_json({**h.to_dict(), "explain": h.explain().to_dict()} if explain
                           else h.to_dict())
            return
        if not hits:
            out.print("no results")
            return
        for rank, h in enumerate(hits, 1):
            out.print(
                f"[bold]{rank}.[/] [cyan]{h.score:.4f}[/]  {h.source or h.id}"
                f"  [dim]chars {h.start}-{h.end}[/]",
                markup=True,
            )
            snippet = " ".join(h.text.split())
            out.print("   " + (snippet[:300] + ("…" if len(snippet) > 300 else "")), markup=False)
            if explain:
                for line in h.explain().lines():
                    out.print("   [dim]│[/] " + escape(line), markup=True)


def _fusion_params(
    method: str, rrf_k: float, keyword_weight: float, gate: bool
) -> FusionParams:
    from akindb.errors import InvalidArgumentError
    from akindb.retrieval.fusion import FusionMethod, FusionParams

    methods = [m.value for m in FusionMethod]
    if method not in methods:
        raise InvalidArgumentError(f"unknown fusion {method!r}; use one of: {', '.join(methods)}")
    params = FusionParams(FusionMethod(method), rrf_k=rrf_k, keyword_weight=keyword_weight)
    if gate:
        return params
    return dataclasses.replace(params, keyword_gate_low=0.0, keyword_gate_high=0.0)


def tokens(
    text: Annotated[str, typer.Argument(help="Text to tokenize.")],
    db: DbOpt = None,
    collection: CollectionOpt = DEFAULT_COLLECTION,
    model: Annotated[
        str | None, typer.Option(help="A model name or folder (default: the collection's).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Show the tokens, ids and word pieces the model makes of TEXT."""
    with handled():
        if model is not None:
            from akindb.models.registry import load_embedder

            emb = load_embedder(None if model == "default" else model)
        else:
            path = db_path(db)
            if (path / "akindb.sqlite").exists():
                emb = _open_collection(db, collection).embedder
            else:
                from akindb.models.registry import load_embedder

                emb = load_embedder(None)
        tv = emb.tokenize(text)
        if json_out:
            print_json({"model": emb.spec.name, **tv.to_dict()})
            return
        table = Table(title=f"{len(tv.tokens)} tokens · {emb.spec.name}")
        for col_name in ("#", "token", "id", "chars", "text"):
            table.add_column(col_name)
        for i, (tok, tid, (a, b)) in enumerate(zip(tv.tokens, tv.ids, tv.offsets, strict=True)):
            table.add_row(str(i), tok, str(tid), f"{a}-{b}", text[a:b])
        out.print(table)
        if tv.truncated:
            out.print(f"note: truncated at the model's limit of {tv.max_tokens} tokens")


def get(
    ids: Annotated[list[str], typer.Argument(help="Document ids (a file's id is its path).")],
    db: DbOpt = None,
    collection: CollectionOpt = DEFAULT_COLLECTION,
    json_out: JsonOpt = False,
) -> None:
    """Read documents back: original text, source, metadata and chunk offsets."""
    with handled():
        col = _open_collection(db, collection)
        recs = col.get(ids)
        missing = sorted(set(ids) - {r.id for r in recs})
        for r in recs:
            if json_out:
                print_json(r.to_dict())
            else:
                out.print(
                    f"[bold]{r.id}[/]  source={r.source}  chunks={len(r.chunks)}", markup=True
                )
                out.print(f"metadata: {json.dumps(r.metadata, ensure_ascii=False)}", markup=False)
                out.print(r.text, markup=False)
        if missing:
            err.print(f"error: not found in collection '{collection}': {', '.join(missing)}")
            raise typer.Exit(3)


def delete(
    ids: Annotated[list[str] | None, typer.Argument(help="Document ids to delete.")] = None,
    where: Annotated[
        str | None, typer.Option(help="Delete documents matching this filter.")
    ] = None,
    db: DbOpt = None,
    collection: CollectionOpt = DEFAULT_COLLECTION,
    json_out: JsonOpt = False,
) -> None:
    """Delete documents by id or by --where filter."""
    with handled():
        col = _open_collection(db, collection)
        n = col.delete(ids or None, where=where)
        col.flush()
        if json_out:
            print_json({"deleted": n})
        else:
            out.print(f"deleted {n} document(s)")


@collections_app.callback()
def collections_list(
    ctx: typer.Context,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """List collections with count, model, metric and dims."""
    if ctx.invoked_subcommand is not None:
        return
    with handled():
        database = akindb.open(db_path(db), create=False)
        infos = [database.get_collection(n).info() for n in database.list_collections()]
        if json_out:
            for i in infos:
                print_json(i)
            return
        table = Table(title=f"collections in {database.path}")
        for c in ("name", "documents", "chunks", "model", "metric", "dim", "index"):
            table.add_column(c)
        for i in infos:
            table.add_row(
                i["name"],
                str(i["documents"]),
                str(i["chunks"]),
                str(i["model"]),
                i["metric"],
                str(i["dim"]),
                i["index"],
            )
        out.print(table)
        out.print(f"database size: {database.size_bytes() / 1e6:.1f} MB")


@collections_app.command("info")
def collections_info(
    name: Annotated[str, typer.Argument(help="Collection name.")],
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Show one collection: count, model, metric, dims, index, size."""
    with handled():
        database = akindb.open(db_path(db), create=False)
        info: dict[str, Any] = database.get_collection(name).info()
        info["database_bytes"] = database.size_bytes()
        if json_out:
            print_json(info)
        else:
            for key, val in info.items():
                out.print(f"{key:>22}: {val}", markup=False)


@collections_app.command("drop")
def collections_drop(
    name: Annotated[str, typer.Argument(help="Collection name.")],
    db: DbOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
) -> None:
    """Delete a collection and everything in it."""
    with handled():
        database = akindb.open(db_path(db), create=False)
        database.get_collection(name)
        if not yes and not typer.confirm(f"drop collection '{name}' and all its documents?"):
            raise typer.Exit(1)
        database.drop_collection(name)
        database.close()
        out.print(f"dropped collection '{name}'")


def register(app: typer.Typer) -> None:
    app.command()(index)
    app.command()(search)
    app.command()(tokens)
    app.command()(get)
    app.command()(delete)
