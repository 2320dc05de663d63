"""word2vec corpora: any re-iterable of texts (models/ never reads a collection itself), and the
CLI's pager over a collection's chunks, which starts over on every pass (one pass per epoch)."""

from __future__ import annotations

from pathlib import Path

import pytest

import akindb
from akindb.cli.train_commands import _ChunkTexts
from akindb.errors import InvalidArgumentError
from akindb.models.word2vec.corpus import Corpus
from tests.conftest import HashEmbedder


def test_texts_are_read_on_every_pass_and_described() -> None:
    corpus = Corpus(texts=("one two", " ", "three"), label="notes")
    assert list(corpus.texts()) == list(corpus.texts()) == ["one two", "three"]
    assert corpus.describe() == {"files": [], "collection": "notes", "texts": 3}


def test_a_one_shot_iterator_is_refused() -> None:
    """A generator would train epoch 1 on the texts and every later epoch on nothing."""
    with pytest.raises(InvalidArgumentError, match="re-iterable"):
        Corpus(texts=(t for t in ["a b", "c d"]))
    with pytest.raises(InvalidArgumentError, match="empty"):
        Corpus()


def test_collection_chunks_stream_page_by_page_on_each_pass(tmp_db: akindb.Database) -> None:
    col = tmp_db.create_collection("docs", model=HashEmbedder())  # type: ignore[arg-type]
    texts = [f"document {i} about topic {i % 3}" for i in range(7)]
    col.add(texts, ids=[f"d{i}" for i in range(7)])
    pages = _ChunkTexts(col, page=3)  # 7 documents: pages of 3, 3 and 1
    corpus = Corpus(texts=pages, label=col.name)
    first, second = list(corpus.texts()), list(corpus.texts())
    assert sorted(first) == sorted(texts) and second == first


def test_files_and_texts_together(tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    f.write_text("from a file\n\nsecond line\n", encoding="utf-8")
    assert list(Corpus([f], texts=["extra"]).texts()) == ["from a file\n", "second line\n", "extra"]


def test_cli_trains_on_a_collection_s_chunks(tmp_path: Path) -> None:
    """``akindb train word2vec --collection``: the CLI reads the chunks, models/ gets texts."""
    import json

    import numpy as np
    from typer.testing import CliRunner

    from akindb.cli.main import app
    from akindb.models.word2vec.vectors import WordVectors

    from .conftest import lee_corpus_path

    pytest.importorskip("gensim", reason="word2vec training needs: pip install 'akindb[train]'")
    lines = lee_corpus_path().read_text(encoding="utf-8").splitlines()
    texts = [t for t in lines if t.strip()][:120]
    with akindb.open(tmp_path / "db") as db:
        col = db.create_collection("notes", model=None, dim=4)
        vecs = np.random.default_rng(0).normal(size=(len(texts), 4)).astype(np.float32)
        col.add(texts, ids=[f"t{i}" for i in range(len(texts))], vectors=vecs)
    out = tmp_path / "m"
    args = ["train", "word2vec", "--collection", "notes", "--db", str(tmp_path / "db")]
    args += ["--out", str(out), "--dim", "16", "--epochs", "2", "--min-count", "2"]
    res = CliRunner().invoke(app, [*args, "--workers", "1", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["texts"] == len(texts)  # every chunk, read once for the vocab
    wv = WordVectors.load(out, verify=True)
    assert wv.dim == 16 and "bushfire" in wv.index
    assert wv.meta["training"]["corpus"] == {"files": [], "collection": "notes"}
