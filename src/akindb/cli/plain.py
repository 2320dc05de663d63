"""Print a line of styled pieces (bold, dim, cyan) the way rich would, without importing rich.

Why: ``akindb search`` prints a few short lines; importing rich (~15 ms) and building and
using its console cost ~50 ms of CPU of a ~0.5 s cold search in the session-7 ablation (issue
14, docs/benchmarks.md). The lines need three styles, and rich's choice of whether to style is
a handful of environment rules, reproduced here: a terminal (``TTY_COMPATIBLE``, then
``FORCE_COLOR``, then ``isatty``) that is not dumb (``TERM``) gets SGR codes; ``NO_COLOR``
drops the colour but keeps bold and dim; anything else gets the bare text. Text is literal (no
markup, no emoji codes) with the control characters rich strips removed and tabs expanded. On
Windows, whose consoles rich drives specially, the line
goes through rich. ``tests/cli/test_cold_cli.py`` compares both renderings.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TextIO

_SGR = {"bold": "1", "dim": "2", "cyan": "36"}
_COLOURS = {"cyan"}
_STRIP = dict.fromkeys((7, 8, 11, 12, 13))  # BEL BS VT FF CR, as rich's Text strips them

Piece = tuple[str, str]  # (text, style: "" or a key of _SGR)


def styling(stream: TextIO, environ: Mapping[str, str] | None = None) -> tuple[bool, bool]:
    """(styles on, colours on) for ``stream``, by rich's rules."""
    env = os.environ if environ is None else environ
    compatible = env.get("TTY_COMPATIBLE", "")
    if compatible in ("0", "1"):
        terminal = compatible == "1"
    elif env.get("FORCE_COLOR") is not None:
        terminal = env.get("FORCE_COLOR") != ""
    else:
        try:
            terminal = bool(stream.isatty())
        except (AttributeError, ValueError):  # no isatty, or a closed stream
            terminal = False
    if not terminal or env.get("TERM", "").lower() in ("dumb", "unknown"):
        return False, False
    return True, env.get("NO_COLOR", "") == ""


def render(pieces: list[Piece], styles: bool, colours: bool) -> str:
    r"""One output line (no newline).

    >>> line = [("1.", "bold"), (" ", ""), ("0.4429", "cyan"), ("  a [b].md\a", "")]
    >>> render(line, styles=True, colours=True)
    '\x1b[1m1.\x1b[0m \x1b[36m0.4429\x1b[0m  a [b].md'
    >>> render(line, styles=True, colours=False)  # NO_COLOR: bold and dim stay
    '\x1b[1m1.\x1b[0m 0.4429  a [b].md'
    >>> render(line, styles=False, colours=False)  # a pipe
    '1. 0.4429  a [b].md'
    """
    out: list[str] = []
    column = 0
    for text, style in pieces:
        text = text.translate(_STRIP)
        if "\t" in text:  # tab stops every 8 columns of the whole line, as rich's
            text = (" " * column + text).expandtabs(8)[column:]
        column += len(text)
        if text and style and styles and (colours or style not in _COLOURS):
            out.append(f"\x1b[{_SGR[style]}m{text}\x1b[0m")
        else:
            out.append(text)
    return "".join(out)


def _markup(pieces: list[Piece]) -> str:
    from rich.markup import escape

    return "".join(f"[{style}]{escape(text)}[/]" if style else escape(text)
                   for text, style in pieces)


def line(*pieces: Piece) -> None:
    """Write one line of pieces to stdout (through rich on Windows)."""
    if sys.platform == "win32":  # pragma: no cover - rich drives Windows consoles itself
        from akindb.cli.common import out

        out.print(_markup(list(pieces)), markup=True)
        return
    styles, colours = styling(sys.stdout)
    sys.stdout.write(render(list(pieces), styles, colours) + "\n")
