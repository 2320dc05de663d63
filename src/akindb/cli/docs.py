"""Generate docs/cli.md from the commands' own ``--help`` (the help is the documentation).

``python -m akindb.cli.docs > docs/cli.md``; tests/cli/test_cli_docs.py fails when it is stale.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.testing import CliRunner

from akindb.cli.main import app

WIDTH = 100


def _walk(cmd: Any, path: list[str]) -> list[list[str]]:
    out = [path]
    commands = getattr(cmd, "commands", None) or {}
    for name in sorted(commands):
        out.extend(_walk(commands[name], [*path, name]))
    return out


def render() -> str:
    """Markdown with the ``--help`` of every command and sub-command."""
    runner = CliRunner()
    root = typer.main.get_command(app)
    parts = [
        "# akindb command line\n",
        "Generated from `--help` by `python -m akindb.cli.docs > docs/cli.md`; do not edit.\n",
    ]
    for path in _walk(root, []):
        res = runner.invoke(
            app,
            [*path, "--help"],
            env={"COLUMNS": str(WIDTH), "TERM": "dumb", "NO_COLOR": "1"},
            terminal_width=WIDTH,
        )
        title = " ".join(["akindb", *path])
        body = "\n".join(line.rstrip() for line in res.output.splitlines()).strip("\n")
        parts.append(f"## `{title}`\n\n```\n{body}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    import sys

    sys.stdout.write(render())
