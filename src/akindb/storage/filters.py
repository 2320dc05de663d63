"""Metadata filters (``where``) compiled to parameterised SQL over the documents' JSON metadata.

Syntax (Chroma/Mongo style)::

    {"ext": ".md"}                                  equality
    {"year": {"$gte": 2020}}                        $eq $ne $gt $gte $lt $lte $in $nin
    {"$and": [{...}, {...}]}, {"$or": [...]}        combinators; several keys = implicit $and

``$ne`` and ``$nin`` also match documents that lack the key (as in MongoDB). Keys and values
never reach the SQL text: both go in as parameters, so no filter can inject SQL.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from akindb.errors import InvalidFilterError
from akindb.validate import filter_shape

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

    >>> sql, params = compile_where({"ext": ".md", "n": {"$gt": 2}})
    >>> sql
    '(json_extract(d.metadata, ?) = ? AND json_extract(d.metadata, ?) > ?)'
    >>> params
    ['$."ext"', '.md', '$."n"', 2]
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
            parts.append(f"{expr} {_CMP[op]} ?")
            params.extend([path, _sql_value(value)])
        elif op in ("$in", "$nin"):
            if not isinstance(value, list) or not value:
                raise InvalidFilterError(f"{op} on {key!r} takes a non-empty list of values")
            for v in value:
                _check_scalar(key, op, v)
            marks = ", ".join("?" * len(value))
            if op == "$in":
                parts.append(f"{expr} IN ({marks})")
                params.extend([path, *map(_sql_value, value)])
            else:
                parts.append(f"({expr} IS NULL OR {expr} NOT IN ({marks}))")
                params.extend([path, path, *map(_sql_value, value)])
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


def _sql_value(value: Scalar) -> Scalar:
    # json_extract returns JSON true/false as 1/0.
    return int(value) if isinstance(value, bool) else value
