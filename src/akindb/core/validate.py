"""Input checks shared by every entry point: what may be stored, and what a caller may ask for.

Why a module of its own: bad input must fail *at the call* with an ``InvalidArgumentError``
that says what to do, never later. Issue 13's probe found values that were accepted and then
broke every read (NaN in metadata makes SQLite's JSON functions fail; a lone surrogate cannot
be encoded when a record is sent back), and Python's own errors (``TypeError``,
``OverflowError``, ``RecursionError``) reaching the caller instead of ours. The rules:

* strings must be encodable as UTF-8 (no lone surrogates: SQLite and JSON cannot carry them);
* metadata is JSON made of objects with string keys, lists, strings, booleans, ``None``,
  64-bit integers and finite floats, nested at most ``MAX_DEPTH`` deep;
* counts (``k``, ``limit``, ``offset``) are plain ``int`` (not ``bool``) within SQLite's range.

Depends only on ``akindb.errors`` so storage, the collection and the server can all use it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from akindb.errors import InvalidArgumentError

T = TypeVar("T")

MAX_DEPTH = 32
"""Deepest nesting of metadata objects/lists (and of ``$and``/``$or`` in a filter)."""

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
"""SQLite stores integers in 64 bits; a bigger Python int cannot be bound or compared."""

MAX_FILTER_VALUES = 10_000
"""Values one ``where`` filter may carry (SQLite allows 32,766 parameters per statement)."""


def utf8(value: str, what: str) -> str:
    """``value`` if it can be encoded as UTF-8, else an ``InvalidArgumentError``.

    >>> utf8("café", "text")
    'café'
    >>> utf8("a\\ud800", "id")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    akindb.errors.InvalidArgumentError: id contains a character that cannot be encoded as ...
    """
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidArgumentError(
            f"{what} contains a character that cannot be encoded as UTF-8 (a lone surrogate at "
            f"position {exc.start}); fix the text's encoding (e.g. decode bytes with "
            "errors='replace')"
        ) from None
    return value


def text(value: Any, what: str) -> str:
    """A ``str`` encodable as UTF-8."""
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{what} must be a string, not {type(value).__name__}")
    return utf8(value, what)


def doc_id(value: Any, what: str = "id") -> str:
    """A document id: a string (or an ``int``, stored as its decimal string)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise InvalidArgumentError(
            f"{what} must be a string, not {type(value).__name__} ({value!r:.40})"
        )
    return utf8(value, what)


def doc_ids(values: Sequence[Any], what: str = "ids") -> list[str]:
    """Every id checked by ``doc_id``; a single string is one id."""
    if isinstance(values, str):
        return [doc_id(values, what)]
    if isinstance(values, bytes | bytearray | Mapping) or not isinstance(values, Sequence):
        raise InvalidArgumentError(f"{what} must be a list of strings, not {type(values).__name__}")
    return [doc_id(v, f"{what}[{i}]") for i, v in enumerate(values)]


def source(value: Any, what: str) -> str | None:
    if value is None:
        return None
    return text(value, what)


def metadata(value: Any, what: str = "metadata") -> dict[str, Any]:
    """A copy of ``value`` as a plain dict, checked to be JSON every reader can read back.

    >>> metadata({"year": 2020, "tags": ["a", "b"]})
    {'year': 2020, 'tags': ['a', 'b']}
    >>> metadata({"price": float("nan")})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    akindb.errors.InvalidArgumentError: metadata['price'] is nan; metadata numbers must be ...
    """
    if not isinstance(value, Mapping):
        raise InvalidArgumentError(
            f"{what} must be a dict of field -> value, not {type(value).__name__}"
        )
    out = _json_value(value, what, 0)
    assert isinstance(out, dict)
    return out


def _json_value(value: Any, where: str, depth: int) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return utf8(value, where)
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise InvalidArgumentError(
                f"{where} = {value} does not fit in 64 bits; store it as a string"
            )
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidArgumentError(
                f"{where} is {value}; metadata numbers must be finite (store 'NaN' or null "
                "instead)"
            )
        return float(value)
    if depth >= MAX_DEPTH:
        raise InvalidArgumentError(
            f"{where} is nested more than {MAX_DEPTH} levels deep; flatten it"
        )
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise InvalidArgumentError(
                    f"{where} has a key {k!r:.40} of type {type(k).__name__}; keys must be strings"
                )
            utf8(k, f"a key of {where}")
            out[k] = _json_value(v, f"{where}[{k!r}]", depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [_json_value(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]
    raise InvalidArgumentError(
        f"{where} is a {type(value).__name__}, which JSON cannot hold; use strings, numbers, "
        "booleans, null, lists or objects"
    )


def count(value: Any, what: str, *, minimum: int = 0) -> int:
    """A plain ``int`` in ``[minimum, 2**63 - 1]`` (``k``, ``limit``, ``offset``)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidArgumentError(f"{what} must be an integer, got {value!r:.40}")
    if value < minimum or value > INT64_MAX:
        raise InvalidArgumentError(
            f"{what} must be an integer from {minimum} to {INT64_MAX}, got {value}"
        )
    return value


def k(value: Any) -> int:
    """``k`` as a positive integer (how many hits); capping to the collection is the search's."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidArgumentError(f"k must be a positive integer, got {value!r:.40}")
    return value


def filter_shape(where: Any, depth: int = 0, seen: list[int] | None = None) -> None:
    """Bound a ``where`` filter before it is compiled: depth, number of values, and strings
    that SQLite can bind (``storage.filters`` checks the grammar itself)."""
    from akindb.errors import InvalidFilterError

    seen = seen if seen is not None else [0]
    if depth > MAX_DEPTH:
        raise InvalidFilterError(f"the where filter is nested more than {MAX_DEPTH} levels deep")
    if isinstance(where, Mapping):
        for key, val in where.items():
            if isinstance(key, str):
                _filter_scalar(key, "a where key")
            filter_shape(val, depth + 1, seen)
    elif isinstance(where, list | tuple):
        for val in where:
            filter_shape(val, depth + 1, seen)
    else:
        seen[0] += 1
        if seen[0] > MAX_FILTER_VALUES:
            raise InvalidFilterError(
                f"the where filter carries more than {MAX_FILTER_VALUES} values; split the query"
            )
        _filter_scalar(where, "a where value")


def _filter_scalar(value: Any, what: str) -> None:
    from akindb.errors import InvalidFilterError

    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidFilterError(
                f"{what} contains a character that cannot be encoded as UTF-8 (a lone "
                "surrogate); fix the text's encoding"
            ) from None
    elif isinstance(value, int) and not isinstance(value, bool):
        if not INT64_MIN <= value <= INT64_MAX:
            raise InvalidFilterError(f"{what} {value} does not fit in 64 bits")
    elif isinstance(value, float) and not math.isfinite(value):
        raise InvalidFilterError(f"{what} is {value}; compare with finite numbers")


def sequences(**named: Any) -> None:
    """Each given argument is ``None`` or a list-like of items (not one string, not a dict):
    what ``add``/``upsert`` take for ``texts``, ``ids``, ``metadatas``, ``sources`` and
    ``vectors``.

    >>> sequences(ids=["a"], texts=None)
    >>> sequences(ids="a")
    Traceback (most recent call last):
    ...
    akindb.errors.InvalidArgumentError: ids must be a list, not str (wrap one item in a list)
    """
    for name, value in named.items():
        if value is None:
            continue
        if isinstance(value, str | bytes | bytearray | Mapping) or not hasattr(value, "__len__"):
            raise InvalidArgumentError(
                f"{name} must be a list, not {type(value).__name__} (wrap one item in a list)"
            )
        try:
            len(value)
        except TypeError:
            raise InvalidArgumentError(
                f"{name} must be a list, not {type(value).__name__}"
            ) from None


def utf8_named(items: Sequence[tuple[str, T]]) -> tuple[list[tuple[str, T]], list[str]]:
    """Split ``(name, value)`` pairs into those whose name can be stored (UTF-8) and the
    ``ascii()`` of those that cannot: a file name of non-UTF-8 bytes (``os.fsdecode`` makes
    them lone surrogates) is skipped and reported, instead of aborting a whole ingest.

    >>> utf8_named([("a.txt", 1), ("b-\\udcff.txt", 2)])
    ([('a.txt', 1)], ["'b-\\\\udcff.txt'"])
    """
    ok: list[tuple[str, T]] = []
    bad: list[str] = []
    for name, value in items:
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            bad.append(ascii(name))
            continue
        ok.append((name, value))
    return ok, bad
