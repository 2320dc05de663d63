"""Every docstring example in ``src/akindb`` runs (DESIGN rule 5: pure functions carry a worked
example). Modules are found by their ``>>>``, so a new example is run without touching this
file; a module whose examples need an optional extra is skipped, naming the extra."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"


def _modules_with_examples() -> list[str]:
    out = []
    for path in sorted((SRC / "akindb").rglob("*.py")):
        if ">>>" in path.read_text(encoding="utf-8"):
            parts = list(path.relative_to(SRC).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out.append(".".join(parts))
    return out


MODULES = _modules_with_examples()
ILLUSTRATIVE = {
    "akindb": "the quick start indexes a folder with the real model (tests/test_search_real.py)",
    "akindb.client": "the example talks to a running server (tests/server/test_parity.py)",
    "akindb.distributed": "the example starts a Ray cluster (tests/distributed/test_cluster.py)",
}
"""Modules whose examples are all ``# doctest: +SKIP`` on purpose, and where they are tested."""


def test_the_examples_are_found() -> None:
    """The walk itself works: modules known to carry examples are in the list."""
    assert {"akindb.types", "akindb.core.pca", "akindb.index.base", "akindb.eval"} <= set(MODULES)
    assert len(MODULES) >= 40
    assert set(ILLUSTRATIVE) <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    if name in ILLUSTRATIVE:
        pytest.skip(ILLUSTRATIVE[name])
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:  # an optional extra (the package names it)
        if exc.name and not exc.name.startswith("akindb"):
            pytest.skip(f"{name} needs {exc.name} (an optional extra): pip install 'akindb[...]'")
        raise
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(module, name):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted > 0, f"{name} has '>>>' but no example doctest can find"
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
