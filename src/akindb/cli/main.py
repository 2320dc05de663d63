"""``akindb`` command line: a thin layer over the Python API (one module per command group)."""

from __future__ import annotations

import sys

import typer

from akindb.cli import (
    backup_commands,
    cluster_commands,
    collections_commands,
    commands,
    compare_commands,
    evaluate,
    hygiene_commands,
    index_commands,
    migrate_commands,
    model_commands,
    quality_commands,
    retrieval_commands,
    serve_commands,
    train_commands,
    transfer_commands,
    word_commands,
)
from akindb.cli.common import install_notes

app = typer.Typer(
    name="akindb",
    help="Semantic search made simple: index a folder, search it by meaning. Offline, embedded.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
install_notes()
commands.register(app)
app.add_typer(collections_commands.collections_app, name="collections")
app.add_typer(evaluate.eval_app, name="eval")
train_commands.register(app)
word_commands.register(app, evaluate.eval_app)
compare_commands.register(app)
serve_commands.register(app)
index_commands.register(app)
retrieval_commands.register(app)
transfer_commands.register(app)
backup_commands.register(app)
hygiene_commands.register(app)
migrate_commands.register(app)
quality_commands.register(app)
model_commands.register(app)
cluster_commands.register(app)


def main() -> None:
    if "--json" not in sys.argv[1:]:
        app()
        return
    sys.exit(run_json(sys.argv[1:]))


def run_json(args: list[str]) -> int:
    """Run with ``--json``: a mistake on the command line (missing argument, unknown option)
    is a JSON error line too, like every error the commands themselves report."""
    from akindb.cli.common import USAGE_ERROR, print_json

    try:
        rv = app(args, standalone_mode=False)
    except Exception as exc:  # click's UsageError / ClickException (typer may vendor click)
        if not hasattr(exc, "format_message") or not hasattr(exc, "exit_code"):
            raise
        code = int(exc.exit_code)
        print_json({"error": {"code": USAGE_ERROR, "message": exc.format_message(),
                              "exit": code}})
        return code
    return rv if isinstance(rv, int) else 0


if __name__ == "__main__":
    main()
