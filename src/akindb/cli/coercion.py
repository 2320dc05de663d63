"""Convert the common command-line values (text, whole numbers, decimals, paths) without
pydantic, and leave everything else to typer.

Why: typer 0.29 converts every non-flag parameter through a pydantic ``TypeAdapter``
(``typer._coercion.build_runtime_param``): a fresh ``akindb search`` imported pydantic
and built 18 adapters: ~70 ms of CPU of a ~0.6 s cold search (issue 14; bench/cold_cli.py,
docs/benchmarks.md "Session 7: cold CLI"). Typer builds
that converter lazily and caches it on the parameter (``_runtime_param``); ``prime`` fills
the cache first with ``FastParam``.

What keeps it honest: ``FastParam`` answers only a value whose conversion is plain (text,
``[+-]digits``, ``[+-]digits[.digits]`` within the option's bounds, a path from text); for
any other value, or if its own step raises, it hands the value to typer's own converter
(built then, pydantic and all), so every accepted value converts as typer would and every
error message is typer's own. ``tests/cli/test_cold_cli.py`` compares both on a table of
values. Where typer lacks these internals (another version) ``prime`` changes nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from pathlib import Path
from typing import Any

try:  # typer >= 0.29's private coercion layer; absent elsewhere (then nothing is primed)
    from typer._coercion import RuntimeParam, build_runtime_param
    from typer._param_types import coerce_cli_path, routes_to_path
except ImportError:  # pragma: no cover - another typer
    RuntimeParam = None  # type: ignore[assignment,misc]

_INT = re.compile(r"[+-]?[0-9]{1,18}")
_FLOAT = re.compile(r"[+-]?[0-9]{1,18}(?:\.[0-9]{0,18})?")


class _Declined(Exception):
    """The value is not one FastParam converts: typer's converter decides."""


def _kind(descriptor: Any) -> str | None:
    """Which plain conversion a parameter gets, or None (typer converts it)."""
    info = descriptor.parameter_info
    if info.parser is not None or descriptor.is_file or descriptor.is_choice:
        return None
    annotation = descriptor.annotation
    if annotation is str:
        return "str"
    if annotation is bool:
        return "bool"
    if annotation is int or annotation is float:
        return "int" if annotation is int else "float"
    if annotation is Path and info.path_type in (None, Path) and routes_to_path(annotation, info):
        return "path"
    return None


def _in_bounds(number: float, info: Any) -> bool:
    return (info.min is None or number >= info.min) and (info.max is None or number <= info.max)


if RuntimeParam is not None:

    @dataclasses.dataclass(frozen=True)
    class FastParam(RuntimeParam):
        """Typer's ``RuntimeParam`` for the plain cases; typer's own one for the rest."""

        kind: str = "str"
        slow: list[Any] = dataclasses.field(default_factory=list, compare=False)

        def _typer(self) -> Any:
            """Typer's converter for this parameter (imports pydantic), built once."""
            if not self.slow:
                self.slow.append(build_runtime_param(self.descriptor))
            return self.slow[0]

        @property
        def descriptor(self) -> Any:
            from typer._coercion import resolve_type_descriptor

            return resolve_type_descriptor(self.annotation, self.parameter_info)

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            # _Declined, or a plain step failed: typer's converter decides (and words the error)
            with contextlib.suppress(Exception):
                return self._plain(value, param, ctx)
            return self._typer()._coerce_value(value, param=param, ctx=ctx)

        def _plain(self, value: Any, param: Any, ctx: Any) -> Any:
            kind, info = self.kind, self.parameter_info
            if kind == "str" and isinstance(value, str):
                return value
            if kind in ("int", "float"):
                if isinstance(value, str) and (_INT if kind == "int" else _FLOAT).fullmatch(value):
                    number: int | float = int(value) if kind == "int" else float(value)
                elif isinstance(value, int) and not isinstance(value, bool):
                    number = value if kind == "int" else float(value)
                elif kind == "float" and isinstance(value, float):
                    number = value
                else:
                    raise _Declined
                if not _in_bounds(number, info):
                    raise _Declined  # typer's error, or its clamp
                return number
            if kind == "path" and isinstance(value, str | Path):
                return coerce_cli_path(Path(value), info, path_type=Path, param=param, ctx=ctx)
            raise _Declined


def fast_param(descriptor: Any) -> Any | None:
    """A ``FastParam`` for a typer type descriptor, or None where typer must convert."""
    if RuntimeParam is None:  # pragma: no cover - another typer
        return None
    kind = _kind(descriptor)
    if kind is None:
        return None
    return FastParam(parameter_info=descriptor.parameter_info, annotation=descriptor.annotation,
                     kind=kind)


def _prime_param(param: Any) -> None:
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is None or getattr(param, "_runtime_param", False) is not None:
        return  # click's own parameter, or typer already converted it
    fast = fast_param(descriptor)
    if fast is not None:
        param._runtime_param = fast


def prime(command: Any) -> None:
    """Give each parameter of ``command`` and of its sub-commands a ``FastParam`` where one
    applies, before typer would build its pydantic converter. The ``--help`` option, which
    click makes when a command first parses, is primed as it is made."""
    for param in getattr(command, "params", ()):
        _prime_param(param)
    make_help = getattr(command, "get_help_option", None)
    if make_help is not None and not getattr(make_help, "primes", False):

        def get_help_option(ctx: Any) -> Any:
            option = make_help(ctx)
            if option is not None:
                _prime_param(option)
            return option

        get_help_option.primes = True  # type: ignore[attr-defined]
        command.get_help_option = get_help_option
    subs = getattr(command, "commands", None)
    if isinstance(subs, dict):  # a group's plain dict (a lazy table primes as it builds)
        for sub in subs.values():
            prime(sub)
