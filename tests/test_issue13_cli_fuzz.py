"""Defects found by fuzzing the CLI's arguments (bench/reliability/fuzz_cli.py, issue 13)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

import akindb
from akindb.cli.main import app


def test_monitor_off_on_a_flat_collection_is_not_an_assertion_error(tmp_path: Path) -> None:
    db = tmp_path / "db"
    with akindb.open(db) as d:
        d.create_collection("default", model=None, dim=3).add(vectors=[[1, 0, 0]], ids=["x"])
    for args in (["--off"], ["--rate", "0.5"], ["-k", "5", "--json"]):
        res = CliRunner().invoke(app, ["monitor", "--db", str(db), *args])
        assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
        assert res.exit_code == 0, res.output
        assert "flat index" in res.output or res.output.strip() == "null"


def test_json_error_naming_a_non_utf8_path_prints_valid_json(tmp_path: Path) -> None:
    import json

    bad = str(tmp_path / "\udcff\udcfe")  # a non-UTF-8 name, as argv carries it
    res = CliRunner().invoke(app, ["collections", "info", "x", "--db", bad, "--json"])
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    assert res.exit_code != 0
    err = json.loads(res.output)["error"]
    assert "\udcff" in err["message"] and err["code"]
