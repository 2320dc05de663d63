"""Shared CLI plumbing: options, output, and the one place errors become exit codes."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from akindb import errors

DEFAULT_DB = "akindb_db"
DEFAULT_COLLECTION = "default"

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)

DbOpt = Annotated[
    Path | None,
    typer.Option(
        "--db",
        envvar="AKINDB_DB",
        help="Database directory (env AKINDB_DB; default ./akindb_db).",
        show_default=False,
    ),
]
CollectionOpt = Annotated[
    str,
    typer.Option(
        "--collection",
        "-c",
        envvar="AKINDB_COLLECTION",
        help="Collection name (env AKINDB_COLLECTION).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]

# Exit codes: 1 other error, 2 bad input, 3 not found, 4 model problem, 5 storage problem,
# 130 interrupted.
_EXIT: list[tuple[type[errors.AkinError], int]] = [
    (errors.InvalidArgumentError, 2),
    (errors.NotFoundError, 3),
    (errors.CollectionExistsError, 2),
    (errors.ModelError, 4),
    (errors.StorageError, 5),
    (errors.MissingExtraError, 4),
]


class _NoteHandler(logging.Handler):
    """Library notes (``log.warning``) to the terminal's stderr as ``note: ...``, once each.

    Resolves ``sys.stderr`` at each record (so a test runner's captured stream gets it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(f"note: {record.getMessage()}\n")
        except Exception:  # pragma: no cover - a closed stream
            self.handleError(record)


def install_notes() -> None:
    """Print akindb's warnings as notes on stderr (idempotent)."""
    logger = logging.getLogger("akindb")
    if not any(isinstance(h, _NoteHandler) for h in logger.handlers):
        logger.addHandler(_NoteHandler(logging.WARNING))


def exit_code(exc: errors.AkinError) -> int:
    for cls, code in _EXIT:
        if isinstance(exc, cls):
            return code
    return 1


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", markup=True)
    raise typer.Exit(code)


@contextlib.contextmanager
def handled() -> Iterator[None]:
    """Translate akindb errors and Ctrl-C into a message and an exit code."""
    try:
        yield
    except errors.AkinError as exc:
        err.print(f"[bold red]error:[/] {exc}", markup=True)
        raise typer.Exit(exit_code(exc)) from None
    except KeyboardInterrupt:
        err.print(
            "interrupted: everything acknowledged so far is saved and the database is "
            "consistent; run the same command again to resume"
        )
        raise typer.Exit(130) from None


def print_json(obj: Any) -> None:
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict):  # typed reports (TuneReport, IndexStats, ...) print as their dict
        obj = to_dict()
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")


def db_path(db: Path | None) -> Path:
    return Path(db) if db is not None else Path(os.environ.get("AKINDB_DB", DEFAULT_DB))


def progress_enabled() -> bool:
    return err.is_terminal


def json_object(text: str | None, flag: str) -> dict[str, Any] | None:
    """A JSON object from a command-line flag, or a clear error saying what was wrong."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{flag} is not valid JSON ({exc.msg}); e.g. '{{\"M\": 32}}'")
    if not isinstance(value, dict):
        fail(f"{flag} must be a JSON object such as '{{\"M\": 32}}', got {text!r}")
    return value
