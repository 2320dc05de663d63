"""The published anchor: all-MiniLM-L6-v2 scores nDCG@10 0.3159 on NFCorpus test (MTEB).
Through our whole stack (loader, chunk-free MTEB-style indexing, ONNX model, SQLite, flat
search, metrics) we must land within ±0.003. Embeds 3,633 abstracts: minutes, so marked slow
(CI runs it after the default suite)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from akindb.cli.main import app
from tests.conftest import shared_data


@pytest.mark.slow
def test_nfcorpus_ndcg_matches_published_minilm() -> None:
    res = CliRunner().invoke(app, ["eval", "beir", str(shared_data() / "ir" / "nfcorpus"),
                                   "--json"])
    assert res.exit_code == 0, res.output
    m = json.loads(res.stdout)
    assert m["queries"] == 323 and m["docs"] == 3633
    assert m["ndcg@10"] == pytest.approx(0.3159, abs=0.003)
