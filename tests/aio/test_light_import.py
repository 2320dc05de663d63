"""``import akindb`` stays light: the async API, export/import and the monitor load their heavy
dependencies (httpx, pyarrow, chromadb) only when used."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO


def test_import_akindb_loads_no_heavy_extra() -> None:
    code = (
        "import sys, akindb; assert callable(akindb.aopen) and callable(akindb.aconnect); "
        "print(sorted(m for m in ('httpx', 'pyarrow', 'chromadb', 'pandas', 'fastapi') "
        "if m in sys.modules))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, timeout=120, env={"PYTHONPATH": str(REPO / "src")})
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"
