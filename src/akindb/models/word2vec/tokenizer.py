"""Tokenizers for trained models: lower-cased word level, or a WordPiece/BPE vocabulary trained
on the same corpus with HF ``tokenizers``.

A trained model folder carries its tokenizer (``tokenizer_config.json``, plus ``tokenizer.json``
for subword kinds), so the words a query is split into are the words the vectors were trained on.

Knobs (each a trade-off):

- ``kind``: ``word`` keeps whole words (readable neighbours and analogies; a word never seen in
  training has no vector). ``wordpiece``/``bpe`` split rare words into pieces, so every word gets
  some vector, at the cost of less readable units. Fixed at training time.
- ``lowercase``: merges "Paris" and "paris" (fewer, better-trained vectors; loses case). Fixed at
  training time.
- ``vocab_size`` (subword kinds only): more pieces keep more whole words, each with less data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from akindb.errors import InvalidArgumentError, ModelError

TokenizerKind = Literal["word", "wordpiece", "bpe"]
KINDS: tuple[str, ...] = ("word", "wordpiece", "bpe")
CONFIG_FILE = "tokenizer_config.json"
HF_FILE = "tokenizer.json"

_WORD = re.compile(r"\w+(?:['’]\w+)?", re.UNICODE)


@dataclass(frozen=True, slots=True)
class TokenizerConfig:
    """How text becomes the units a word model has vectors for.

    >>> TokenizerConfig.from_dict(TokenizerConfig(kind="bpe").to_dict()).kind
    'bpe'
    """

    kind: TokenizerKind = "word"
    lowercase: bool = True
    vocab_size: int = 30000
    min_frequency: int = 2

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InvalidArgumentError(
                f"tokenizer kind {self.kind!r} is unknown; use one of {', '.join(KINDS)}"
            )
        if self.vocab_size < 100:
            raise InvalidArgumentError("tokenizer vocab_size must be at least 100")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TokenizerConfig:
        known = {
            k: data[k] for k in ("kind", "lowercase", "vocab_size", "min_frequency") if k in data
        }
        return cls(**known)


class WordTokenizer:
    """Splits text into the units of a trained word model, with character offsets.

    >>> WordTokenizer().tokens("The dog's bowl, Paris!")
    ['the', "dog's", 'bowl', 'paris']
    """

    def __init__(self, config: TokenizerConfig | None = None, hf: Any = None) -> None:
        self.config = config or TokenizerConfig()
        if self.config.kind != "word" and hf is None:
            raise ModelError(f"a {self.config.kind} tokenizer needs its trained {HF_FILE}")
        self._hf = hf

    def tokens_with_offsets(self, text: str) -> list[tuple[str, int, int]]:
        """(token, start, end) for each unit of ``text``; offsets index into ``text``."""
        if self._hf is None:
            low = self.config.lowercase
            return [
                (m.group().lower() if low else m.group(), m.start(), m.end())
                for m in _WORD.finditer(text)
            ]
        enc = self._hf.encode(text, add_special_tokens=False)
        return [(t, int(a), int(b)) for t, (a, b) in zip(enc.tokens, enc.offsets, strict=True)]

    def tokens(self, text: str) -> list[str]:
        if self._hf is None:
            found = _WORD.findall(text)
            return [w.lower() for w in found] if self.config.lowercase else found
        return list(self._hf.encode(text, add_special_tokens=False).tokens)

    # ---- training and files ------------------------------------------------------------------
    @classmethod
    def train(cls, config: TokenizerConfig, texts: Iterable[str]) -> WordTokenizer:
        """Word kind: nothing to learn; subword kinds learn their vocabulary from ``texts``."""
        if config.kind == "word":
            return cls(config)
        from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

        norm: list[Any] = [normalizers.NFKC()]
        if config.lowercase:
            norm.append(normalizers.Lowercase())
        trainer: Any
        if config.kind == "wordpiece":
            tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
            trainer = trainers.WordPieceTrainer(
                vocab_size=config.vocab_size,
                min_frequency=config.min_frequency,
                special_tokens=["[UNK]"],
                show_progress=False,
            )
        else:
            tok = Tokenizer(models.BPE(unk_token="[UNK]"))
            trainer = trainers.BpeTrainer(
                vocab_size=config.vocab_size,
                min_frequency=config.min_frequency,
                special_tokens=["[UNK]"],
                show_progress=False,
            )
        tok.normalizer = normalizers.Sequence(norm)
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.Whitespace(), pre_tokenizers.Punctuation()]
        )
        tok.train_from_iterator(texts, trainer=trainer)
        return cls(config, tok)

    def save(self, folder: Path) -> None:
        with open(folder / CONFIG_FILE, "w", encoding="utf-8") as fh:
            json.dump(self.config.to_dict(), fh, indent=1, sort_keys=True)
        if self._hf is not None:
            self._hf.save(str(folder / HF_FILE))

    @classmethod
    def load(cls, folder: Path) -> WordTokenizer:
        path = folder / CONFIG_FILE
        if not path.is_file():
            return cls(TokenizerConfig())
        with open(path, encoding="utf-8") as fh:
            config = TokenizerConfig.from_dict(json.load(fh))
        hf = None
        if config.kind != "word":
            from tokenizers import Tokenizer

            if not (folder / HF_FILE).is_file():
                raise ModelError(f"{folder} lacks {HF_FILE} for its {config.kind} tokenizer")
            hf = Tokenizer.from_file(str(folder / HF_FILE))
        return cls(config, hf)

    def __repr__(self) -> str:
        return f"WordTokenizer({self.config})"
