"""Loaders: finding files, decoding them, and skipping what is not text without raising."""

from __future__ import annotations

import codecs
import doctest
import hashlib
import re
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

import akindb.text.loaders as loaders_module
from akindb.errors import InvalidArgumentError
from akindb.text import (
    ChunkingParams,
    CountTokens,
    chunk_text,
    iter_files,
    kind_of,
    load_file,
    load_text,
)
from tests.text.conftest import (
    FIXTURES,
    assert_titles_start_chunks,
    check_chunks,
    rst_title_lines,
    shared_data,
)


def _touch(path: Path, data: bytes | str = "x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    return path


def _png() -> bytes:
    """A real 2x2 RGB PNG."""

    def chunk(tag: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(tag + body)
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", crc)

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    ihdr = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def test_docstring_examples() -> None:
    assert doctest.testmod(loaders_module).failed == 0


# --- iter_files ------------------------------------------------------------------------------

def test_iter_files_recursive_sorted_and_skips_hidden(tmp_path: Path) -> None:
    for rel in ["b.txt", "a.md", "sub/z.rst", "sub/deeper/y.txt", "A.txt",
                ".hidden.txt", ".git/config", ".venv/lib/x.py", "sub/.cache/c.txt"]:
        _touch(tmp_path / rel)
    got = [p.relative_to(tmp_path).as_posix() for p in iter_files([tmp_path])]
    assert got == ["A.txt", "a.md", "b.txt", "sub/deeper/y.txt", "sub/z.rst"]
    assert got == [p.relative_to(tmp_path).as_posix() for p in iter_files([str(tmp_path)])]


def test_iter_files_keeps_input_order_and_named_files(tmp_path: Path) -> None:
    one = _touch(tmp_path / "one" / "f.txt")
    two = _touch(tmp_path / "two" / "g.txt")
    hidden = _touch(tmp_path / ".named.txt")
    assert list(iter_files([tmp_path / "two", one, hidden])) == [two, one, hidden]


def test_iter_files_symlink_loops_and_duplicates(tmp_path: Path) -> None:
    root = tmp_path / "root"
    f = _touch(root / "sub" / "f.txt")
    (root / "sub" / "loop").symlink_to(root, target_is_directory=True)  # loop back up
    (root / "alias").symlink_to(root / "sub", target_is_directory=True)  # same folder twice
    (root / "link.txt").symlink_to(f)  # same file twice
    (root / "broken.txt").symlink_to(root / "missing.txt")
    got = list(iter_files([root, f]))
    assert len(got) == 1 and got[0].resolve() == f.resolve()


def test_iter_files_missing_path_raises_at_call(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such.txt"
    with pytest.raises(InvalidArgumentError, match=re.escape(str(missing))):
        iter_files([tmp_path, missing])  # raised before iterating
    with pytest.raises(InvalidArgumentError, match="list of paths"):
        iter_files(str(tmp_path))  # a str is a Sequence too: refused, not walked per char


# --- load_file -------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("name", "kind"),
    [("a.txt", "text"), ("a.md", "markdown"), ("a.markdown", "markdown"), ("a.rst", "rst"),
     ("a.rst.txt", "rst"), ("a.html", "html"), ("a.HTM", "html"), ("notes", "text"),
     ("script.py", "text")],
)
def test_kinds_by_name(tmp_path: Path, name: str, kind: str) -> None:
    loaded = load_file(_touch(tmp_path / name, "Hello world.\n"))
    assert (loaded.kind, loaded.skipped, loaded.ok) == (kind, None, True)
    assert loaded.text == ("Hello world." if kind == "html" else "Hello world.\n")


def test_kind_of() -> None:
    assert kind_of("x/faq/programming.rst.txt") == "rst"
    assert kind_of("README") is None


def test_real_rst_member_hash_and_size(pydocs: Callable[[str], Path]) -> None:
    path = pydocs("faq/programming.rst.txt")
    raw = path.read_bytes()
    loaded = load_file(path)
    assert loaded.kind == "rst" and loaded.skipped is None
    assert loaded.text == raw.decode("utf-8")
    assert loaded.size == len(raw)
    assert loaded.content_hash == hashlib.sha256(raw).hexdigest()


def test_png_is_skipped_as_binary(tmp_path: Path) -> None:
    for name in ("image.png", "image.txt"):  # the extension does not make it text
        loaded = load_file(_touch(tmp_path / name, _png()))
        assert (loaded.text, loaded.skipped) == (None, "binary")
        assert loaded.content_hash == hashlib.sha256(_png()).hexdigest()


def test_cp1252_file_is_decoded() -> None:
    path = FIXTURES / "lee_cp1252.cor"
    raw = path.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    loaded = load_file(path)
    assert loaded.skipped is None and loaded.kind == "text"
    assert loaded.text is not None and "£3,00" in loaded.text


def test_real_cp1252_corpus_is_decoded() -> None:
    loaded = load_file(shared_data() / "doc_similarity" / "lee.cor")
    assert loaded.text is not None and loaded.text.count("£") == 1


def test_undecodable(tmp_path: Path) -> None:
    # 0x81 and 0x8d are undefined in cp1252 and invalid as UTF-8
    bad = load_file(_touch(tmp_path / "bad.txt", b"caf\x81 \x8d and more words here\n"))
    assert (bad.text, bad.skipped) == (None, "undecodable")
    noise = bytes(range(0xA0, 0x100)) * 4  # decodes as cp1252, but is not text
    assert load_file(_touch(tmp_path / "noise.dat", noise)).skipped == "undecodable"


def test_empty_and_whitespace_only(tmp_path: Path) -> None:
    assert load_file(_touch(tmp_path / "empty.txt", b"")).skipped == "empty"
    blank = load_file(_touch(tmp_path / "blank.md", " \n\t\n"))
    assert (blank.text, blank.skipped, blank.size) == (None, "empty", 4)
    html = load_file(_touch(tmp_path / "blank.html", "<html><script>x()</script></html>"))
    assert html.skipped == "empty"


def test_file_deleted_between_listing_and_reading(tmp_path: Path) -> None:
    _touch(tmp_path / "a.txt", "first")
    _touch(tmp_path / "b.txt", "second")
    files = list(iter_files([tmp_path]))
    files[0].unlink()
    loaded = [load_file(f) for f in files]
    assert (loaded[0].text, loaded[0].skipped, loaded[0].content_hash) == (None, "vanished", "")
    assert loaded[1].text == "second"


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _touch(tmp_path / "secret.txt", "hidden")

    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(loaders_module, "open", denied, raising=False)
    loaded = load_file(path)
    assert (loaded.text, loaded.skipped, loaded.size) == (None, "unreadable", 0)


def test_bom_and_line_breaks(tmp_path: Path) -> None:
    utf8 = load_file(_touch(tmp_path / "a.txt", codecs.BOM_UTF8 + "naïve\r\nline\rthree".encode()))
    assert utf8.text == "naïve\nline\nthree"
    utf16 = load_file(_touch(tmp_path / "b.txt", "Grüße\r\n".encode("utf-16")))
    assert utf16.text == "Grüße\n"


HTML = """<!DOCTYPE html>
<html><head><title>Page title</title><style>body { color: red }</style>
<script>var secret = "do not index";</script></head>
<body><nav><a href="/">Home</a></nav>
<h1>Fish &amp; chips</h1>
<p>First   paragraph,
spread over lines.</p><div>Second <b>block</b><br>with a break.</div>
<h2>Recipe</h2>
<ul><li>potatoes</li><li>fish</li></ul>
<pre>def fry(x):
    return x  # kept</pre>
<script type="module">alert("no")</script><noscript>Enable JS</noscript>
<table><tr><td>a</td><td>b</td></tr></table>
</body></html>"""


def test_html_is_reduced_to_text_with_structure(tmp_path: Path) -> None:
    loaded = load_file(_touch(tmp_path / "page.html", HTML))
    assert loaded.kind == "html" and loaded.text is not None
    assert loaded.text == (
        "Home\n\n# Fish & chips\n\nFirst paragraph, spread over lines.\n\n"
        "Second block\nwith a break.\n\n## Recipe\n\npotatoes\nfish\n\n"
        "def fry(x):\n    return x  # kept\n\na b"
    )
    for gone in ("secret", "color", "alert", "Enable JS", "Page title"):
        assert gone not in loaded.text
    assert load_text(HTML, kind="html") == loaded.text


def test_html_chunks_start_at_headings(tmp_path: Path, count_tokens: CountTokens) -> None:
    body = "".join(
        f"<h2>Section {i}</h2>" + "<p>Frying fish needs hot oil and patience.</p>" * (i + 1)
        for i in range(12)
    )
    loaded = load_file(_touch(tmp_path / "p.htm", f"<html><body>{body}</body></html>"))
    assert loaded.text is not None
    params = ChunkingParams(max_tokens=64, overlap_tokens=8)
    chunks = chunk_text(loaded.text, kind=loaded.kind, count_tokens=count_tokens, params=params)
    check_chunks(loaded.text, chunks, params.budget, count_tokens)
    starts = {c.start for c in chunks}
    headings = [i for i in range(len(loaded.text)) if loaded.text.startswith("## ", i)]
    assert len(headings) == 12 and set(headings) <= starts


def test_rst_txt_is_chunked_as_rst(count_tokens: CountTokens) -> None:
    loaded = load_file(FIXTURES / "programming_faq_head.rst.txt")
    assert loaded.kind == "rst" and loaded.text is not None
    chunks = chunk_text(loaded.text, kind=loaded.kind, count_tokens=count_tokens)
    assert_titles_start_chunks(loaded.text, chunks, rst_title_lines(loaded.text))
