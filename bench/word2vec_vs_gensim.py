"""word2vec through akindb vs gensim run directly, same settings, same tokens.

    python bench/word2vec_vs_gensim.py --out /tmp/akindb-models --json /tmp/akindb-bench/w2v.json

For each mode (skip-gram, CBOW): (1) ``akindb.models.word2vec.train_word2vec`` → our WordVectors
folder → our evaluators (``akindb.eval.words``); (2) gensim's ``Word2Vec`` on the same token
lists held in memory → gensim's own ``evaluate_word_analogies`` (restrict_vocab=30000,
case-insensitive) and ``evaluate_word_pairs``; (3) unless ``--no-file-peer``, gensim's
``corpus_file`` mode on the same tokens written to a plain-text file beforehand (the fastest way
gensim has; akindb's trainer writes such a file in its vocabulary pass). Tokens/s is corpus
tokens × epochs / training seconds (epochs only; akindb's wall time adds reading and tokenizing
the gzip once, the checkpoints and the SIF fit).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from akindb.eval.words import STANDARD_SETS, evaluate_words
from akindb.models.word2vec import EpochReport, Word2VecParams, train_word2vec
from akindb.models.word2vec.corpus import Corpus, TokenStream
from akindb.models.word2vec.tokenizer import WordTokenizer
from akindb.models.word2vec.vectors import WordVectors

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CORPUS = DATA / "corpus" / "enwiki2015_AD00-19_sample.txt.gz"


def gensim_direct(
    params: Word2VecParams, sentences: list[list[str]], corpus_file: Path | None = None
) -> dict[str, object]:
    """gensim on the in-memory lists, or (``corpus_file``) on the same tokens in a file."""
    import gensim  # type: ignore[import-untyped]

    t0 = time.perf_counter()
    model = gensim.models.Word2Vec(**params.gensim_kwargs())
    model.build_vocab(corpus_iterable=sentences)
    t1 = time.perf_counter()
    if corpus_file is None:
        model.train(
            corpus_iterable=sentences,
            total_examples=model.corpus_count,
            epochs=params.epochs,
        )
    else:
        model.train(
            corpus_file=str(corpus_file),
            total_examples=model.corpus_count,
            total_words=model.corpus_total_words,
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
    ap.add_argument("--modes", default="skipgram,cbow")
    ap.add_argument("--no-file-peer", action="store_true", help="skip gensim's corpus_file run")
    args = ap.parse_args()
    corpus = Corpus([CORPUS])
    results: dict[str, object] = {"corpus": str(CORPUS), "load_start": os.getloadavg()}
    sentences = [list(s) for s in TokenStream(corpus, WordTokenizer())]
    token_file = None
    if not args.no_file_peer:
        args.out.mkdir(parents=True, exist_ok=True)
        token_file = args.out / "bench-tokens.txt"
        token_file.write_text("".join(" ".join(s) + "\n" for s in sentences), encoding="utf-8")
    for mode in args.modes.split(","):
        params = Word2VecParams(mode=mode, epochs=args.epochs, workers=args.workers)
        out = args.out / f"wiki-{mode}"

        def show(e: EpochReport, mode: str = mode) -> None:
            print(
                f"  {mode} epoch {e.epoch}: loss {e.loss:.3g}, {e.tokens_per_second:,.0f} tok/s",
                file=sys.stderr,
            )

        t0 = time.perf_counter()
        _, report = train_word2vec(corpus, out, params, overwrite=True, on_epoch=show)
        wall = time.perf_counter() - t0
        ours = evaluate_words(WordVectors.load(out), DATA)
        print(f"{mode} akindb done in {wall:.0f}s", file=sys.stderr)
        direct = gensim_direct(params, sentences)
        print(f"{mode} gensim done", file=sys.stderr)
        entry: dict[str, object] = {
            "params": params.to_dict(),
            "akindb": {"report": report.to_dict(), "wall_seconds": round(wall, 1), **ours},
            "gensim": direct,
        }
        results[mode] = entry
        if token_file is not None:
            entry["gensim_corpus_file"] = gensim_direct(params, sentences, token_file)
            print(f"{mode} gensim corpus_file done", file=sys.stderr)
        results["load_end"] = os.getloadavg()
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1))
    if token_file is not None:
        token_file.unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
