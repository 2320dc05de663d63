"""word2vec through akindb vs gensim run directly, same settings, same tokens.

    python bench/word2vec_vs_gensim.py --out /tmp/akindb-models --json /tmp/akindb-bench/w2v.json

For each mode (skip-gram, CBOW): (1) ``akindb.models.word2vec.train_word2vec`` → our WordVectors
folder → our evaluators (``akindb.eval.words``); (2) gensim's ``Word2Vec`` on the same token
lists → gensim's own ``evaluate_word_analogies`` (restrict_vocab=30000, case-insensitive) and
``evaluate_word_pairs``. Tokens/s is corpus tokens × epochs / training seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from akindb.eval.words import STANDARD_SETS, evaluate_words
from akindb.models.word2vec import Corpus, TokenStream, Word2VecParams, train_word2vec
from akindb.models.word_tokenizer import WordTokenizer
from akindb.models.word_vectors import WordVectors

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CORPUS = DATA / "corpus" / "enwiki2015_AD00-19_sample.txt.gz"


def gensim_direct(params: Word2VecParams, sentences: list[list[str]]) -> dict[str, object]:
    import gensim

    t0 = time.perf_counter()
    model = gensim.models.Word2Vec(**params.gensim_kwargs())
    model.build_vocab(corpus_iterable=sentences)
    t1 = time.perf_counter()
    model.train(
        corpus_iterable=sentences,
        total_examples=model.corpus_count,
        epochs=params.epochs,
    )
    secs = time.perf_counter() - t1
    acc, sections = model.wv.evaluate_word_analogies(
        str(DATA / "word_analogy" / "questions-words.txt"),
        restrict_vocab=30000,
        case_insensitive=True,
    )
    covered = sum(
        len(s["correct"]) + len(s["incorrect"])
        for s in sections
        if s["section"] != "Total accuracy"
    )
    sims = {}
    for name, rel in STANDARD_SETS.items():
        _, (rho, _), oov = model.wv.evaluate_word_pairs(str(DATA / rel), restrict_vocab=10**7)
        sims[name] = {"spearman": round(float(rho), 5), "oov_percent": round(float(oov), 2)}
    return {
        "vocab_size": len(model.wv),
        "vocab_seconds": round(t1 - t0, 1),
        "train_seconds": round(secs, 1),
        "tokens_per_second": round(model.corpus_total_words * params.epochs / secs),
        "analogy_accuracy": round(float(acc), 5),
        "analogy_covered": covered,
        "similarity": sims,
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, required=True, help="folder for the trained models")
    ap.add_argument("--json", type=Path, required=True)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    corpus = Corpus([CORPUS])
    results: dict[str, object] = {"corpus": str(CORPUS)}
    sentences = [list(s) for s in TokenStream(corpus, WordTokenizer())]
    for mode in ("skipgram", "cbow"):
        params = Word2VecParams(mode=mode, epochs=args.epochs, workers=args.workers)  # type: ignore[arg-type]
        out = args.out / f"wiki-{mode}"
        t0 = time.perf_counter()
        _, report = train_word2vec(
            corpus,
            out,
            params,
            overwrite=True,
            on_epoch=lambda e, mode=mode: print(
                f"  {mode} epoch {e.epoch}: loss {e.loss:.3g}, {e.tokens_per_second:,.0f} tok/s",
                file=sys.stderr,
            ),
        )
        wall = time.perf_counter() - t0
        ours = evaluate_words(WordVectors.load(out), DATA)
        print(f"{mode} akindb done in {wall:.0f}s", file=sys.stderr)
        direct = gensim_direct(params, sentences)
        print(f"{mode} gensim done", file=sys.stderr)
        results[mode] = {
            "params": params.to_dict(),
            "akindb": {"report": report.to_dict(), "wall_seconds": round(wall, 1), **ours},
            "gensim": direct,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
