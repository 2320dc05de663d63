"""One tool, one set of conventions (issue 12.12-12.14, 13.7, 13.11): every command takes
``--json`` and then reports errors as JSON too, every command on a database takes ``--db``,
user text and error text print literally (square brackets included), and bad arguments or
paths get a clear error and an exit code that says what happened, never a traceback."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

import akindb
from akindb.cli.common import handled
from akindb.cli.main import app
from akindb.errors import MissingExtraError
from tests.conftest import REPO

runner = CliRunner()

# Commands that read or write no database: a word-vector folder, a file, or a model folder.
NO_DATABASE = {"similar", "analogy", "eval words", "eval sts", "train sentence",
               # the model catalog and the Ray cluster are not databases
               "models list", "models add", "cluster up", "cluster down", "cluster status"}


def _commands() -> dict[str, Any]:
    root = typer.main.get_command(app)
    ctx = root.make_context("akindb", ["--help"], resilient_parsing=True)
    found: dict[str, Any] = {}

    def walk(cmd: Any, path: list[str]) -> None:
        if hasattr(cmd, "list_commands"):
            for name in cmd.list_commands(ctx):
                walk(cmd.get_command(ctx, name), [*path, name])
        else:
            found[" ".join(path)] = cmd

    walk(root, [])
    return found


def test_every_command_takes_json_and_every_database_command_takes_db() -> None:
    cmds = _commands()
    assert {"serve", "keys revoke", "collections drop", "search", "eval words"} <= set(cmds)
    for name, cmd in cmds.items():
        opts = {o for p in cmd.params for o in p.opts}
        assert "--json" in opts, f"akindb {name} lacks --json"
        if name not in NO_DATABASE:
            assert "--db" in opts, f"akindb {name} lacks --db"


def _json_error(res: Any) -> dict[str, Any]:
    lines = [ln for ln in res.stdout.splitlines() if ln.strip()]
    body = json.loads(lines[-1])
    assert set(body) == {"error"} and {"code", "message", "exit"} <= set(body["error"])
    assert body["error"]["exit"] == res.exit_code
    return body["error"]  # type: ignore[no-any-return]


def test_errors_are_json_under_json(tmp_path: Path) -> None:
    res = runner.invoke(app, ["search", "x", "--db", str(tmp_path / "none"), "--json"])
    assert res.exit_code == 3 and _json_error(res)["code"] == "database_not_found"
    res = runner.invoke(app, ["collections", "--db", str(tmp_path / "none"), "--json"])
    assert res.exit_code == 3 and _json_error(res)["code"] == "database_not_found"
    res = runner.invoke(app, ["tune", "--db", str(tmp_path / "none"), "--json"])
    assert _json_error(res)["code"] == "database_not_found"
    res = runner.invoke(app, ["index", str(tmp_path), "--db", str(tmp_path / "d"),
                              "--index-params", "{nope", "--json"])
    assert res.exit_code == 2 and "--index-params" in _json_error(res)["message"]


def test_usage_errors_are_json_under_json() -> None:
    """A missing argument is found by click before any command runs: main() reports it."""
    res = subprocess.run(
        [sys.executable, "-m", "akindb.cli.main", "search", "--json"],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )
    assert res.returncode == 2 and "Traceback" not in res.stderr
    body = json.loads(res.stdout)
    assert body["error"]["code"] == "usage_error" and "query" in body["error"]["message"]


@pytest.fixture
def bracket_db(tmp_path: Path) -> Path:
    """A vectors-only collection (no model to load) with brackets in an id and a source."""
    with akindb.open(tmp_path / "db") as db:
        col = db.create_collection("default", model=None, dim=4)
        col.add(ids=["report[v1].md"], texts=["the [bold]first[/] report"],
                sources=["reports/report[v1].md"],
                vectors=np.eye(4, dtype=np.float32)[:1])
    return tmp_path / "db"


def test_user_text_keeps_its_square_brackets(bracket_db: Path) -> None:
    res = runner.invoke(app, ["get", "report[v1].md", "--db", str(bracket_db)])
    assert res.exit_code == 0, res.output
    assert "report[v1].md  source=reports/report[v1].md" in res.stdout
    assert "the [bold]first[/] report" in res.stdout
    res = runner.invoke(app, ["get", "gone[v2].md", "--db", str(bracket_db)])
    assert res.exit_code == 3 and "gone[v2].md" in res.stderr


def test_markup_in_an_argument_does_not_crash(bracket_db: Path) -> None:
    res = runner.invoke(app, ["search", "vitamin", "-c", "[/x]", "--db", str(bracket_db)])
    assert res.exit_code == 2, res.output
    assert isinstance(res.exception, SystemExit)  # a clean exit, not a MarkupError
    assert "invalid collection name '[/x]'" in res.stderr
    res = runner.invoke(app, ["collections", "info", "[red]x[/red]", "--db", str(bracket_db)])
    assert res.exit_code in (2, 3) and "[red]x[/red]" in res.stderr


def test_error_text_keeps_its_square_brackets() -> None:
    """MissingExtraError names ``pip install 'akindb[train]'``; the brackets were eaten."""
    mini = typer.Typer()

    @mini.command()
    def boom(json_out: bool = typer.Option(False, "--json")) -> None:
        with handled():
            raise MissingExtraError("train", "fine-tuning")

    @mini.command()
    def other() -> None:
        pass

    res = runner.invoke(mini, ["boom"])
    assert res.exit_code == 4 and "pip install 'akindb[train]'" in res.stderr
    res = runner.invoke(mini, ["boom", "--json"])
    assert json.loads(res.stdout)["error"] == {
        "code": "missing_extra", "exit": 4,
        "message": "fine-tuning needs an optional dependency: pip install 'akindb[train]'",
    }


def test_help_text_keeps_its_square_brackets() -> None:
    """Every ``[word]`` written in a command's help shows up in its rendered --help."""
    for name, cmd in _commands().items():
        texts = [cmd.help or ""] + [getattr(p, "help", None) or "" for p in cmd.params]
        wanted = {m.replace("\\[", "[") for t in texts
                  for m in re.findall(r"\\?\[[a-z#/@][^\[\]\s]*\]", t)}
        if not wanted:
            continue
        res = runner.invoke(app, [*name.split(), "--help"], terminal_width=200)
        flat = " ".join(res.stdout.split())
        for w in wanted:
            assert w in flat, f"akindb {name} --help lost {w!r}"


def test_non_utf8_argument_is_a_clear_error(bracket_db: Path) -> None:
    """Bytes that are not UTF-8 arrive as lone surrogates (``surrogateescape``)."""
    res = subprocess.run(
        [sys.executable, "-m", "akindb.cli.main", "search", b"caf\xe9 \xff".decode(
            "utf-8", "surrogateescape"), "--db", str(bracket_db)],
        capture_output=True, timeout=120, cwd=REPO,
    )
    err = res.stderr.decode("utf-8", "replace")
    assert res.returncode == 2 and "Traceback" not in err, err
    assert "not valid UTF-8" in err and "\\xe9" in err


@pytest.mark.parametrize("cmd", [["keys", "list"], ["keys", "revoke", "k1"],
                                 ["keys", "create", "--role", "read", "--collections", "*"]])
def test_keys_on_a_file_instead_of_a_database_directory(cmd: list[str]) -> None:
    res = runner.invoke(app, [*cmd, "--db", "/dev/null"])
    assert res.exit_code == 2 and isinstance(res.exception, SystemExit)
    assert "/dev/null is not a directory" in res.stderr
    res = runner.invoke(app, [*cmd, "--db", "/dev/null", "--json"])
    assert "not a directory" in _json_error(res)["message"]


def test_serve_on_a_busy_port_says_so(bracket_db: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        res = runner.invoke(app, ["serve", "--db", str(bracket_db), "--no-auth",
                                  "--port", str(port)])
        assert res.exit_code == 6, res.output
        assert f"port {port} on 127.0.0.1 is already in use" in res.stderr
        res = runner.invoke(app, ["serve", "--db", str(bracket_db), "--no-auth",
                                  "--port", str(port), "--json"])
        assert _json_error(res)["code"] == "port_in_use"


def test_serve_on_a_missing_database_says_so(tmp_path: Path) -> None:
    res = runner.invoke(app, ["serve", "--db", str(tmp_path / "typo")])
    assert res.exit_code == 3
    assert "no akindb database at" in res.stderr and "keys.toml" not in res.stderr
    assert not (tmp_path / "typo").exists()


def test_collections_drop_and_keys_revoke_speak_json(bracket_db: Path) -> None:
    res = runner.invoke(app, ["collections", "drop", "default", "--db", str(bracket_db),
                              "--json"])
    assert res.exit_code == 2 and "--yes" in _json_error(res)["message"]
    res = runner.invoke(app, ["collections", "drop", "default", "--db", str(bracket_db),
                              "--json", "--yes"])
    assert res.exit_code == 0 and json.loads(res.stdout) == {"dropped": "default"}
    made = json.loads(runner.invoke(app, ["keys", "create", "--db", str(bracket_db), "--role",
                                          "read", "--collections", "*", "--json"]).stdout)
    res = runner.invoke(app, ["keys", "revoke", made["id"], "--db", str(bracket_db), "--json"])
    assert json.loads(res.stdout) == {"revoked": made["id"]}


def test_eval_words_finds_shared_data_or_says_how(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from akindb.cli.word_commands import _data_dir

    monkeypatch.delenv("AKINDB_EVAL_DATA", raising=False)
    project = tmp_path / "work"
    (project / "shared" / "data" / "word_analogy").mkdir(parents=True)
    (project / "shared" / "data" / "word_analogy" / "questions-words.txt").write_text(": x\n")
    (project / "repo" / "sub").mkdir(parents=True)
    monkeypatch.chdir(project / "repo" / "sub")
    assert _data_dir(None) == project / "shared" / "data"
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("AKINDB_EVAL_DATA", str(empty))  # the search above depends on the disk
    with pytest.raises(typer.Exit):
        _data_dir(None)
    res = runner.invoke(app, ["eval", "words", "--model", str(tmp_path), "--json"])
    assert res.exit_code != 0 and "Traceback" not in res.output
