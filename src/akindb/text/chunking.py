"""Cut a text into chunks that fit an embedding model's window, following the text's structure.

The text is read as blocks (headings and paragraphs), blocks as sentences, and a sentence that
is too long alone as lines, then words, then pieces of a word. Consecutive units are packed
greedily up to the token budget; a heading starts a new chunk and stays with what follows it.
When a section needs several chunks, each chunk after the first starts up to
``overlap_tokens`` back, at a sentence boundary or else a word boundary.

Every chunk is an exact slice of the input: ``text[c.start:c.end] == c.text``, with no leading
or trailing whitespace. Every non-whitespace character lies in at least one chunk.

Token counts come from the caller's ``count_tokens`` (the model tokenizer, without special
tokens), called in a few batches per text. Counts of adjacent units are added up while packing;
a few joined pairs are counted to check that this holds for the tokenizer, and where it does
not (byte-level BPE counts the newlines between units), a per-join cost is learnt from them and
every chunk is recounted and split until it fits.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

from akindb.errors import InvalidArgumentError, refuse_unknown
from akindb.text.structure import (
    _NON_SPACE,
    _WORD,
    _blocks,
    _leaves,
    _split,
    _Unit,
)
from akindb.types import Chunk

CountTokens = Callable[[Sequence[str]], list[int]]
"""Token counts of texts, without the model's special tokens (``encode_batch`` underneath)."""

KINDS = ("text", "markdown", "rst", "html")
"""Text kinds the chunker understands; ``html`` is the loader's layout (markdown headings)."""


@dataclass(frozen=True, slots=True)
class ChunkingParams:
    """How texts are cut. Saved beside a collection; changing a knob later re-chunks only
    documents added or re-indexed after the change.

    - ``max_tokens``: the model's window, special tokens included (all-MiniLM-L6-v2: 256).
      Larger keeps more context in each vector and makes fewer vectors (smaller index, faster
      ingest); smaller gives sharper vectors for pointed questions and more precise hits, at
      the cost of more vectors. Above the model's window the model would cut text off.
    - ``overlap_tokens``: how far back a chunk starts when a section is split. More overlap
      keeps a sentence that straddles a cut findable from both sides; it costs duplicate text
      (more vectors, and neighbouring chunks of one passage competing in the results).
    - ``special_tokens``: tokens the model adds around every text ([CLS], [SEP] for BERT-style
      models); the chunk budget is ``max_tokens - special_tokens``. Too low overflows the window.
    - ``split_on_headings``: a heading starts a new chunk. Keeps each vector about one topic and
      hits aligned with sections; costs some small chunks for short sections.
    """

    max_tokens: int = 256
    overlap_tokens: int = 32
    special_tokens: int = 2
    split_on_headings: bool = True

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            expected = bool if f.name == "split_on_headings" else int
            if type(value) is not expected:
                raise InvalidArgumentError(
                    f"chunking parameter {f.name}={value!r} must be {expected.__name__}"
                )
        if self.special_tokens < 0:
            raise InvalidArgumentError("special_tokens must be >= 0")
        if self.budget < 1:
            raise InvalidArgumentError(
                f"max_tokens={self.max_tokens} leaves no room for text after "
                f"{self.special_tokens} special tokens; use a larger max_tokens"
            )
        if not 0 <= self.overlap_tokens <= self.budget // 2:
            raise InvalidArgumentError(
                f"overlap_tokens={self.overlap_tokens} must be between 0 and half the budget "
                f"({self.budget // 2}); use a smaller overlap"
            )

    @property
    def budget(self) -> int:
        """Tokens a chunk may count without special tokens."""
        return self.max_tokens - self.special_tokens

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict; ``ChunkingParams.from_dict(p.to_dict()) == p``."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChunkingParams:
        """Inverse of ``to_dict``; missing keys take defaults, unknown keys are an error."""
        refuse_unknown(data, (f.name for f in fields(cls)), "chunking parameters")
        return cls(**dict(data))


def chunk_text(
    text: str,
    *,
    kind: str,
    count_tokens: CountTokens,
    params: ChunkingParams = ChunkingParams(),
) -> list[Chunk]:
    """Cut ``text`` into chunks of at most ``params.budget`` tokens, following its structure.

    ``kind`` is one of ``KINDS``; ``count_tokens`` counts model tokens without special tokens.
    Empty or whitespace-only text gives ``[]``.

    >>> words = lambda texts: [len(t.split()) for t in texts]
    >>> doc = "# Title\\n\\nOne two three. Four five six.\\n\\n# Next\\n\\nSeven."
    >>> [c.text for c in chunk_text(doc, kind="markdown", count_tokens=words)]
    ['# Title\\n\\nOne two three. Four five six.', '# Next\\n\\nSeven.']
    >>> small = ChunkingParams(max_tokens=6, overlap_tokens=2)
    >>> [c.text for c in chunk_text("a b c. d e f. g h i.", kind="text",
    ...                             count_tokens=words, params=small)]
    ['a b c.', 'c. d e f.', 'f. g h i.']
    """
    if kind not in KINDS:
        raise InvalidArgumentError(f"unknown text kind {kind!r}; use one of: {', '.join(KINDS)}")
    if not text.strip():
        return []
    return _Chunker(text, kind, count_tokens, params).run()


class _Chunker:
    def __init__(
        self, text: str, kind: str, count_tokens: CountTokens, params: ChunkingParams
    ) -> None:
        self.text = text
        self.kind = kind
        self.count_tokens = count_tokens
        self.params = params
        self.budget = params.budget
        self.join_cost = 0  # extra tokens per join of two units, learnt from probes
        self.pieces = False  # some word was cut into pieces (their joins are not additive)
        self.missing: list[_Unit] | None = None  # units whose words overlap needs

    def run(self) -> list[Chunk]:
        blocks = _blocks(self.text, self.kind)
        sentences: list[_Unit] = []
        for b in blocks:
            b.parts = _split(self.text, b)
            sentences.extend(b.parts)
        pairs = [(p[i], p[i + 1]) for b in blocks if (p := b.parts) for i in range(len(p) - 1)]
        pairs += [
            (a.parts[-1], b.parts[0]) for a, b in itertools.pairwise(blocks) if a.parts and b.parts
        ]
        self._count(sentences, pairs)
        self._refine(sentences)
        for b in blocks:
            parts = b.parts or []
            b.tokens = sum(p.tokens for p in parts) + self.join_cost * (len(parts) - 1)
            if len(parts) == 1:
                b.parts = parts[0].parts  # the block is one sentence: skip a level
        # Overlap may need the words of a chunk's last sentence: pack, count the words that
        # were missing in one batch, and pack again (boundaries can move); then count on demand.
        for attempt in range(4):
            self.missing = [] if attempt < 3 else None
            packed = self._pack(blocks)
            if not self.missing:
                break
            self._tail(self.missing)
        return self._finish(packed)

    def _tail(self, units: Sequence[_Unit]) -> None:
        """Give each unit its words as ``tail``, counting the last ``overlap_tokens`` of them
        (the rest are marked too long to be taken)."""
        k = self.params.overlap_tokens
        todo: list[_Unit] = []
        pairs: list[tuple[_Unit, _Unit]] = []
        for u in units:
            u.tail = [
                _Unit(m.start(), m.end(), _WORD)
                for m in _NON_SPACE.finditer(self.text, u.start, u.end)
            ]
            for w in u.tail:
                w.tokens = k + 1
            todo.extend(u.tail[-k:])
            pairs.extend(itertools.pairwise(u.tail[-k:]))
        self._count(todo, pairs)

    def _count(self, units: Sequence[_Unit], pairs: Sequence[tuple[_Unit, _Unit]]) -> None:
        """Count ``units`` in one batch, with a few adjacent pairs from ``pairs`` (up to 8 whose
        gap holds a line break, 8 whose gap does not) to learn what a join costs."""
        if not units:
            return
        text = self.text
        by_gap: tuple[list[tuple[_Unit, _Unit]], list[tuple[_Unit, _Unit]]] = ([], [])
        for a, b in pairs:
            by_gap[text.find("\n", a.end, b.start) >= 0].append((a, b))
        probes = [p for group in by_gap for p in group[:: max(1, len(group) // 8)][:8]]
        counts = self.count_tokens(
            [text[u.start : u.end] for u in units] + [text[a.start : b.end] for a, b in probes]
        )
        for u, c in zip(units, counts, strict=False):
            u.tokens = c
        for (a, b), c in zip(probes, counts[len(units) :], strict=True):
            self.join_cost = max(self.join_cost, c - a.tokens - b.tokens)

    def _refine(self, units: list[_Unit]) -> None:
        """Give every unit over the budget finer parts, level by level, one batch per level."""
        pending = [u for u in units if u.tokens > self.budget]
        while pending:
            children: list[_Unit] = []
            pairs: list[tuple[_Unit, _Unit]] = []
            for u in pending:
                if u.end - u.start <= 1:
                    continue
                u.parts = _split(self.text, u, self.budget)
                if u.level >= _WORD:
                    self.pieces = True  # glued pieces: their chunks are recounted
                else:
                    pairs.extend(itertools.pairwise(u.parts))
                children.extend(u.parts)
            self._count(children, pairs)
            pending = [c for c in children if c.tokens > self.budget]

    def _fit(self, u: _Unit) -> list[_Unit]:
        """``u`` itself if it fits the budget, else its parts, recursively."""
        if u.tokens <= self.budget or not u.parts:
            return [u]
        out: list[_Unit] = []
        for p in u.parts:
            out.extend(self._fit(p))
        if u.heading:
            out[0].heading = True
        return out

    def _pack(self, blocks: Sequence[_Unit]) -> list[list[_Unit]]:
        budget, split_on_headings = self.budget, self.params.split_on_headings
        stack: list[_Unit] = []
        for b in reversed(blocks):
            stack.extend(reversed(self._fit(b)))
        chunks: list[list[_Unit]] = []
        cur: list[_Unit] = []
        used = 0
        body = False  # cur holds something besides headings
        while stack:
            u = stack.pop()
            if u.heading and split_on_headings and body:
                chunks.append(cur)
                cur, used, body = [], 0, False
            cost = u.tokens + (self.join_cost if cur else 0)
            if used + cost > budget:
                if cur and not body and u.parts and not u.heading:
                    stack.extend(reversed(u.parts))  # fill the heading's chunk with u's start
                    continue
                if cur:
                    chunks.append(cur)
                    room = budget - u.tokens - self.join_cost
                    cur = [] if u.heading else self._overlap(cur, room)
                    used = sum(o.tokens for o in cur) + self.join_cost * max(0, len(cur) - 1)
                    body = bool(cur)
                cost = u.tokens + (self.join_cost if cur else 0)
            cur.append(u)
            used += cost
            body = body or not u.heading
        if cur:
            chunks.append(cur)
        return chunks

    def _overlap(self, prev: list[_Unit], room: int) -> list[_Unit]:
        """Trailing units of ``prev`` worth at most ``overlap_tokens`` (and ``room``), never
        reaching back to its start or into a heading; whole sentences if any fit, else words."""
        limit = min(self.params.overlap_tokens, room)
        out: list[_Unit] = []
        total = 0
        stack = list(prev)
        while stack and limit > 0:
            u = stack.pop()
            if u.heading:
                break
            cost = u.tokens + (self.join_cost if out else 0)
            if total + cost <= limit and u.start > prev[0].start:
                out.append(u)
                total += cost
                continue
            if out or u.level >= _WORD:
                break
            if u.parts is None and u.tail is None:
                if self.missing is not None:
                    self.missing.append(u)
                    break
                self._tail([u])
            stack.extend(u.parts or u.tail or [])
        out.reverse()
        return out

    def _finish(self, packed: list[list[_Unit]]) -> list[Chunk]:
        """Recount chunks whose sum may be off; split any over budget (dropping its overlap
        first, then halving); build the Chunks."""
        check = [False] * len(packed)
        if self.join_cost > 0 or self.pieces:
            for i, c in enumerate(packed):
                leaves = _leaves(c)
                check[i] = len(leaves) > 1 and (
                    self.join_cost > 0 or any(u.glued for u in leaves[1:])
                )
        while any(check):
            todo = [i for i, c in enumerate(check) if c]
            counts = self.count_tokens(
                [self.text[packed[i][0].start : packed[i][-1].end] for i in todo]
            )
            over = {i for i, n in zip(todo, counts, strict=True) if n > self.budget}
            new_packed: list[list[_Unit]] = []
            new_check: list[bool] = []
            for i, c in enumerate(packed):
                prev_start = new_packed[-1][0].start if new_packed else -1
                if c[0].start <= prev_start:  # a split before made c start inside its neighbour
                    c = [u for u in _leaves(c) if u.start > prev_start]
                    if c:
                        new_packed.append(c)
                        new_check.append(True)
                    continue
                leaves = _leaves(c) if i in over else c
                if len(leaves) == 1 or i not in over:
                    new_packed.append(c)
                    new_check.append(False)
                    continue
                prev_end = new_packed[-1][-1].end if new_packed else -1
                lead = 0
                while lead < len(leaves) - 1 and leaves[lead].end <= prev_end:
                    lead += 1
                if lead:
                    new_packed.append(leaves[lead:])
                    new_check.append(True)
                    continue
                half, acc, total = len(leaves) - 1, 0, sum(u.tokens for u in leaves)
                for k, u in enumerate(leaves[:-1]):
                    acc += u.tokens
                    if acc * 2 >= total:
                        half = k + 1
                        break
                new_packed += [leaves[:half], leaves[half:]]
                new_check += [True, True]
            packed, check = new_packed, new_check
        return [
            Chunk(self.text[c[0].start : c[-1].end], c[0].start, c[-1].end, i)
            for i, c in enumerate(packed)
        ]
