"""Metadata filters (``where``) compiled to parameterised SQL over the documents' JSON metadata.

Syntax (Chroma/Mongo style)::

    {"ext": ".md"}                                  equality
    {"year": {"$gte": 2020}}                        $eq $ne $gt $gte $lt $lte $in $nin
    {"$and": [{...}, {...}]}, {"$or": [...]}        combinators; several keys = implicit $and

``$ne`` and ``$nin`` also match documents that lack the key (as in MongoDB). Keys and values
never reach the SQL text: both go in as parameters, so no filter can inject SQL.

Comparisons never cross types (SQLite alone would order every number before every string, so
``{"x": {"$gt": 1000}}`` would match the string ``"1"``). The bound's type picks what can match:

- a number (int or float) matches numbers only; ``true``/``false`` are not numbers;
- a string matches strings only, compared by code point;
- a boolean matches that boolean only, and only with ``$eq``/``$ne``/``$in``/``$nin``
  (``$gt`` on a boolean is an error: booleans have no order).

``$in``/``$nin`` may mix types: each listed value matches by its own type, so
``{"x": {"$in": [1, "1"]}}`` matches the number 1 and the string "1", and ``{"x": {"$nin": [1]}}``
keeps the string "1". ``$ne`` is the negation of ``$eq``: ``{"x": {"$ne": 1}}`` keeps
``"1"``, ``true`` and documents without ``x``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from akindb.core.validate import filter_shape
from akindb.errors import InvalidFilterError

Scalar = str | int | float | bool
_CMP = {"$eq": "=", "$ne": "IS NOT", "$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
_OPS = sorted([*_CMP, "$in", "$nin"])


def parse_where(where: str | Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """Accept a dict or a JSON string (the CLI's ``--where``); validate it fully."""
    if where is None:
        return None
    if isinstance(where, str):
        try:
            where = json.loads(where)
        except json.JSONDecodeError as exc:
            raise InvalidFilterError(
                f"--where is not valid JSON ({exc.msg} at column {exc.colno}); "
                'example: \'{"ext": ".md"}\''
            ) from None
        except RecursionError:
            raise InvalidFilterError("--where is nested too deeply; flatten the filter") from None
    if not isinstance(where, Mapping):
        raise InvalidFilterError('a where filter must be a JSON object like {"ext": ".md"}')
    filter_shape(where)
    compile_where(where)
    return where


def compile_where(where: Mapping[str, Any], column: str = "d.metadata") -> tuple[str, list[Any]]:
    """SQL boolean expression and parameters for ``where``.

    Every comparison first checks the field's JSON type (see the module docstring):

    >>> sql, params = compile_where({"n": {"$gt": 2}})
    >>> sql.replace("d.metadata", "m")
    "(IFNULL(json_type(m, ?), '') IN ('integer', 'real') AND json_extract(m, ?) > ?)"
    >>> params
    ['$."n"', '$."n"', 2]
    """
    if not isinstance(where, Mapping) or not where:
        raise InvalidFilterError('a where filter must be a non-empty object like {"ext": ".md"}')
    parts: list[str] = []
    params: list[Any] = []
    for key, cond in where.items():
        if key in ("$and", "$or"):
            if not isinstance(cond, list) or not cond:
                raise InvalidFilterError(f"{key} takes a non-empty list of filters")
            subs = [compile_where(c, column) for c in cond]
            joiner = " AND " if key == "$and" else " OR "
            parts.append("(" + joiner.join(s for s, _ in subs) + ")")
            for _, p in subs:
                params.extend(p)
            continue
        if not isinstance(key, str) or not key or key.startswith("$") or '"' in key:
            raise InvalidFilterError(
                f"invalid filter key {key!r}: use a metadata field name, or $and / $or"
            )
        path = '$."' + key + '"'
        expr = f"json_extract({column}, ?)"
        if not isinstance(cond, Mapping):
            cond = {"$eq": cond}
        if len(cond) != 1:
            raise InvalidFilterError(
                f'filter on {key!r} must have exactly one operator, e.g. {{"$gt": 3}}'
            )
        ((op, value),) = cond.items()
        if op in _CMP:
            _check_scalar(key, op, value)
            if op in ("$eq", "$ne"):
                sql, ps = _typed_eq(column, path, value)
                sql = sql if op == "$eq" else f"NOT {sql}"
            else:
                if isinstance(value, bool):
                    raise InvalidFilterError(
                        f"{op} on {key!r} compares with a boolean, which has no order; "
                        "use a number or a string, or $eq/$ne for booleans"
                    )
                kinds = _TEXT if isinstance(value, str) else _NUMBER
                sql = f"(IFNULL(json_type({column}, ?), '') IN ({kinds}) AND {expr} {_CMP[op]} ?)"
                ps = [path, path, value]
            parts.append(sql)
            params.extend(ps)
        elif op in ("$in", "$nin"):
            if not isinstance(value, list) or not value:
                raise InvalidFilterError(f"{op} on {key!r} takes a non-empty list of values")
            alts: list[str] = []
            for v in value:
                _check_scalar(key, op, v)
                sql, ps = _typed_eq(column, path, v)
                alts.append(sql)
                params.extend(ps)
            any_sql = "(" + " OR ".join(alts) + ")"
            parts.append(any_sql if op == "$in" else f"NOT {any_sql}")
        else:
            raise InvalidFilterError(
                f"unknown operator {op!r} on {key!r}; use one of: {', '.join(_OPS)}"
            )
    sql = parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"
    return sql, params


def _check_scalar(key: str, op: str, value: Any) -> None:
    if not isinstance(value, str | int | float | bool):
        raise InvalidFilterError(
            f"{op} on {key!r} compares with {value!r}; use a string, number or boolean"
        )


_NUMBER = "'integer', 'real'"
_TEXT = "'text'"


def _typed_eq(column: str, path: str, value: Scalar) -> tuple[str, list[Any]]:
    """SQL that is true when the field holds ``value`` with the same JSON type, false otherwise.

    Never NULL (a missing key is ``''`` through IFNULL), so ``NOT`` of it keeps documents that
    lack the key, as ``$ne``/``$nin`` promise.

    >>> _typed_eq("m", '$."x"', True)
    ("(IFNULL(json_type(m, ?), '') = ?)", ['$."x"', 'true'])
    >>> _typed_eq("m", '$."x"', 2)[1]
    ['$."x"', '$."x"', 2]
    """
    kind = "IFNULL(json_type(" + column + ", ?), '')"
    if isinstance(value, bool):
        return f"({kind} = ?)", [path, "true" if value else "false"]
    kinds = _TEXT if isinstance(value, str) else _NUMBER
    return f"({kind} IN ({kinds}) AND json_extract({column}, ?) = ?)", [path, path, value]
