"""``akindb models list`` / ``akindb models add PATH``: models beyond MiniLM, offline and pinned."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from akindb.cli.common import JsonOpt, handled, out, print_json

models_app = typer.Typer(help="List and add embedding models (local folders, SHA-256 pinned).",
                         no_args_is_help=True)


@models_app.command("list")
def list_models(json_out: JsonOpt = False) -> None:
    """The default model and every model added with ``akindb models add``."""
    from akindb.models.catalog import read_catalog
    from akindb.models.registry import DEFAULT_MODEL
    from akindb.models.sources import MINILM_SHA256

    with handled():
        rows = [{"name": DEFAULT_MODEL, "folder": "(weights package)", "sha256": MINILM_SHA256,
                 "pooling": "mean", "normalize": True, "dim": 384, "query_prefix": "",
                 "document_prefix": "", "known_as": "sentence-transformers/all-MiniLM-L6-v2"}]
        rows += [e.to_dict() for e in read_catalog().values()]
        if json_out:
            print_json(rows)
            return
        for r in rows:
            prefixes = ""
            if r["query_prefix"] or r["document_prefix"]:
                prefixes = f", query prefix {r['query_prefix']!r}, document prefix " \
                           f"{r['document_prefix']!r}"
            out.print(f"{r['name']}: dim {r['dim']}, {r['pooling']} pooling, sha256 "
                      f"{str(r['sha256'])[:12]}{prefixes}  [{r['folder']}]", markup=False)


@models_app.command("add")
def add(
    path: Annotated[Path, typer.Argument(help="A local Hugging Face folder of a BERT-family "
                                              "sentence model (config.json, tokenizer.json, "
                                              "model.safetensors).")],
    name: Annotated[str | None, typer.Option(help="Name to use it by (default: the known "
                                                  "model its weights match, else the "
                                                  "folder's name).")] = None,
    query_prefix: Annotated[str | None, typer.Option(help="Text put before every query "
                                                          "(default: the known model's).")] = None,
    document_prefix: Annotated[str | None, typer.Option(
        help="Text put before every document (default: the known model's).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Check a model folder (files, architecture, dimensions, SHA-256 against the known pins)
    and record it, so ``--model NAME`` loads it offline through the ONNX path."""
    from akindb.models.catalog import add_model

    with handled():
        entry = add_model(path, name=name, query_prefix=query_prefix,
                          document_prefix=document_prefix)
        if json_out:
            print_json(entry.to_dict())
            return
        known = f" (weights of {entry.known_as})" if entry.known_as else ""
        out.print(f"added {entry.name}{known}: dim {entry.dim}, {entry.pooling} pooling, "
                  f"sha256 {entry.sha256}", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
