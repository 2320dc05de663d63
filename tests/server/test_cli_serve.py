"""`akindb keys` and the refusals of `akindb serve` (the serving itself is exercised by
test_concurrency.py with the real command in a subprocess)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from akindb.cli.main import app
from akindb.server.auth import KeyStore

runner = CliRunner()


def test_keys_create_list_revoke(tmp_path: Path) -> None:
    db = str(tmp_path / "db")
    res = runner.invoke(app, ["keys", "create", "--db", db, "--role", "write",
                              "--collections", "docs,notes", "--json"])
    assert res.exit_code == 0, res.output
    made = json.loads(res.stdout)
    assert made["key"].startswith("akdb_") and made["collections"] == ["docs", "notes"]
    assert KeyStore.for_db(tmp_path / "db").check(made["key"]).key is not None
    listed = runner.invoke(app, ["keys", "list", "--db", db])
    assert made["id"] in listed.stdout and made["key"] not in listed.stdout
    assert runner.invoke(app, ["keys", "revoke", made["id"], "--db", db]).exit_code == 0
    assert KeyStore.for_db(tmp_path / "db").check(made["key"]).code == "invalid_api_key"
    bad = runner.invoke(app, ["keys", "create", "--db", db, "--role", "root",
                              "--collections", "x"])
    assert bad.exit_code == 2 and "read, write, admin" in bad.output
    bad = runner.invoke(app, ["keys", "create", "--db", db, "--role", "read",
                              "--collections", "../etc"])
    assert bad.exit_code == 2


def test_serve_refuses_no_auth_off_loopback_and_keyless_start(tmp_path: Path) -> None:
    db = str(tmp_path / "db")
    res = runner.invoke(app, ["serve", "--db", db, "--host", "0.0.0.0", "--no-auth", "--create"])
    assert res.exit_code == 2 and "refused" in res.output
    res = runner.invoke(app, ["serve", "--db", db, "--port", "1", "--create"])
    assert res.exit_code == 2 and "akindb keys create" in res.output


def test_settings_travel_to_workers_as_json(monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    from akindb.errors import InvalidArgumentError
    from akindb.server.app import app_from_env
    from akindb.server.state import SETTINGS_ENV, ServerSettings
    from tests.server.conftest import EMBEDDER

    s = ServerSettings(db=tmp_path / "db", auth=False, key_file=tmp_path / "k.toml",
                       max_body_bytes=1234, fast_lane_ms=0, search_threads=2, warm=False)
    assert ServerSettings.from_json(s.to_json()) == s
    with pytest.raises(InvalidArgumentError, match="embedders"):
        ServerSettings(db=tmp_path, embedders=(EMBEDDER,)).to_json()
    monkeypatch.delenv(SETTINGS_ENV, raising=False)
    with pytest.raises(InvalidArgumentError, match="akindb serve"):
        app_from_env()
    monkeypatch.setenv(SETTINGS_ENV, s.to_json())
    app = app_from_env()
    try:
        assert app.state.akindb.settings == s
    finally:
        app.state.akindb.db.close()

