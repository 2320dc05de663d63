"""``akindb`` command line: a thin layer over the Python API (one module per command group)."""

from __future__ import annotations

import logging

import typer

from akindb.cli import (
    cluster_commands,
    commands,
    compare_commands,
    evaluate,
    index_commands,
    retrieval_commands,
    serve_commands,
    train_commands,
    word_commands,
)

app = typer.Typer(
    name="akindb",
    help="Semantic search made simple: index a folder, search it by meaning. Offline, embedded.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
commands.register(app)
app.add_typer(commands.collections_app, name="collections")
app.add_typer(evaluate.eval_app, name="eval")
train_commands.register(app)
word_commands.register(app, evaluate.eval_app)
compare_commands.register(app)
serve_commands.register(app)
index_commands.register(app)
retrieval_commands.register(app)
cluster_commands.register(app)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="note: %(message)s")
    app()


if __name__ == "__main__":
    main()
