"""The word2vec family: train word vectors on your own corpus and embed texts with them.

One module per job:

- ``train``: ``train_word2vec`` and its knobs (``Word2VecParams``), gensim as the engine;
- ``corpus``: texts streamed from files, folders or any re-iterable (``Corpus``), token lists;
- ``tokenizer``: the word tokenizer a model is trained and queried with;
- ``work``: the resumable work folder (token file, per-epoch checkpoint) beside the output;
- ``vectors``: ``WordVectors``, the frozen, memory-mappable artifact search uses;
- ``sif``: ``SIFEmbedder``, sentence vectors from word vectors (what backs a collection).

The training names are re-exported here, so ``from akindb.models.word2vec import
train_word2vec`` reads as before the package existed.
"""

from akindb.models.word2vec.corpus import Corpus, TokenStream
from akindb.models.word2vec.train import (
    EpochReport,
    TrainReport,
    Word2VecParams,
    build_gensim_model,
    train_word2vec,
)
from akindb.models.word2vec.vectors import WordVectors

__all__ = [
    "Corpus",
    "EpochReport",
    "TokenStream",
    "TrainReport",
    "Word2VecParams",
    "WordVectors",
    "build_gensim_model",
    "train_word2vec",
]
