"""Shared CLI plumbing: options, output, and the one place errors become exit codes.

Printing: both consoles take text literally (``markup=False``): user text, file names and
error messages may hold square brackets (``report[v1].md``, ``pip install 'akindb[train]'``)
that Rich would otherwise eat as markup or crash on (``[/x]``). A line that wants styling
passes ``markup=True`` and wraps every piece of outside text in ``escape()``.

Errors: ``handled()`` turns them into a message and an exit code; with ``--json`` the message
is one JSON line on stdout, ``{"error": {"code": ..., "message": ..., "exit": ...}}``, with the
codes of the HTTP API (``server/codes.py``) plus a few of the CLI's own.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from akindb import errors

if TYPE_CHECKING:
    from rich.console import Console

DEFAULT_DB = "akindb_db"
DEFAULT_COLLECTION = "default"

# ``out`` and ``err`` are made on first use (module ``__getattr__`` below): importing rich and
# building a console cost ~20 ms that ``akindb search`` never needs (it prints with plain.py).
# Emoji codes stay literal too (``:cat:`` is text, not an emoji).
_CONSOLE_OPTIONS: dict[str, dict[str, Any]] = {
    "out": {"highlight": False, "soft_wrap": True, "markup": False, "emoji": False},
    "err": {"stderr": True, "highlight": False, "markup": False, "emoji": False},
}
_consoles: dict[str, Console] = {}


def console(name: str) -> Console:
    """The ``out`` or ``err`` console, made on first use."""
    if name not in _consoles:
        from rich.console import Console

        _consoles[name] = Console(**_CONSOLE_OPTIONS[name])
    return _consoles[name]


def __getattr__(name: str) -> Console:
    if name not in _CONSOLE_OPTIONS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return console(name)


def escape(text: str) -> str:
    """rich's markup escape (rich imported on first use)."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)

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
# 6 serve cannot listen (port busy), 130 interrupted.
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


# Codes of errors the CLI finds itself (the library's errors use server/codes.py's).
USAGE_ERROR = "usage_error"  # exit 2: a missing argument, an unknown option
INTERRUPTED = "interrupted"  # exit 130: Ctrl-C
PORT_IN_USE = "port_in_use"  # exit 6: serve could not bind its port
OS_ERROR = "os_error"  # exit 5: the operating system refused (not a directory, no permission)
_CODE_FOR_EXIT = {2: "invalid_argument", 3: "not_found", 4: "model_error", 5: "storage_error"}


def _current_context() -> Any:
    """The running command's click context (typer >= 0.20 ships its own copy of click)."""
    import importlib

    try:
        module = importlib.import_module("typer._click.globals")
    except ImportError:  # older typer: plain click
        module = importlib.import_module("click")
    return module.get_current_context(silent=True)


def json_mode() -> bool:
    """Whether the running command was given ``--json`` (its errors are then JSON too)."""
    ctx = _current_context()
    while ctx is not None:
        if ctx.params.get("json_out"):
            return True
        ctx = ctx.parent
    return False


def print_error(message: str, code: str, exit_code: int) -> None:
    """The one way an error reaches the user: escaped text on stderr, or a JSON line."""
    if json_mode():
        print_json({"error": {"code": code, "message": message, "exit": exit_code}})
    else:
        console("err").print(f"[bold red]error:[/] {escape(message)}", markup=True)


def fail(message: str, code: int = 2, *, error_code: str | None = None) -> NoReturn:
    print_error(message, error_code or _CODE_FOR_EXIT.get(code, "error"), code)
    raise typer.Exit(code)


def _check_utf8_arguments() -> None:
    """Arguments that are not valid UTF-8 reach Python as lone surrogates, which no tokenizer
    or database accepts: say so before they travel further (file paths are left alone)."""
    ctx = _current_context()
    if ctx is None:
        return
    for name, value in ctx.params.items():
        for item in value if isinstance(value, list | tuple) else [value]:
            if not isinstance(item, str):
                continue
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as exc:
                raw = item.encode("utf-8", "surrogateescape")[exc.start : exc.end]
                raise errors.InvalidArgumentError(
                    f"{name.replace('_', '-')} is not valid UTF-8 text (bytes {raw!r} at "
                    f"character {exc.start}); set a UTF-8 locale or pass the text in UTF-8"
                ) from None


@contextlib.contextmanager
def handled() -> Iterator[None]:
    """Translate akindb errors, refused system calls and Ctrl-C into a message and an exit
    code (a JSON line under ``--json``)."""
    from akindb.wire.codes import code_for

    try:
        _check_utf8_arguments()
        yield
    except errors.AkinError as exc:
        print_error(str(exc), code_for(exc)[0], exit_code(exc))
        raise typer.Exit(exit_code(exc)) from None
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        print_error(
            f"{exc.strerror or exc}{where}; check the path and its permissions", OS_ERROR, 5
        )
        raise typer.Exit(5) from None
    except KeyboardInterrupt:
        print_error(
            "interrupted: everything acknowledged so far is saved and the database is "
            "consistent; run the same command again to resume",
            INTERRUPTED, 130,
        )
        raise typer.Exit(130) from None


def print_json(obj: Any) -> None:
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict):  # typed reports (TuneReport, IndexStats, ...) print as their dict
        obj = to_dict()
    text = json.dumps(obj, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # A non-UTF-8 argument (a path, as argv carries it: surrogate escapes) echoed in an
        # error raised UnicodeEncodeError here (found by bench/reliability/fuzz_cli.py); as
        # \u escapes the JSON stays valid and round-trips.
        text = json.dumps(obj)
    sys.stdout.write(text + "\n")


def db_path(db: Path | None) -> Path:
    return Path(db) if db is not None else Path(os.environ.get("AKINDB_DB", DEFAULT_DB))


def progress_enabled() -> bool:
    return bool(console("err").is_terminal)


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
