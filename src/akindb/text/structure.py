"""Reading a text's structure: blocks (headings, paragraphs), sentences, lines, words.

``chunking.py`` packs these units into chunks; this module only finds them, as exact character
spans of the text (``_Unit``), for markdown, reStructuredText, HTML-as-markdown and plain text.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

_BLOCK, _SENTENCE, _LINE, _WORD, _PIECE = range(5)


class _Unit:
    """A stripped span of the text with its token count; ``parts`` are finer units covering it
    (filled only where needed). ``glued``: not whitespace-separated from the previous unit."""

    __slots__ = ("end", "glued", "heading", "level", "parts", "start", "tail", "tokens")

    def __init__(self, start: int, end: int, level: int, heading: bool = False) -> None:
        self.start = start
        self.end = end
        self.level = level
        self.heading = heading
        self.tokens = 0
        self.parts: list[_Unit] | None = None
        self.tail: list[_Unit] | None = None  # its words, for overlap; only the last counted
        self.glued = False


# Sentence ends: terminal punctuation, optional closing quotes/brackets, then whitespace.
_SENTENCE_END = re.compile(r"[.!?\u3002\uff01\uff1f]+[\"'\u201d\u2019\u00bb)\]]*(\s+)")
_NON_SPACE = re.compile(r"\S+")
_LINE_CONTENT = re.compile(r"[^\n\r]*\S[^\n\r]*")
_ATX = re.compile(r" {0,3}#{1,6}(?:[ \t]|$)")
_SETEXT = re.compile(r" {0,3}(?:=+|-+)[ \t]*$")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_RST_LABELS = re.compile(r"(?:\.\. _[^\n]+:[ \t]*(?:\n|$))+")  # targets of the next title
_RST_PUNCT = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _lines(text: str) -> tuple[list[str], list[int]]:
    """Lines split at ``\n`` (a ``\r`` before it stays, as whitespace) and their start offsets."""
    strs = text.split("\n")
    starts = [0] * len(strs)
    pos = 0
    for k, line in enumerate(strs):
        starts[k] = pos
        pos += len(line) + 1
    return strs, starts


def _rst_adornment(s: str) -> bool:
    s = s.rstrip()
    return len(s) >= 2 and s[0] in _RST_PUNCT and s == s[0] * len(s)


def _blocks(text: str, kind: str) -> list[_Unit]:
    """Headings and paragraphs (runs of non-blank lines; markdown fences kept whole)."""
    strs, starts = _lines(text)
    blank = [not s or s.isspace() for s in strs]
    n = len(strs)
    out: list[_Unit] = []

    def add(first: int, last: int, heading: bool = False) -> None:
        s, e = _strip(text, starts[first], starts[last] + len(strs[last]))
        if s < e:
            out.append(_Unit(s, e, _BLOCK, heading))

    md = kind in ("markdown", "html")
    i = 0
    para = -1  # first line of the open paragraph, or -1
    while i < n:
        s = strs[i]
        if blank[i]:
            if para >= 0:
                add(para, i - 1)
                para = -1
            i += 1
            continue
        if md:
            fence = _FENCE.match(s)
            if fence:
                if para >= 0:
                    add(para, i - 1)
                    para = -1
                j = i + 1
                while j < n and not strs[j].lstrip().startswith(fence.group(1)):
                    j += 1
                add(i, min(j, n - 1))
                i = j + 1
                continue
            if _ATX.match(s):
                if para >= 0:
                    add(para, i - 1)
                    para = -1
                add(i, i, heading=True)
                i += 1
                continue
            if para >= 0 and _SETEXT.match(s):
                add(para, i, heading=True)
                para = -1
                i += 1
                continue
        elif kind == "rst" and para < 0:
            title = 0  # lines in the title, 0 if none here
            if (
                _rst_adornment(s)
                and i + 2 < n
                and not blank[i + 1]
                and not _rst_adornment(strs[i + 1])
                and strs[i + 2].rstrip() == s.rstrip()
            ):
                title = 3
            elif (
                i + 1 < n
                and not s[0].isspace()
                and not _rst_adornment(s)
                and _rst_adornment(strs[i + 1])
                and len(strs[i + 1].rstrip()) >= min(len(s.rstrip()), 4)
            ):
                title = 2
            if title:
                add(i, i + title - 1, heading=True)
                i += title
                continue
        if para < 0:
            para = i
        i += 1
    if para >= 0:
        add(para, n - 1)
    if kind == "rst":  # ``.. _label:`` lines just above a title go with it
        for a, b in reversed(list(itertools.pairwise(out))):
            if b.heading and not a.heading and _RST_LABELS.fullmatch(text, a.start, a.end):
                a.heading = True
    return out


def _split(text: str, u: _Unit, budget: int = 1) -> list[_Unit]:
    """The next finer units of ``u``: sentences, lines, words, or pieces of a word."""
    seg = text[u.start : u.end]
    base = u.start
    out: list[_Unit] = []
    if u.level == _BLOCK:
        pos = 0
        for m in _SENTENCE_END.finditer(seg):
            out.append(_Unit(base + pos, base + m.start(1), _SENTENCE))
            pos = m.end(1)
        out.append(_Unit(base + pos, u.end, _SENTENCE))
        return out
    if u.level == _SENTENCE and ("\n" in seg or "\r" in seg):
        pattern, level = _LINE_CONTENT, _LINE
    elif u.level <= _LINE:
        pattern, level = _NON_SPACE, _WORD
    else:  # a word or piece: cut into pieces of about half the budget's share of characters
        k = max(2, -(-2 * u.tokens // max(1, budget)))
        size = max(1, -(-len(seg) // k))
        for k0 in range(0, len(seg), size):
            p = _Unit(base + k0, base + min(k0 + size, len(seg)), _PIECE)
            p.glued = k0 > 0
            out.append(p)
        return out
    for m in pattern.finditer(seg):
        a, b = _strip(text, base + m.start(), base + m.end())
        out.append(_Unit(a, b, level))
    return out


def _leaves(units: Sequence[_Unit]) -> list[_Unit]:
    out: list[_Unit] = []
    for u in units:
        out.extend(_leaves(u.parts) if u.parts else [u])
    return out
