"""A fresh ``akindb search`` pays only for what search needs (issue 14, cold CLI): it builds
only the ``search`` command (lazy root group), converts its options without pydantic
(``cli/coercion.py``), and prints without rich. These tests guard that structurally (which
modules a fresh process loads), not by timing, and check that the lazy root and the plain
conversions change nothing a user sees."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import pytest
import typer
import typer.main

from akindb.cli import main as cli_main
from akindb.cli.coercion import prime
from akindb.cli.lazy_group import LazyCommands, eager_app
from tests.conftest import REPO

SRC = REPO / "src"

# What ``akindb search`` may load of the CLI: the root, its plumbing and search's own module.
SEARCH_CLI_MODULES = {
    "akindb.cli", "akindb.cli.main", "akindb.cli.common", "akindb.cli.lazy_group",
    "akindb.cli.coercion", "akindb.cli.commands", "akindb.cli.cluster_options",
    "akindb.cli.plain",
}


def _loaded_by(args: list[str], env_extra: dict[str, str] | None = None) -> tuple[str, list[str]]:
    """Run ``akindb ARGS`` in a fresh interpreter; its stdout and the modules it loaded."""
    code = (
        "import sys\n"
        f"sys.argv = ['akindb', *{args!r}]\n"
        "from akindb.cli.main import main\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "sys.stdout.flush()\n"
        "print('\\nLOADED', ' '.join(sorted(sys.modules)))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC), **(env_extra or {})}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    body, _, loaded = out.stdout.rpartition("\nLOADED ")
    return body, loaded.split()


@pytest.fixture(scope="module")
def real_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import akindb

    where = tmp_path_factory.mktemp("cold") / "db"
    with akindb.open(where) as db:
        db.create_collection("c").add(
            ["red apples and green pears [ripe]", "a blue sky over the sea"], ids=["a", "b"],
            metadatas=[{"source": "fruit.md"}, {"source": "sky.md"}])
    return where


@pytest.mark.parametrize("json_out", [False, True])
def test_cli_search_loads_no_pydantic_no_rich_and_no_other_command(
    real_db: Path, json_out: bool
) -> None:
    """Before: pydantic (typer's converters), rich and all 15 command modules were loaded."""
    args = ["search", "apples", "--db", str(real_db), "--collection", "c", "--mode", "vector",
            "-k", "2", "--min-score", "-1"] + (["--json"] if json_out else [])
    body, loaded = _loaded_by(args)
    assert ("red apples and green pears [ripe]" in body) and ("blue sky" in body)
    assert not [m for m in loaded if m.split(".")[0] in ("pydantic", "pydantic_core", "rich")]
    cli = {m for m in loaded if m == "akindb.cli" or m.startswith("akindb.cli.")}
    assert cli <= SEARCH_CLI_MODULES, sorted(cli - SEARCH_CLI_MODULES)
    # storage.heap (session 8) imported ctypes.util at import time: ~2 ms of every cold search
    assert "ctypes.util" not in loaded
    # Session 9: what a search does not use is imported on first use. Before, `import akindb`
    # imported every public name's module (the loaders with html.parser, writes, maintenance
    # and its reports), and the weights package's version came from importlib.metadata (email,
    # zipfile, socket, calendar): ~24 ms of a 355 ms cold search.
    not_for_search = {"importlib.metadata", "email", "html.parser", "akindb.text.loaders",
                      "akindb.collection.write", "akindb.collection.maintenance",
                      "akindb.collection.reports", "akindb.collection.ingest", "akindb.aio",
                      # a vector search reads no keyword index, fusion settings or feedback
                      "akindb.retrieval.settings", "akindb.retrieval.keyword_side",
                      "akindb.retrieval.keyword_memory", "akindb.retrieval.rm3",
                      "akindb.retrieval.feedback", "akindb.retrieval.hybrid_query"}
    assert not not_for_search & set(loaded), sorted(not_for_search & set(loaded))


def test_lazy_root_lists_the_eager_tree() -> None:
    """The lazy table (names per installer) matches what the installers register: same
    commands, same order, same options and help, sub-commands included."""
    lazy = typer.main.get_command(cli_main.app)
    assert isinstance(lazy.commands, LazyCommands)  # type: ignore[attr-defined]
    eager = typer.main.get_command(eager_app(cli_main._TABLE, cli_main._SETTINGS))
    assert list(lazy.commands) == list(eager.commands)  # type: ignore[attr-defined]

    def shape(cmd: Any) -> Any:
        subs = getattr(cmd, "commands", None) or {}
        return (cmd.name, cmd.help, [(p.name, p.opts, getattr(p, "help", None))
                                     for p in cmd.params],
                [shape(subs[n]) for n in subs])

    for name in eager.commands:  # type: ignore[attr-defined]
        assert shape(lazy.commands[name]) == shape(eager.commands[name]), name  # type: ignore[attr-defined]


def test_unknown_command_still_suggests_and_fails() -> None:
    from typer.testing import CliRunner

    res = CliRunner().invoke(cli_main.app, ["serch", "x"])
    assert res.exit_code == 2
    assert "No such command 'serch'" in res.output
    assert "search" in res.output  # the close match


# ---- plain conversions convert exactly as typer's own ------------------------------------


def _probe_app(tmp: Path) -> typer.Typer:
    app = typer.Typer(add_completion=False)

    @app.command()
    def probe(
        text: Annotated[str, typer.Argument()],
        count: Annotated[int, typer.Option(min=1)] = 5,
        big: Annotated[int, typer.Option()] = 0,
        share: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.7,
        clamped: Annotated[float, typer.Option(min=0.0, max=1.0, clamp=True)] = 0.5,
        loose: Annotated[float | None, typer.Option()] = None,
        where: Annotated[Path | None, typer.Option()] = None,
        folder: Annotated[Path | None, typer.Option(exists=True, file_okay=False)] = None,
        flag: Annotated[bool, typer.Option()] = False,
        gate: Annotated[bool | None, typer.Option()] = None,
        names: Annotated[list[str] | None, typer.Option()] = None,
    ) -> Any:
        return (text, count, big, share, clamped, loose, where, folder, flag, gate, names)

    @app.command()
    def other() -> None:  # two commands: a group, as akindb's root
        pass

    return app


CASES = [
    [], ["--count", "3"], ["--count", "+3"], ["--count", "03"], ["--count", "0"],
    ["--count", "-2"], ["--count", "1_000"], ["--count", " 7"], ["--count", "abc"],
    ["--count", "1e3"], ["--count", "2.0"], ["--count", "٣"], ["--big", "9" * 25],
    ["--big", "-123456789012345678"], ["--share", "0.25"], ["--share", ".5"], ["--share", "1."],
    ["--share", "1.5"], ["--share", "-0"], ["--share", "1e-1"], ["--share", "nan"],
    ["--share", "x"], ["--clamped", "7"], ["--clamped", "-3.5"], ["--clamped", "0.5"],
    ["--loose", "12.5"], ["--loose", "inf"], ["--loose", ""], ["--where", "a/b"],
    ["--where", ""], ["--where", "~/x [1]"], ["--folder", "{dir}"], ["--folder", "{file}"],
    ["--folder", "{dir}/missing"], ["--flag"], ["--no-flag"], ["--gate"], ["--no-gate"],
    ["--names", "a", "--names", "b"], ["--count"],
]


def _run(cmd: Any, args: list[str]) -> tuple[str, Any]:
    from typer._click.exceptions import ClickException

    try:
        return "ok", repr(cmd.main(["probe", "hello [x]", *args], standalone_mode=False))
    except ClickException as exc:
        return type(exc).__name__, (exc.format_message(), exc.exit_code)


@pytest.mark.parametrize("args", CASES, ids=[" ".join(c) or "defaults" for c in CASES])
def test_plain_conversion_matches_typers_own(tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "f").write_text("x")
    args = [a.replace("{dir}", str(tmp_path / "d")).replace("{file}", str(tmp_path / "f"))
            for a in args]
    app = _probe_app(tmp_path)
    plain, fast = typer.main.get_command(app), typer.main.get_command(app)
    prime(fast)
    primed = [p.name for p in fast.commands["probe"].params  # type: ignore[attr-defined]
              if type(getattr(p, "_runtime_param", None)).__name__ == "FastParam"]
    assert len(primed) == 10  # all but the list
    assert _run(fast, args) == _run(plain, args)


# ---- search's plain printing is rich's, byte for byte -------------------------------------

LINES: list[list[tuple[str, str]]] = [
    [("1.", "bold"), (" ", ""), ("0.4429", "cyan"), ("  docs/a [b].md  ", ""),
     ("chars 0-57", "dim")],
    [("2.", "bold"), (" ", ""), ("0.9100 (mmr)", "cyan"), ("  t6168  ", ""),
     ("chars 3-9", "dim"), (" ", ""), ("(+2 more chunks)", "dim")],
    [("   red [/] apples :cat: \\[x] ünïcode 漢字 \x07bell\x08 end\\x", "")],
    [("   ", ""), ("│", "dim"), (" word [bold]x[/bold] matters", "")],
    [("3.", "bold"), (" ", ""), ("1.0000", "cyan"), ("  id\twith\ttabs  ", ""),
     ("chars 0-1", "dim")],
    [("no results", "")],
]
ENVS: list[dict[str, str]] = [
    {}, {"FORCE_COLOR": "1"}, {"FORCE_COLOR": "1", "NO_COLOR": "1"},
    {"FORCE_COLOR": "1", "TERM": "dumb"}, {"FORCE_COLOR": ""},
    {"TTY_COMPATIBLE": "1", "TERM": "xterm-256color", "COLORTERM": "truecolor"},
    {"TTY_COMPATIBLE": "0", "FORCE_COLOR": "1"},
]


@pytest.mark.parametrize("env", ENVS, ids=lambda e: " ".join(f"{k}={v}" for k, v in e.items())
                         or "pipe")
def test_plain_lines_print_as_rich_prints_them(env: dict[str, str]) -> None:
    """Each search line, written by plain.py and by rich (the console the CLI used before,
    markup escaped), under the environments that decide styling on a pipe."""
    import io

    from rich.console import Console

    from akindb.cli import common, plain

    for pieces in LINES:
        buf = io.StringIO()
        console = Console(file=buf, _environ=env, **common._CONSOLE_OPTIONS["out"])
        console.print(plain._markup(pieces), markup=True)
        styles, colours = plain.styling(io.StringIO(), env)
        assert plain.render(pieces, styles, colours) + "\n" == buf.getvalue(), pieces


def test_cli_search_prints_styled_hits_on_a_terminal(real_db: Path) -> None:
    """FORCE_COLOR (a terminal, to rich and to plain.py): the hit line carries the styles."""
    body, _ = _loaded_by(["search", "apples", "--db", str(real_db), "--collection", "c",
                          "--mode", "vector", "-k", "1"], {"FORCE_COLOR": "1"})
    first = body.splitlines()[0]
    assert first.startswith("\x1b[1m1.\x1b[0m \x1b[36m0.")
    assert first.endswith("  a  \x1b[2mchars 0-33\x1b[0m")
    assert body.splitlines()[1] == "   red apples and green pears [ripe]"
