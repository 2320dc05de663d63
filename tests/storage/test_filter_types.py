"""Issue 12.2: a ``where`` bound matches values of its own JSON type only. SQLite alone orders
every number before every string and stores JSON true as 1, so before the fix
``{"x": {"$gt": 1000}}`` matched the string "1" and ``{"x": 1}`` matched ``true``."""

from __future__ import annotations

import pytest

import akindb
from akindb import errors
from tests.conftest import HashEmbedder

META = {
    "int1": {"x": 1},
    "str1": {"x": "1"},
    "strz": {"x": "z"},
    "float": {"x": 2.5},
    "true": {"x": True},
    "false": {"x": False},
    "big": {"x": 5000},
    "list": {"x": [1, 2]},
    "none": {"x": None},
    "missing": {"y": 1},
}


@pytest.fixture
def col(tmp_db: akindb.Database) -> akindb.Collection:
    c = tmp_db.create_collection("types", model=HashEmbedder())  # type: ignore[arg-type]
    c.add([f"doc {k}" for k in META], ids=list(META), metadatas=list(META.values()))
    return c


def _ids(col: akindb.Collection, where: object) -> set[str]:
    return {r.id for r in col.get(where=where)}  # type: ignore[arg-type]


def test_numeric_bound_matches_numbers_only(col: akindb.Collection) -> None:
    assert _ids(col, {"x": {"$gt": 1000}}) == {"big"}
    assert _ids(col, {"x": {"$gte": 1}}) == {"int1", "float", "big"}
    assert _ids(col, {"x": {"$lt": 3}}) == {"int1", "float"}  # not false (0) nor true (1)
    assert _ids(col, {"x": 1}) == {"int1"}  # not "1", not true
    assert _ids(col, {"x": 1.0}) == {"int1"}  # 1 and 1.0 are the same number


def test_string_bound_matches_strings_only(col: akindb.Collection) -> None:
    assert _ids(col, {"x": {"$lt": "0"}}) == set()  # numbers sort before strings in SQLite
    assert _ids(col, {"x": {"$gt": "0"}}) == {"str1", "strz"}
    assert _ids(col, {"x": "1"}) == {"str1"}
    assert _ids(col, {"x": {"$lte": "[9"}}) == {"str1"}  # a list's JSON text is not a string


def test_booleans_are_not_numbers(col: akindb.Collection) -> None:
    assert _ids(col, {"x": True}) == {"true"}
    assert _ids(col, {"x": False}) == {"false"}
    assert _ids(col, {"x": {"$ne": True}}) == set(META) - {"true"}
    with pytest.raises(errors.InvalidFilterError, match="boolean"):
        col.get(where={"x": {"$gt": True}})


def test_ne_and_nin_keep_other_types_and_missing_keys(col: akindb.Collection) -> None:
    assert _ids(col, {"x": {"$ne": 1}}) == set(META) - {"int1"}
    assert _ids(col, {"x": {"$nin": [1, "z"]}}) == set(META) - {"int1", "strz"}


def test_in_with_a_mixed_list_matches_each_value_by_its_own_type(col: akindb.Collection) -> None:
    assert _ids(col, {"x": {"$in": [1, "1"]}}) == {"int1", "str1"}
    assert _ids(col, {"x": {"$in": [1]}}) == {"int1"}
    assert _ids(col, {"x": {"$in": [True, "z", 2.5]}}) == {"true", "strz", "float"}
    # The same typed rules hold in keyword (BM25) and hybrid search, which share the compiler.
    hits = col.search("doc", k=20, mode="keyword", where={"x": {"$gt": 1000}})
    assert {h.id for h in hits} == {"big"}
