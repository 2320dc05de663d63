"""A word2vec model trained once per session on the Lee background corpus (gensim's own word2vec
test corpus, ``shared/data/corpus/lee_background.cor``: 300 news documents, ~60k tokens)."""

from __future__ import annotations

from pathlib import Path

import pytest

from akindb.models.word2vec import Corpus, Word2VecParams, train_word2vec
from akindb.models.word2vec.vectors import WordVectors
from tests.conftest import shared_data

LEE_PARAMS = Word2VecParams(dim=50, epochs=25, min_count=2, workers=1, seed=1)


def lee_corpus_path() -> Path:
    return shared_data() / "corpus" / "lee_background.cor"


@pytest.fixture(scope="session")
def lee_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder of a skip-gram model on the Lee corpus (workers=1 and a seed: reproducible)."""
    pytest.importorskip("gensim", reason="word2vec training needs: pip install 'akindb[train]'")
    out = tmp_path_factory.mktemp("w2v") / "lee-sg"
    train_word2vec(Corpus([lee_corpus_path()]), out, LEE_PARAMS)
    return out


@pytest.fixture(scope="session")
def lee_wv(lee_model: Path) -> WordVectors:
    return WordVectors.load(lee_model)
