"""Print the OpenAPI schema: ``python -m akindb.server.openapi > docs/openapi.json``."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path


def render() -> str:
    from akindb.server.app import ServerSettings, create_app

    with tempfile.TemporaryDirectory() as d:
        app = create_app(ServerSettings(db=Path(d), auth=True))
        schema = app.openapi()
        app.state.akindb.db.close()
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
