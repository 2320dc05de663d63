"""Find files under folders and read them as text (txt, markdown, rst, html, or sniffed).

A file that cannot be used as text is not an error: ``load_file`` returns a ``LoadedText``
with ``text=None`` and ``skipped`` saying why, so an ingest can count it and go on.

Text is decoded as UTF-8 (a BOM is dropped; UTF-16 with a BOM is accepted), else as cp1252 when
that decodes and looks like text. Line breaks are normalised to ``\\n``; chunk offsets refer to
``LoadedText.text``. HTML is reduced to its text in the markdown layout the chunker reads:
``#`` headings and blank-line-separated paragraphs, without scripts and styles.
"""

from __future__ import annotations

import codecs
import hashlib
import logging
import os
import re
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from akindb.errors import InvalidArgumentError

log = logging.getLogger(__name__)

SKIP_REASONS = ("binary", "undecodable", "empty", "vanished", "unreadable")
"""Values of ``LoadedText.skipped``: not text, no usable encoding, nothing but whitespace,
gone (or no longer a file) between listing and reading, or not readable (permissions)."""

SNIFF_BYTES = 8192
_CONTROL = frozenset([*range(0, 9), 11, *range(14, 27), *range(28, 32), 127])
_MAX_CONTROL_SHARE = 0.10  # of the sniffed bytes; text has almost none
_MAX_CP1252_HIGH_SHARE = 0.30  # of characters outside ASCII; Western text has a few percent


@dataclass(frozen=True, slots=True)
class LoadedText:
    """A file read for indexing. ``text`` is ``None`` exactly when ``skipped`` says why.

    ``size`` and ``content_hash`` (sha256 hex) are of the raw bytes, so unchanged files can be
    recognised and not re-embedded; both are 0 / ``""`` when the bytes could not be read.
    """

    path: Path
    text: str | None
    kind: str
    skipped: str | None
    size: int
    content_hash: str

    @property
    def ok(self) -> bool:
        return self.text is not None


def iter_files(paths: Sequence[str | Path]) -> Iterator[Path]:
    """Files named by ``paths`` and files under the folders among them, recursively.

    Inputs are taken in the given order; each folder is walked depth-first in sorted name
    order, so the result is deterministic. Hidden entries (a name starting with ``.``: ``.git``,
    ``.venv``, ...) under a folder are skipped, as are symlinks to folders already visited
    (loops), broken symlinks and special files. A file reached twice is yielded once. A path
    that does not exist raises ``InvalidArgumentError``.
    """
    if isinstance(paths, str | Path):
        raise InvalidArgumentError("iter_files takes a list of paths; wrap one path in a list")
    roots = [Path(p) for p in paths]
    for root in roots:  # checked now, not when iteration starts
        if not root.exists():
            raise InvalidArgumentError(
                f"path {str(root)!r} does not exist; give existing files or folders"
            )
    return _walk_all(roots)


def _walk_all(roots: list[Path]) -> Iterator[Path]:
    seen_files: set[tuple[int, int]] = set()
    seen_dirs: set[tuple[int, int]] = set()
    for root in roots:
        yield from _walk(root, seen_files, seen_dirs)


def _walk(
    path: Path, seen_files: set[tuple[int, int]], seen_dirs: set[tuple[int, int]]
) -> Iterator[Path]:
    try:
        st = path.stat()
    except OSError:  # broken link, vanished, or unreadable: nothing to yield
        return
    key = (st.st_dev, st.st_ino)
    if stat.S_ISREG(st.st_mode):
        if key not in seen_files:
            seen_files.add(key)
            yield path
        return
    if not stat.S_ISDIR(st.st_mode) or key in seen_dirs:
        return
    seen_dirs.add(key)
    try:
        with os.scandir(path) as it:
            names = sorted(e.name for e in it if not e.name.startswith("."))
    except OSError as exc:
        log.warning("cannot list folder %s: %s", path, exc)
        return
    for name in names:
        yield from _walk(path / name, seen_files, seen_dirs)


def kind_of(path: str | Path) -> str | None:
    """The kind implied by a file name, or ``None`` when the content must be sniffed.

    >>> kind_of("faq/programming.rst.txt"), kind_of("a.md"), kind_of("b.HTM"), kind_of("c.py")
    ('rst', 'markdown', 'html', None)
    """
    name = Path(path).name.lower()
    if name.endswith((".rst.txt", ".rst", ".rest")):
        return "rst"
    if name.endswith((".md", ".markdown", ".mdown", ".mkd")):
        return "markdown"
    if name.endswith((".html", ".htm", ".xhtml")):
        return "html"
    if name.endswith(".txt"):
        return "text"
    return None


def load_file(path: str | Path) -> LoadedText:
    """Read one file as text; see the module docstring for encodings and skip reasons."""
    path = Path(path)
    kind = kind_of(path) or "text"
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return LoadedText(path, None, kind, "vanished", 0, "")
    except OSError as exc:
        log.warning("cannot read %s: %s", path, exc)
        return LoadedText(path, None, kind, "unreadable", 0, "")
    return load_bytes(path, raw)


def load_bytes(path: str | Path, raw: bytes) -> LoadedText:
    """What ``load_file`` makes of a file's bytes; ``path`` only names them (its suffix picks
    the kind) and is never opened. The server indexes uploaded files with it.

    >>> t = load_bytes("notes/a.md", b"# Title\\r\\n\\nBody")
    >>> t.text, t.kind, t.size
    ('# Title\\n\\nBody', 'markdown', 14)
    >>> load_bytes("x.bin", b"\\x00\\x01binary").skipped
    'binary'
    """
    path = Path(path)
    kind = kind_of(path) or "text"
    digest = hashlib.sha256(raw).hexdigest()
    text, skipped = _decode(raw)
    if text is not None and "\x00" in text:  # NUL past the sniffed prefix: binary after all
        text, skipped = None, "binary"
    if text is not None:
        text = load_text(text, kind)
        if not text.strip():
            text, skipped = None, "empty"
    return LoadedText(path, text, kind, skipped, len(raw), digest)


def load_text(text: str, kind: str = "text") -> str:
    """What ``load_file`` does after decoding: normalise line breaks, reduce HTML to text.

    >>> load_text("<h1>Title</h1><p>One<br>two</p><script>x()</script>", kind="html")
    '# Title\\n\\nOne\\ntwo'
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.startswith("\ufeff"):
        text = text[1:]
    if kind == "html":
        parser = _HTMLText()
        parser.feed(text)
        parser.close()
        text = parser.result()
    return text


def _decode(raw: bytes) -> tuple[str | None, str | None]:
    """(text, None) or (None, reason)."""
    if not raw:
        return None, "empty"
    for bom, codec in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                       (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if raw.startswith(bom) and not raw.startswith(codecs.BOM_UTF8):
            try:
                return raw.decode(codec), None
            except UnicodeDecodeError:
                return None, "undecodable"
    sample = raw[:SNIFF_BYTES]
    if b"\x00" in sample:
        return None, "binary"
    if sum(b in _CONTROL for b in sample) > _MAX_CONTROL_SHARE * len(sample):
        return None, "binary"
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        pass
    try:
        text = raw.decode("cp1252")
    except UnicodeDecodeError:
        return None, "undecodable"
    high = sum(1 for ch in text if ord(ch) > 127)
    if high > _MAX_CP1252_HIGH_SHARE * len(text):
        return None, "undecodable"
    return text, None


_SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "title", "svg", "head"})
_BLOCK_TAGS = frozenset(
    (
        "address", "article", "aside", "blockquote", "body", "caption", "details", "dialog",
        "div", "dl", "fieldset", "figcaption", "figure", "footer", "form", "header", "hgroup",
        "hr", "html", "main", "nav", "ol", "p", "pre", "section", "summary", "table", "tbody",
        "tfoot", "thead", "ul", "h1", "h2", "h3", "h4", "h5", "h6",
    )
)
_LINE_TAGS = frozenset({"br", "li", "tr", "dt", "dd", "option"})
_CELL_TAGS = frozenset({"td", "th"})
_SPACES = re.compile(r"\s+")


class _HTMLText(HTMLParser):
    """HTML to text: paragraphs separated by blank lines, ``#`` headings, ``pre`` verbatim."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._blocks: list[str] = []
        self._lines: list[str] = [""]
        self._skip: dict[str, int] = {}
        self._pre = 0
        self._heading = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            if tag != "head":  # an unclosed <head> must not hide the page
                self._skip[tag] = self._skip.get(tag, 0) + 1
            return
        self._boundary(tag)
        if tag == "pre":
            self._pre += 1
        elif tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self._heading = int(tag[1])

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            if self._skip.get(tag):
                self._skip[tag] -= 1
            return
        self._boundary(tag)
        if tag == "pre" and self._pre:
            self._pre -= 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _SKIP_TAGS:
            self._boundary(tag)

    def handle_data(self, data: str) -> None:
        if any(self._skip.values()):
            return
        if self._pre:
            lines = data.split("\n")
            self._lines[-1] += lines[0]
            self._lines.extend(lines[1:])
        else:
            self._lines[-1] += data

    def _boundary(self, tag: str) -> None:
        if tag in _BLOCK_TAGS:
            self._flush()
        elif tag in _LINE_TAGS:
            self._lines.append("")
        elif tag in _CELL_TAGS:
            self._lines[-1] += " "

    def _flush(self) -> None:
        if self._pre:
            body = "\n".join(line.rstrip() for line in self._lines).strip("\n")
        else:
            lines = (_SPACES.sub(" ", line).strip() for line in self._lines)
            body = "\n".join(line for line in lines if line)
        if body.strip():
            if self._heading:
                body = "#" * self._heading + " " + _SPACES.sub(" ", body).strip()
            self._blocks.append(body)
        self._lines = [""]
        self._heading = 0

    def result(self) -> str:
        self._flush()
        return "\n\n".join(self._blocks)
