"""All SQL lives in ``storage/`` (docs/architecture.md, invariants): no module outside it runs
a statement (``.execute``, ``.executemany``, ``.executescript``), opens a connection
(``sqlite3.connect``) or holds an SQL statement in a string. Everything else asks
``storage/`` through a function whose name says what it reads or writes, so a schema change
has one place to look and the SQL can be tested where it is."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "akindb"
RUNS_SQL = {"execute", "executemany", "executescript"}
# a string that *starts* as a statement (upper-case keywords, as the project writes SQL);
# prose that mentions VACUUM or PRAGMA mid-sentence, and HTTP's "DELETE", do not match
STATEMENT = re.compile(
    r"^\s*(SELECT\s|INSERT\s+(OR\s+[A-Z]+\s+)?INTO\s|REPLACE\s+INTO\s|UPDATE\s+\w+\s+SET\s"
    r"|DELETE\s+FROM\s|(CREATE|DROP)\s+(TABLE|INDEX|VIRTUAL|TRIGGER|VIEW|UNIQUE)\b"
    r"|ALTER\s+TABLE\s|PRAGMA\s|VACUUM\b|WITH\s+\w+\s+AS\s*\(|(BEGIN|COMMIT|ROLLBACK)\b)"
)


def _docstrings(tree: ast.AST) -> set[int]:
    """The ids of docstring nodes (prose, which may name statements)."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                out.add(id(body[0].value))
    return out


def sql_outside_storage(source: str) -> list[str]:
    """What in ``source`` (a module's text) is SQL work: ``line: what``."""
    tree = ast.parse(source)
    docs = _docstrings(tree)
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            attr = node.func.attr
            if attr in RUNS_SQL:
                found.append(f"{node.lineno}: .{attr}()")
            elif (attr == "connect" and isinstance(node.func.value, ast.Name)
                  and node.func.value.id == "sqlite3"):
                found.append(f"{node.lineno}: sqlite3.connect()")
        text = None
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            text = node.value
        elif isinstance(node, ast.JoinedStr):  # an f-string: its literal parts, holes as "?"
            text = "".join(v.value if isinstance(v, ast.Constant) else "?" for v in node.values)
        if text is not None and STATEMENT.match(text):
            found.append(f"{node.lineno}: SQL string {text[:50]!r}")
    return found


def _modules() -> list[Path]:
    return [p for p in sorted(SRC.rglob("*.py")) if "storage" not in p.relative_to(SRC).parts]


def test_no_sql_outside_storage() -> None:
    offenders = {
        str(p.relative_to(SRC)): hits
        for p in _modules()
        if (hits := sql_outside_storage(p.read_text(encoding="utf-8")))
    }
    assert not offenders, (
        "SQL outside storage/ (move it into a storage module with a named function): "
        f"{offenders}"
    )


def test_the_walk_sees_the_whole_tree() -> None:
    names = {str(p.relative_to(SRC)) for p in _modules()}
    assert {"collection/monitor.py", "retrieval/keyword.py", "backup.py"} <= names
    assert not any(n.startswith("storage/") for n in names)
    # storage itself is full of it: the check would find it there
    assert sql_outside_storage((SRC / "storage" / "keyword_index.py").read_text("utf-8"))


@pytest.mark.parametrize("source", [
    'conn.execute("SELECT 1")',
    'db.store.conn.executemany(q, rows)',
    'c.executescript(script)',
    'sqlite3.connect(path)',
    'Q = "SELECT id FROM chunks WHERE collection_id = ?"',
    'Q = (\n    "INSERT OR REPLACE INTO t(a) VALUES (?)"\n)',
    'q = f"SELECT {cols} FROM recall_monitor"',
    'q = "  DELETE FROM oplog WHERE seq < ?"',
    'x = "PRAGMA integrity_check"',
    'x = "BEGIN"',
    'x = "UPDATE documents SET metadata = ?"',
    'x = "CREATE TABLE t (a)"',
])
def test_the_check_catches(source: str) -> None:
    assert sql_outside_storage(source), source


@pytest.mark.parametrize("source", [
    '"""Copies with ``VACUUM INTO`` and checks ``PRAGMA integrity_check``."""',
    'def f():\n    """SELECT is how it reads."""',
    'client.request("DELETE", url)',
    'log.info("automatic VACUUM skipped: %s", exc)',
    'm = "Select a collection"',
    'conn = store.conn',
])
def test_the_check_passes(source: str) -> None:
    assert not sql_outside_storage(source), source
