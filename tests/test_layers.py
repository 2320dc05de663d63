"""The layers of ``src/akindb`` (../shared/DESIGN.md section 2, docs/architecture.md), as data.

Every import of every module is read with ``ast`` (top-level, ``TYPE_CHECKING`` and
in-function ones alike: a late import is still a dependency) and checked against three rules:

* **direction**: a module may import only the layers its own layer lists in ``MAY_IMPORT``;
* **no circles**: the module graph has no cycle (a cycle kept alive by a late import is a knot);
* **size**: no module over ``MAX_LINES`` lines (two ideas share a room: split it).

To move a module or add a layer, change ``LAYER_OF`` / ``MAY_IMPORT`` here, in the same commit
as the code, and say why. ``KNOWN_VIOLATIONS`` lists what is still wrong today; an entry that no
longer happens fails the test too, so the list can only shrink.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "akindb"
MAX_LINES = 450

# Which layer each module belongs to: the longest matching dotted prefix wins. A module that
# matches nothing fails the test, so every new module is placed on purpose.
LAYER_OF: dict[str, str] = {
    # the floor: value types, the error tree, atomic file writes, the collection protocol
    "akindb.errors": "floor",
    "akindb.types": "floor",
    "akindb.atomic": "floor",
    # pure numpy, no IO
    "akindb.core": "core",
    # the four siblings: never import each other
    "akindb.text": "text",
    "akindb.models": "models",
    "akindb.index": "index",
    "akindb.storage": "storage",
    # the collection package and retrieval, which takes the collection's parts; akindb.db and
    # akindb.ingest re-export akindb.collection.database / .ingest for existing imports
    "akindb.collection": "collection",
    "akindb.db": "collection",
    "akindb.ingest": "collection",
    "akindb.retrieval": "retrieval",
    # the collection contract (above what it names: results, requests, contexts)
    "akindb.protocol": "protocol",
    # what the HTTP server and the HTTP clients share: error codes, JSON decoders
    "akindb.wire": "wire",
    # keeping data for years: export/import, backup/restore, doctor/dupes, model migration
    "akindb.transfer": "ops",
    "akindb.backup": "ops",
    "akindb.hygiene": "ops",
    "akindb.migrate": "ops",
    # surfaces
    "akindb.client": "client",
    "akindb.upload": "client",
    "akindb.aio": "aio",
    "akindb.distributed": "distributed",
    "akindb.cli": "cli",
    "akindb.server": "server",
    # tools on top of the library, used by cli/ and server/ only
    "akindb.eval": "eval",
    "akindb.viz": "viz",
    # the package root: the public facade (matched exactly, not as a prefix)
    "akindb": "facade",
}

_FLOOR = {"floor"}
_CORE = _FLOOR | {"core"}
_LIBRARY = _CORE | {"text", "models", "index", "storage", "collection", "retrieval"}

_TOOLS = {"ops", "protocol", "eval", "viz", "facade"}

# Which layers a module of each layer may import (its own layer included where listed).
MAY_IMPORT: dict[str, set[str]] = {
    "floor": _FLOOR,
    "core": _CORE,
    "text": _CORE | {"text"},
    "models": _CORE | {"models"},
    "index": _CORE | {"index"},
    "storage": _CORE | {"storage"},
    "collection": _LIBRARY,
    "retrieval": _LIBRARY,
    "protocol": _LIBRARY,
    "wire": _LIBRARY | {"wire"},
    "ops": _LIBRARY | {"ops"},
    # the client never imports the server: both use the shared wire module below them
    "client": _LIBRARY | {"client", "wire", "protocol"},
    "aio": _LIBRARY | {"aio", "client", "wire", "protocol", "facade"},
    "distributed": _LIBRARY | {"distributed", "client", "protocol", "facade"},
    "eval": _LIBRARY | {"eval", "facade"},
    "viz": _LIBRARY | {"viz", "facade"},
    # nothing imports cli/ or server/; cli/ starts the server (``akindb serve``); the server
    # serves a Ray cluster's collections (``akindb serve --cluster``: server.cluster_state)
    "server": _LIBRARY | _TOOLS | {"server", "wire", "client", "distributed"},
    "cli": _LIBRARY | _TOOLS | {"cli", "server", "client", "wire", "distributed"},
    "facade": _LIBRARY | _TOOLS | {"client", "aio", "distributed"},
}

# What is still wrong, each with the reason it stays for now. Delete an entry when it is fixed
# (the test fails until you do). Kinds: "import: A -> B", "circle: A, B, ..." (the members of
# one strongly connected component, sorted), "size: A".
KNOWN_VIOLATIONS: set[str] = set()  # none today


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted((SRC / PACKAGE).rglob("*.py"))}


def layer_of(module: str) -> str | None:
    if module == PACKAGE:
        return LAYER_OF[PACKAGE]
    parts = module.split(".")
    for n in range(len(parts), 1, -1):
        layer = LAYER_OF.get(".".join(parts[:n]))
        if layer is not None:
            return layer
    return None


def _resolve(base: str, name: str, modules: dict[str, Path]) -> str:
    """``from base import name``: the submodule when ``name`` is one, else ``base`` itself."""
    sub = f"{base}.{name}"
    return sub if sub in modules else base


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """Every ``akindb`` module that ``module`` imports, anywhere in its body, with the line."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == PACKAGE or alias.name.startswith(PACKAGE + "."):
                    yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                here = module.split(".") if is_package else module.split(".")[:-1]
                up = here[: len(here) - (node.level - 1)]
                base = ".".join(up + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if base != PACKAGE and not base.startswith(PACKAGE + "."):
                continue
            for alias in node.names:
                yield _resolve(base, alias.name, modules), node.lineno


def import_graph() -> dict[str, dict[str, int]]:
    modules = all_modules()
    graph: dict[str, dict[str, int]] = {}
    for mod, path in modules.items():
        edges = graph.setdefault(mod, {})
        for target, line in imports_of(mod, path, modules):
            if target != mod:
                edges.setdefault(target, line)
    return graph


def strongly_connected(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Tarjan's algorithm (iterative): the components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = []
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        work.append((root, iter(sorted(graph.get(root, {})))))
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in graph:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp: list[str] = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    comp.append(top)
                    if top == node:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def violations() -> dict[str, str]:
    """Every violation today: its key (as in ``KNOWN_VIOLATIONS``) and where it happens."""
    modules = all_modules()
    graph = import_graph()
    found: dict[str, str] = {}
    for mod, edges in sorted(graph.items()):
        src_layer = layer_of(mod)
        for target, line in sorted(edges.items()):
            dst_layer = layer_of(target)
            if src_layer is None or dst_layer is None:
                continue  # reported by test_every_module_has_a_layer
            if dst_layer not in MAY_IMPORT[src_layer]:
                where = f"{modules[mod].relative_to(SRC)}:{line} ({src_layer} -> {dst_layer})"
                found[f"import: {mod} -> {target}"] = where
    for comp in strongly_connected(graph):
        path = " -> ".join(f"{a} (line {graph[a][b]})" for a, b in _cycle_in(comp, graph))
        found["circle: " + ", ".join(comp)] = path
    for mod, path in modules.items():
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > MAX_LINES:
            found[f"size: {mod}"] = f"{path.relative_to(SRC)} has {n} lines (max {MAX_LINES})"
    return found


def _cycle_in(comp: list[str], graph: dict[str, dict[str, int]]) -> list[tuple[str, str]]:
    """One concrete cycle through the component's first module, as (from, to) edges."""
    members = set(comp)
    start = comp[0]
    prev: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt: list[str] = []
        for node in frontier:
            for child in sorted(graph[node]):
                if child == start:
                    edges = [(node, start)]
                    while node != start:
                        edges.append((prev[node], node))
                        node = prev[node]
                    return edges[::-1]
                if child in members and child not in prev:
                    prev[child] = node
                    nxt.append(child)
        frontier = nxt
    return []


def test_every_module_has_a_layer() -> None:
    modules = all_modules()
    unplaced = [m for m in modules if layer_of(m) is None]
    assert not unplaced, f"place these modules in LAYER_OF: {unplaced}"
    assert set(LAYER_OF.values()) <= set(MAY_IMPORT), "every layer needs a MAY_IMPORT row"
    # a row for a module or package that is gone is stale: the table describes today's tree
    stale = [p for p in LAYER_OF if not any(m == p or m.startswith(p + ".") for m in modules)]
    planned = {"akindb.protocol", "akindb.aio", "akindb.distributed"}  # issue 11 and the next
    assert set(stale) <= planned, f"LAYER_OF names modules that do not exist: {stale}"


def test_imports_follow_the_layers() -> None:
    found = violations()
    new = {k: v for k, v in found.items() if k not in KNOWN_VIOLATIONS}
    assert not new, "imports against the layers, circles or oversized modules:\n" + "\n".join(
        f"  {k}\n      at {v}" for k, v in sorted(new.items())
    )


def test_known_violations_still_exist() -> None:
    """The allow-list only shrinks: a fixed violation must be deleted from it."""
    gone = sorted(KNOWN_VIOLATIONS - set(violations()))
    assert not gone, f"fixed, so delete from KNOWN_VIOLATIONS: {gone}"


# The checker itself, on small made-up graphs (so a broken walker cannot pass silently).


def test_checker_finds_a_circle() -> None:
    graph = {"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3}, "d": {"a": 4}}
    assert strongly_connected(graph) == [["a", "b", "c"]]
    assert _cycle_in(["a", "b", "c"], graph) == [("a", "b"), ("b", "c"), ("c", "a")]
    assert strongly_connected({"a": {"b": 1}, "b": {}}) == []


@pytest.mark.parametrize(
    ("module", "layer"),
    [
        ("akindb", "facade"),
        ("akindb.collection.maintenance", "collection"),
        ("akindb.db", "collection"),
        ("akindb.index.hnsw", "index"),
        ("akindb.types", "floor"),
        ("akindb.server.app", "server"),
        ("akindb.nowhere", None),
    ],
)
def test_layer_lookup(module: str, layer: str | None) -> None:
    assert layer_of(module) == layer


def test_walker_sees_late_and_type_checking_imports(tmp_path: Path) -> None:
    code = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from akindb.collection import Collection\n"
        "def f():\n"
        "    import akindb.server.app\n"
        "    from akindb import errors\n"
        "    from . import sibling\n"
    )
    path = tmp_path / "m.py"
    path.write_text(code)
    mods = {"akindb.errors": path, "akindb.index.sibling": path}
    got = sorted(imports_of("akindb.index.m", path, mods))
    assert got == [
        ("akindb.collection", 3),
        ("akindb.errors", 6),
        ("akindb.index.sibling", 7),
        ("akindb.server.app", 5),
    ]
