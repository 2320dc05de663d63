"""Core commands: index, search, tokens, get, delete (``akindb collections``: its own module)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

import akindb
from akindb.cli import common
from akindb.cli.cluster_options import ClusterOpt
from akindb.cli.common import (
    DEFAULT_COLLECTION,
    CollectionOpt,
    DbOpt,
    JsonOpt,
    db_path,
    escape,
    fail,
    handled,
    json_object,
    print_json,
    progress_enabled,
)
from akindb.cli.plain import line
from akindb.collection import Collection

if TYPE_CHECKING:
    from akindb.retrieval.fusion import FusionParams

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
    prune: Annotated[
        bool,
        typer.Option(
            "--prune/--no-prune",
            help="Remove the documents of files that are gone from the given folders, so the "
            "collection matches them (--no-prune keeps them).",
        ),
    ] = True,
    skip_duplicates: Annotated[
        bool,
        typer.Option(help="Store only the first of files with exactly the same bytes "
                     "(duplicates are reported either way)."),
    ] = False,
    json_out: JsonOpt = False,
    cluster: ClusterOpt = None,
    shards: Annotated[int, typer.Option(help="Shards of a new --cluster collection.", min=1)] = 1,
    replicas: Annotated[
        int, typer.Option(help="Replicas per shard of a new --cluster collection.", min=1)
    ] = 2,
) -> None:
    """Chunk, embed and store files; re-running skips unchanged files (content hash) and
    removes documents whose file was deleted from an indexed folder."""
    with handled():
        params = json_object(index_params, "--index-params")
        if cluster:  # a Ray Data ingest on the cluster (akindb.distributed.ingest)
            from akindb.cli import cluster_commands

            report = cluster_commands.index_on_cluster(
                cluster, paths, collection, shards=shards, replicas=replicas, model=model,
                metric=metric, index=index_kind, index_params=params)
            if json_out:
                print_json({"collection": collection, **report.to_dict()})
            else:
                common.out.print(f"{report.files} files: {report.added} added, {report.updated} "
                          f"updated, {report.unchanged} unchanged; {report.chunks} chunks in "
                          f"{report.seconds:.1f} s → collection '{collection}' on {cluster}")
            return
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
                console=common.err,
                transient=False,
            ) as bar:
                task = bar.add_task("index", total=None, chunks=0)

                def tick(done: int, total: int, chunks: int) -> None:
                    bar.update(task, completed=done, total=total, chunks=chunks)

                report = col.add_files(paths, progress=tick, prune=prune,
                                       skip_duplicates=skip_duplicates)
        else:
            report = col.add_files(paths, prune=prune, skip_duplicates=skip_duplicates)
        database.close()
        if json_out:
            print_json({"collection": collection, **report.to_dict()})
            return
        skipped = ", ".join(f"{n} {why}" for why, n in sorted(report.skipped.items())) or "none"
        common.out.print(
            f"{report.files} files: {report.added} added, {report.updated} updated, "
            f"{report.unchanged} unchanged, {len(report.removed)} removed, skipped {skipped}; "
            f"{report.chunks} chunks in {report.seconds:.1f} s → collection '{collection}' in "
            f"{db_path(db)}", markup=False,
        )
        for gone in report.removed[:10]:
            common.out.print(f"  removed (file gone): {gone}", markup=False)
        for dup, first in report.duplicates[:10]:
            common.out.print(f"  duplicate: {dup} has the same bytes as {first}", markup=False)
        more = len(report.removed) + len(report.duplicates) - 20
        if more > 0:
            common.out.print("  … and more (see --json)", markup=False)


def search(
    query: Annotated[str, typer.Argument(help="What to look for, in your own words.")],
    db: DbOpt = None,
    collection: CollectionOpt = DEFAULT_COLLECTION,
    k: Annotated[int, typer.Option("-k", "--k", help="Number of results.", min=1)] = 5,
    min_score: Annotated[
        float | None,
        typer.Option(
            help="Keep hits with score ≥ this: a cosine in --mode vector; in hybrid mode a "
            "relevance in [0, 1] on the cosine's scale; in keyword mode the BM25 score."
        ),
    ] = None,
    max_distance: Annotated[
        float | None,
        typer.Option(help="Keep hits with vector distance ≤ this (vector, hybrid modes)."),
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
        str | None,
        typer.Option(
            help="Hybrid fusion: convex (cosine and bounded BM25 mixed) | rrf (reciprocal "
            "rank) | weighted (min-max). Default: the collection's (akindb tune-hybrid)."
        ),
    ] = None,
    rrf_k: Annotated[
        float | None,
        typer.Option(help="RRF rank constant: smaller lets each list's top hits dominate."),
    ] = None,
    keyword_weight: Annotated[
        float | None,
        typer.Option(help="Weight of the BM25 list in fusion (convex: 0 to 1, vector 1 - it)."),
    ] = None,
    keyword_gate: Annotated[
        bool | None,
        typer.Option(
            help="Lower the BM25 list's weight for queries whose best keyword match is weak."
        ),
    ] = None,
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
    group_by: Annotated[
        bool,
        typer.Option(
            "--per-doc",
            help="One hit per document (its best chunk; the count of its other matching "
            "chunks beside it); -k counts documents.",
        ),
    ] = False,
    json_out: JsonOpt = False,
    cluster: ClusterOpt = None,
) -> None:
    """Search a collection by meaning and keywords; prints ranked hits with score, source and
    passage."""
    with handled():
        # The truncation note comes once, from the search itself (a logged note).
        if cluster:
            from akindb.cli.cluster_commands import open_collection

            col: Any = open_collection(cluster, collection)
        else:
            col = _open_collection(db, collection)
        from akindb.retrieval.request import check_mode
        from akindb.retrieval.rerank import parse_reranker

        params = _fusion_params(col, fusion, rrf_k, keyword_weight, keyword_gate)
        reranker = (
            parse_reranker(rerank, mmr_lambda=mmr_lambda, pool=rerank_pool)
            if rerank is not None else None
        )
        hits = col.search(
            query, k=k, mode=check_mode(mode), min_score=min_score, max_distance=max_distance,
            where=where, exact=exact, explain=explain, fusion=params, rerank=reranker,
            group_by="document" if group_by else None,
        )
        if json_out:
            for h in hits:
                print_json({**h.to_dict(), "explain": h.explain().to_dict()} if explain
                           else h.to_dict())
            return
        # Printed with cli/plain.py, not rich: the same text and styles, without rich's import
        if not hits:
            line(("no results", ""))
            return
        for rank, h in enumerate(hits, 1):
            # After re-ranking the order is the reranker's: print its score, so that the
            # printed scores fall as the ranks rise (issue 12, item 5).
            rr = h.explanation.reranker if h.explanation is not None else None
            shown = f"{h.score:.4f}" if not rr else f"{rr['score']:.4f} ({rr['name']})"
            more = [(" ", ""), (f"(+{len(h.others)} more chunks)", "dim")] if h.others else []
            line((f"{rank}.", "bold"), (" ", ""), (shown, "cyan"), (f"  {h.source or h.id}  ", ""),
                 (f"chars {h.start}-{h.end}", "dim"), *more)
            snippet = " ".join(h.text.split())
            line(("   " + (snippet[:300] + ("…" if len(snippet) > 300 else "")), ""))
            if explain:
                for text in h.explain().lines():
                    line(("   ", ""), ("│", "dim"), (" " + text, ""))


def _fusion_params(
    col: Any, method: str | None, rrf_k: float | None, keyword_weight: float | None,
    gate: bool | None,
) -> FusionParams | None:
    """The collection's stored fusion with the options given on the command line applied
    (``None``: nothing given, the collection's own)."""
    if method is None and rrf_k is None and keyword_weight is None and gate is None:
        return None
    from akindb.errors import InvalidArgumentError
    from akindb.retrieval.fusion import FusionMethod, FusionParams
    from akindb.retrieval.settings import load_settings  # not before: a plain search skips it

    methods = [m.value for m in FusionMethod]
    if method is None and rrf_k is not None:
        method = "rrf"  # a rank constant only means something to RRF
    if method is not None and method not in methods:
        raise InvalidArgumentError(f"unknown fusion {method!r}; use one of: {', '.join(methods)}")
    parts = getattr(col, "parts", None)  # a cluster collection: the default settings
    if parts is None:
        from akindb.retrieval.settings import RetrievalSettings

        base = RetrievalSettings().fusion
    else:
        with parts.lock:
            base = load_settings(parts.store.conn, col.config.id).fusion
    if method is not None and method != base.method.value:
        base = FusionParams(FusionMethod(method), candidates=base.candidates)
        if base.method is FusionMethod.CONVEX:
            base = dataclasses.replace(base, vector_weight=0.7, keyword_weight=0.3)
    params = dataclasses.replace(
        base,
        rrf_k=base.rrf_k if rrf_k is None else rrf_k,
        keyword_weight=base.keyword_weight if keyword_weight is None else keyword_weight,
    )
    if params.method is FusionMethod.CONVEX and keyword_weight is not None:
        params = dataclasses.replace(params, vector_weight=max(0.0, 1.0 - keyword_weight))
    if gate is False:
        params = dataclasses.replace(params, keyword_gate_low=0.0, keyword_gate_high=0.0)
    elif gate is True and not params.gated:
        params = dataclasses.replace(params, keyword_gate_low=0.2, keyword_gate_high=0.3)
    return params


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
        from rich.table import Table

        table = Table(title=f"{len(tv.tokens)} tokens · {emb.spec.name}")
        for col_name in ("#", "token", "id", "chars", "text"):
            table.add_column(col_name)
        for i, (tok, tid, (a, b)) in enumerate(zip(tv.tokens, tv.ids, tv.offsets, strict=True)):
            table.add_row(str(i), tok, str(tid), f"{a}-{b}", text[a:b])
        common.out.print(table)
        if tv.truncated:
            common.out.print(f"note: truncated at the model's limit of {tv.max_tokens} tokens")


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
                common.out.print(
                    f"[bold]{escape(r.id)}[/]  source={escape(str(r.source))}  "
                    f"chunks={len(r.chunks)}",
                    markup=True,
                )
                common.out.print(f"metadata: {json.dumps(r.metadata, ensure_ascii=False)}",
                                 markup=False)
                common.out.print(r.text, markup=False)
        if missing:
            fail(f"not found in collection '{collection}': {', '.join(missing)}", 3,
                 error_code="document_not_found")


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
            common.out.print(f"deleted {n} document(s)")


def register(app: typer.Typer) -> None:
    app.command()(index)
    app.command()(search)
    app.command()(tokens)
    app.command()(get)
    app.command()(delete)
