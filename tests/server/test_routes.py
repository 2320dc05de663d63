"""The route table is pinned: every (method, path) the app serves and the key check guarding
it. A route that loses its key check, changes role, appears or disappears fails here (and the
route table in ``akindb.server.app``'s docstring, which bench/reliability/security.py attacks,
must say the same)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from akindb.server import app as app_module
from akindb.server.app import ServerSettings, create_app
from akindb.server.routing import KeyAuth, NameAuth

C = "/v1/collections/{name}"
EXPECTED: dict[tuple[str, str], str] = {
    # no key, no data
    ("GET", "/"): "none",
    ("GET", "/healthz"): "none",
    # a key; the route checks its role itself (list filters, create needs admin)
    ("GET", "/v1/collections"): "key",
    ("POST", "/v1/collections"): "key",
    # a key with this role on the collection in the path
    ("GET", C): "read",
    ("DELETE", C): "admin",
    **{("POST", f"{C}/{op}"): "write" for op in (
        "add", "upsert", "update", "add_files", "delete", "flush", "tune", "compact")},
    **{("POST", f"{C}/{op}"): "read" for op in (
        "get", "search", "search_batch", "search_vector", "search_vectors", "context",
        "more_like", "tokenize", "vectors_of", "map", "explain")},
    ("GET", f"{C}/count"): "read",
    ("GET", f"{C}/index_stats"): "read",
    ("GET", f"{C}/shards"): "read",
}
IN_BODY_ROLE = {("GET", "/v1/collections"): "read", ("POST", "/v1/collections"): "admin"}
"""The role the two ``key`` routes check in their body (the docstring table names it)."""


def _api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    """Every APIRoute, through included routers (FastAPI ≥ 0.16x keeps them as branches)."""
    for r in routes:
        if isinstance(r, APIRoute):
            yield r
        elif hasattr(r, "original_router"):
            yield from _api_routes(r.original_router.routes)


def _guards(d: Dependant) -> list[object]:
    found: list[object] = []
    for sub in d.dependencies:
        if isinstance(sub.call, (NameAuth, KeyAuth)):
            found.append(sub.call)
        found += _guards(sub)
    return found


def _served(app: FastAPI) -> dict[tuple[str, str], str]:
    out: dict[tuple[str, str], str] = {}
    for route in _api_routes(list(app.routes)):
        guards = _guards(route.dependant)
        assert len(guards) <= 1, f"{route.path}: more than one key check"
        g = guards[0] if guards else None
        auth = g.role if isinstance(g, NameAuth) else "none" if g is None else "key"
        for method in route.methods:
            assert (method, route.path) not in out, f"{method} {route.path} served twice"
            out[(method, route.path)] = auth
    return out


def test_every_route_and_its_key_check_is_pinned(tmp_path: Path) -> None:
    app = create_app(ServerSettings(db=tmp_path / "db", auth=True))
    try:
        served = _served(app)
        schema = app.openapi()
    finally:
        app.state.akindb.db.close()
    assert served == EXPECTED
    # the schema documents exactly the served routes but the page shell
    documented = {(m.upper(), p) for p, ops in schema["paths"].items() for m in ops}
    assert documented == set(EXPECTED) - {("GET", "/")}
    # every keyed operation advertises the key schemes
    for (method, path), auth in EXPECTED.items():
        if auth != "none":
            op = schema["paths"][path][method.lower()]
            assert op.get("security"), f"{method} {path} does not document its key"


def test_docstring_route_table_matches_the_app() -> None:
    doc = app_module.__doc__ or ""
    table = {(m[1], m[2]): m[3] for m in re.finditer(
        r"^(GET|POST|DELETE|PUT)\s+(/v1/\S*)\s+.*?\s(read|write|admin)\s*$", doc, re.M)}
    keyed = {k: v for k, v in EXPECTED.items() if v != "none"}
    assert set(table) == set(keyed)
    for route, role in table.items():
        assert role == IN_BODY_ROLE.get(route, keyed[route]), route


def test_name_auth_refuses_an_unknown_role(tmp_path: Path) -> None:
    app = create_app(ServerSettings(db=tmp_path / "db", auth=True))
    try:
        with pytest.raises(ValueError, match="owner"):
            NameAuth(app.state.akindb, "owner")
    finally:
        app.state.akindb.db.close()
