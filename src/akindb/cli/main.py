"""``akindb`` command line: a thin layer over the Python API (one module per command group)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

import typer

from akindb.cli.common import install_notes
from akindb.cli.lazy_group import LazyGroup

# Each installer registers one module's commands, as an eager build would; the module is
# imported only when one of its commands is looked up (lazy_group.py says why).


def _core(app: typer.Typer) -> None:
    from akindb.cli import commands

    commands.register(app)


def _collections(app: typer.Typer) -> None:
    from akindb.cli.collections_commands import collections_app

    app.add_typer(collections_app, name="collections")


def _eval_and_words(app: typer.Typer) -> None:
    import copy

    from akindb.cli import evaluate, word_commands

    eval_app = copy.copy(evaluate.eval_app)  # word_commands adds two evals; the module's stays
    eval_app.registered_commands = list(eval_app.registered_commands)
    app.add_typer(eval_app, name="eval")
    word_commands.register(app, eval_app)


def _module(name: str) -> Callable[[typer.Typer], None]:
    """An installer that calls ``akindb.cli.<name>.register(app)``."""

    def install(app: typer.Typer) -> None:
        importlib.import_module(f"akindb.cli.{name}").register(app)

    install.__name__ = f"install_{name}"
    return install


# A new command: register it in its module's ``register`` and name it here (a command in the
# middle tuple, a group in the last); tests/cli/test_cold_cli.py fails when the two disagree.
_TABLE: list[tuple[Callable[[typer.Typer], None], tuple[str, ...], tuple[str, ...]]] = [
    (_core, ("index", "search", "tokens", "get", "delete"), ()),
    (_collections, (), ("collections",)),
    (_eval_and_words, ("similar", "analogy"), ("eval",)),
    (_module("train_commands"), (), ("train",)),
    (_module("compare_commands"), ("map",), ("compare",)),
    (_module("serve_commands"), ("serve",), ("keys",)),
    (_module("index_commands"), ("tune", "compact"), ()),
    (_module("retrieval_commands"), ("context", "more-like"), ()),
    (_module("transfer_commands"), ("export", "import"), ()),
    (_module("backup_commands"), ("backup", "restore"), ()),
    (_module("hygiene_commands"), ("doctor", "dupes", "monitor"), ()),
    (_module("migrate_commands"), ("migrate",), ()),
    (_module("quality_commands"), ("tune-hybrid", "analyzer", "feedback"), ()),
    (_module("model_commands"), (), ("models",)),
    (_module("cluster_commands"), (), ("cluster",)),
]
_SETTINGS: dict[str, Any] = {"add_completion": False, "pretty_exceptions_enable": False}


class _Root(LazyGroup):
    table = _TABLE
    settings = _SETTINGS


app = typer.Typer(
    name="akindb",
    help="Semantic search made simple: index a folder, search it by meaning. Offline, embedded.",
    no_args_is_help=True,
    cls=_Root,
    **_SETTINGS,
)


@app.callback()
def _root() -> None:
    # typer makes a group only for an app with a callback or several commands; the commands
    # live in the lazy table, so this empty callback is what makes ``app`` a group.
    pass


install_notes()


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
