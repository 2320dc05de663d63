"""docs/openapi.json is the committed schema; regenerate with
``python -m akindb.server.openapi > docs/openapi.json`` when this fails."""

from __future__ import annotations

import json

from akindb.server.openapi import render
from tests.conftest import REPO


def test_openapi_is_current() -> None:
    committed = (REPO / "docs" / "openapi.json").read_text()
    assert json.loads(committed) == json.loads(render()), (
        "docs/openapi.json is stale: python -m akindb.server.openapi > docs/openapi.json"
    )
