"""Chunking with the real MiniLM tokenizer on real texts, plus a property test on random ones."""

from __future__ import annotations

import doctest
import itertools
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import akindb.text.chunking as chunking_module
from akindb.errors import InvalidArgumentError
from akindb.text import KINDS, ChunkingParams, CountTokens, chunk_text, load_file
from akindb.types import Chunk
from tests.text.conftest import (
    FIXTURES,
    assert_titles_start_chunks,
    check_chunks,
    rst_title_lines,
)

BUDGET = ChunkingParams().budget  # 254 for MiniLM's 256 with [CLS] and [SEP]


def _text(path: Path) -> str:
    loaded = load_file(path)
    assert loaded.text is not None
    return loaded.text


def test_docstring_examples() -> None:
    assert doctest.testmod(chunking_module).failed == 0


# --- ChunkingParams --------------------------------------------------------------------------

def test_params_round_trip_json() -> None:
    p = ChunkingParams(max_tokens=128, overlap_tokens=16, special_tokens=2,
                       split_on_headings=False)
    assert ChunkingParams.from_dict(json.loads(json.dumps(p.to_dict()))) == p
    assert ChunkingParams.from_dict({}) == ChunkingParams()
    assert ChunkingParams().budget == 254


@pytest.mark.parametrize(
    "bad",
    [{"max_tokens": 2}, {"overlap_tokens": -1}, {"overlap_tokens": 200}, {"max_tokens": "256"},
     {"special_tokens": -1}, {"split_on_headings": 1}, {"chunk_size": 10}],
    ids=lambda d: next(iter(d)) + "=" + repr(next(iter(d.values()))),
)
def test_params_rejected(bad: dict[str, object]) -> None:
    with pytest.raises(InvalidArgumentError):
        ChunkingParams.from_dict(bad)


# --- basics ----------------------------------------------------------------------------------

def test_empty_and_unknown_kind(count_tokens: CountTokens) -> None:
    for kind in KINDS:
        assert chunk_text("", kind=kind, count_tokens=count_tokens) == []
        assert chunk_text(" \n\t \n", kind=kind, count_tokens=count_tokens) == []
    with pytest.raises(InvalidArgumentError, match="unknown text kind"):
        chunk_text("text", kind="pdf", count_tokens=count_tokens)


def test_short_text_is_one_stripped_chunk(count_tokens: CountTokens) -> None:
    text = "\n\n  Hello there. How are you?  \n"
    assert chunk_text(text, kind="text", count_tokens=count_tokens) == [
        Chunk("Hello there. How are you?", 4, 29, 0)
    ]


# --- real rst --------------------------------------------------------------------------------

@pytest.mark.parametrize("member", ["faq/programming.rst.txt", "library/functions.rst.txt"])
def test_real_rst_contract(
    pydocs: Callable[[str], Path], count_tokens: CountTokens, member: str
) -> None:
    text = _text(pydocs(member))
    calls: list[int] = []

    def counting(texts: Sequence[str]) -> list[int]:
        calls.append(len(texts))
        return count_tokens(texts)

    chunks = chunk_text(text, kind="rst", count_tokens=counting)
    check_chunks(text, chunks, BUDGET, count_tokens)
    assert_titles_start_chunks(text, chunks, rst_title_lines(text))
    assert len(chunks) > 50
    assert len(calls) <= 10, f"count_tokens should be batched, was called {len(calls)} times"


def test_overlap_when_a_section_is_split(
    pydocs: Callable[[str], Path], count_tokens: CountTokens
) -> None:
    text = _text(pydocs("faq/programming.rst.txt"))
    chunks = chunk_text(text, kind="rst", count_tokens=count_tokens)
    titles = rst_title_lines(text)
    overlaps = 0
    for a, b in itertools.pairwise(chunks):
        if b.start < a.end:
            assert not any(b.start <= t < a.end for t in titles), "overlap holds no title"
            shared = text[b.start : a.end]
            assert count_tokens([shared])[0] <= 32
            assert text[b.start - 1].isspace(), "overlap starts at a word boundary"
            overlaps += 1
    assert overlaps > 20


def test_overlap_prefers_whole_sentences(count_tokens: CountTokens) -> None:
    sentences = [f"Sentence number {i} talks about fish." for i in range(60)]
    text = " ".join(sentences)
    params = ChunkingParams(max_tokens=64, overlap_tokens=16)
    chunks = chunk_text(text, kind="text", count_tokens=count_tokens, params=params)
    check_chunks(text, chunks, params.budget, count_tokens)
    assert len(chunks) > 5
    for a, b in itertools.pairwise(chunks):
        assert b.start < a.end and b.text.startswith("Sentence number")
        assert a.text.endswith("fish.")


def test_params_change_the_cut(count_tokens: CountTokens) -> None:
    text = _text(FIXTURES / "programming_faq_head.rst.txt")
    default = chunk_text(text, kind="rst", count_tokens=count_tokens)
    small = ChunkingParams(max_tokens=64, overlap_tokens=0)
    chunks = chunk_text(text, kind="rst", count_tokens=count_tokens, params=small)
    check_chunks(text, chunks, small.budget, count_tokens)
    assert len(chunks) > 2 * len(default)
    assert all(a.end <= b.start for a, b in itertools.pairwise(chunks))
    flat = ChunkingParams(split_on_headings=False)
    merged = chunk_text(text, kind="rst", count_tokens=count_tokens, params=flat)
    check_chunks(text, merged, flat.budget, count_tokens)
    assert len(merged) < len(default)


# --- markdown --------------------------------------------------------------------------------

MARKDOWN = """# Install

Run the installer. It takes a minute.

```sh
# not a heading: a shell comment

pip install akindb
```

Setext title
------------

Some text under it.

## Use

Search your notes by meaning.
"""


def test_markdown_headings_and_fences(count_tokens: CountTokens) -> None:
    chunks = chunk_text(MARKDOWN, kind="markdown", count_tokens=count_tokens)
    check_chunks(MARKDOWN, chunks, BUDGET, count_tokens)
    assert [c.text.split("\n")[0] for c in chunks] == ["# Install", "Setext title", "## Use"]
    assert "pip install akindb" in chunks[0].text  # the fence stayed in its section


def test_heading_stays_with_its_paragraph(count_tokens: CountTokens) -> None:
    para = " ".join(f"Point {i} of the argument is made here." for i in range(40))
    text = f"# Title\n\n{para}\n\n# Next\n\nShort."
    params = ChunkingParams(max_tokens=100, overlap_tokens=10)
    chunks = chunk_text(text, kind="markdown", count_tokens=count_tokens, params=params)
    check_chunks(text, chunks, params.budget, count_tokens)
    assert chunks[0].text.startswith("# Title\n\nPoint 0 of")
    assert chunks[-1].text == "# Next\n\nShort."


# --- what does not split nicely --------------------------------------------------------------

def test_long_sentence_and_giant_word(count_tokens: CountTokens) -> None:
    sentence = " ".join(["word"] * 1000) + "."
    code = "\n".join(f"    value_{i} = compute({i}, {i + 1})" for i in range(200))
    giant = "x" * 3000 + " " + "ab1+" * 2000
    text = f"{sentence}\n\n{code}\n\n{giant}"
    chunks = chunk_text(text, kind="text", count_tokens=count_tokens)
    check_chunks(text, chunks, BUDGET, count_tokens)
    code_chunks = [c for c in chunks if "value_" in c.text]
    assert all(c.text.startswith("value_") for c in code_chunks[1:])  # cut at line starts


def test_non_additive_tokenizer_still_fits(count_tokens: CountTokens) -> None:
    """Like byte-level BPE: the line breaks between units cost tokens of their own."""

    def bpe_like(texts: Sequence[str]) -> list[int]:
        return [n + t.count("\n") for n, t in zip(count_tokens(texts), texts, strict=True)]

    text = _text(FIXTURES / "programming_faq_head.rst.txt")
    params = ChunkingParams(max_tokens=96, overlap_tokens=16)
    chunks = chunk_text(text, kind="rst", count_tokens=bpe_like, params=params)
    check_chunks(text, chunks, params.budget, bpe_like)


# --- property test ---------------------------------------------------------------------------

_ALPHABET = st.sampled_from(
    [*"abcdefghij ABC  ...!?,;:-=#*`'\"()\n\n\n\t", "é", "£", "日本", "\xa0", "\r\n", "🐍",
     "---", "===", "```", "    ", ".. _x:", "# ", "\x0c", "\u2028", "x" * 30]
)


@settings(max_examples=150, deadline=None)
@given(
    text=st.lists(_ALPHABET, max_size=400).map("".join),
    kind=st.sampled_from(KINDS),
    max_tokens=st.integers(min_value=4, max_value=40),
)
def test_random_texts_keep_the_contract(
    count_tokens: CountTokens, text: str, kind: str, max_tokens: int
) -> None:
    params = ChunkingParams(max_tokens=max_tokens, overlap_tokens=(max_tokens - 2) // 4)
    chunks = chunk_text(text, kind=kind, count_tokens=count_tokens, params=params)
    check_chunks(text, chunks, params.budget, count_tokens)
    assert bool(chunks) == bool(text.strip())
    assert not any(re.match(r"\s", c.text[-1:]) for c in chunks)
