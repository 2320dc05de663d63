"""Retrieval quality knobs of a collection: ``akindb tune-hybrid``, ``akindb analyzer``,
``akindb feedback``."""

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


def tune_hybrid(
    qrels: Annotated[
        Path,
        typer.Option(
            "--qrels",
            help="Judgements folder: queries.jsonl (_id, text) and qrels/<split>.tsv "
            "(query-id, corpus-id, score; corpus-id = a document id of the collection).",
        ),
    ],
    split: Annotated[str, typer.Option(help="Which qrels/<split>.tsv to tune on.")] = "dev",
    candidates: Annotated[
        int, typer.Option(min=1, help="Candidates per list (as hybrid search uses).")
    ] = 100,
    save: Annotated[
        bool, typer.Option(help="Store the chosen fusion with the collection.")
    ] = True,
    db: DbOpt = None,
    collection: CollectionOpt = DEFAULT_COLLECTION,
    json_out: JsonOpt = False,
) -> None:
    """Choose the hybrid fusion (method, keyword weight, gate) on your own judged queries:
    each query runs once through both retrievers, every setting is scored by nDCG@10 offline,
    and the best one that is not below vector-only is stored with the collection."""
    from akindb.eval.judgements import load_judgements
    from akindb.eval.tuning import tune_collection

    with handled():
        queries, judged = load_judgements(qrels, split)
        col = akindb.open(db_path(db), create=False).get_collection(collection)
        err.print(f"running {len(judged)} judged queries through vector and keyword search…")
        result = tune_collection(col, queries, judged, candidates=candidates, save=save,
                                 source={"qrels": str(qrels), "split": split})
        if json_out:
            print_json(result)
            return
        out.print(f"{result['queries']} queries, nDCG@10 on {split}:")
        out.print(f"  vector only   {result['vector']:.4f}")
        out.print(f"  keyword only  {result['keyword']:.4f}")
        out.print(f"  current       {result['current']['ndcg@10']:.4f}  "
                  f"({result['current']['setting']})", markup=False)
        out.print(f"  chosen        {result['chosen']['ndcg@10']:.4f}  "
                  f"({result['chosen']['setting']})", markup=False)
        out.print("saved with the collection" if save else "not saved (--no-save)")


def analyzer(
    stop_words: Annotated[
        str | None,
        typer.Option(help="english (179 words, default) | lucene (33 words) | none."),
    ] = None,
    db: DbOpt = None,
    collection: CollectionOpt = DEFAULT_COLLECTION,
    json_out: JsonOpt = False,
) -> None:
    """Show or change the collection's keyword (BM25) analyzer: Porter stemming and which
    stop words are left out of queries."""
    from akindb.retrieval.settings import KeywordAnalyzer, load_settings, save_settings, updated

    with handled():
        col = akindb.open(db_path(db), create=False).get_collection(collection)
        with col.parts.lock:
            current = load_settings(col.parts.store.conn, col.config.id)
        if stop_words is not None:
            an = KeywordAnalyzer(stop_words=stop_words, stemmer=current.analyzer.stemmer)
            current = updated(current, analyzer=an)
            save_settings(col.parts.store.conn, col.parts.db_file, col.config.id, current)
        if json_out:
            print_json(current.analyzer.to_dict())
            return
        a = current.analyzer
        out.print(f"stemmer {a.stemmer}, stop words {a.stop_words}", markup=False)


def feedback(
    rm3: Annotated[
        bool | None, typer.Option("--rm3/--no-rm3", help="Expand keyword queries (RM3).")
    ] = None,
    docs: Annotated[
        int | None, typer.Option(min=1, max=100, help="RM3 feedback passages.")
    ] = None,
    terms: Annotated[
        int | None, typer.Option(min=1, max=100, help="RM3 expansion words.")
    ] = None,
    original_weight: Annotated[
        float | None,
        typer.Option(min=0.0, max=1.0, help="RM3 lambda: the original query's share."),
    ] = None,
    rocchio: Annotated[
        bool | None,
        typer.Option("--rocchio/--no-rocchio",
                     help="Dense feedback in hybrid mode: re-score the candidates for the "
                          "query moved towards its best fused passages (Rocchio)."),
    ] = None,
    beta: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="Rocchio: how far the query moves.")
    ] = None,
    rocchio_docs: Annotated[
        int | None, typer.Option(min=1, max=100, help="Rocchio feedback passages.")
    ] = None,
    rounds: Annotated[
        int | None, typer.Option(min=1, max=5, help="Rocchio rounds: each later round moves "
                                 "the query towards the previous round's best passages.")
    ] = None,
    relative_cut: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="Rocchio round 1 keeps only "
                                   "passages scoring at least this share of the best.")
    ] = None,
    db: DbOpt = None,
    collection: CollectionOpt = DEFAULT_COLLECTION,
    json_out: JsonOpt = False,
) -> None:
    """Show or change the collection's query feedback (RM3 for keywords, Rocchio for vectors).

    RM3 adds the words of a query's best BM25 passages to the query (keyword and hybrid modes;
    costs one more keyword pass). Rocchio moves the query vector towards its best fused
    passages and re-scores the candidates (hybrid mode; costs one read of their vectors)."""
    from akindb.retrieval.feedback import RocchioParams
    from akindb.retrieval.rm3 import Rm3Params
    from akindb.retrieval.settings import load_settings, save_settings, updated

    with handled():
        col = akindb.open(db_path(db), create=False).get_collection(collection)
        with col.parts.lock:
            current = load_settings(col.parts.store.conn, col.config.id)
        r = current.rm3
        new = Rm3Params(
            enabled=r.enabled if rm3 is None else rm3,
            docs=r.docs if docs is None else docs,
            terms=r.terms if terms is None else terms,
            original_weight=r.original_weight if original_weight is None else original_weight,
        )
        d = current.rocchio
        new_d = RocchioParams(
            enabled=d.enabled if rocchio is None else rocchio,
            beta=d.beta if beta is None else beta,
            docs=d.docs if rocchio_docs is None else rocchio_docs,
            rounds=d.rounds if rounds is None else rounds,
            relative_cut=d.relative_cut if relative_cut is None else relative_cut,
        )
        if new != r or new_d != d:
            current = updated(current, rm3=new, rocchio=new_d)
            save_settings(col.parts.store.conn, col.parts.db_file, col.config.id, current)
        r, d = current.rm3, current.rocchio
        if json_out:
            print_json({"rm3": r.to_dict(), "rocchio": d.to_dict()})
            return
        out.print(f"rm3 {'on' if r.enabled else 'off'}: {r.docs} passages, {r.terms} words, "
                  f"original weight {r.original_weight:g}", markup=False)
        out.print(f"rocchio {'on' if d.enabled else 'off'}: {d.docs} passages, "
                  f"beta {d.beta:g}, {d.rounds} round(s), relative cut {d.relative_cut:g}",
                  markup=False)


def register(app: typer.Typer) -> None:
    app.command("tune-hybrid")(tune_hybrid)
    app.command("analyzer")(analyzer)
    app.command("feedback")(feedback)
