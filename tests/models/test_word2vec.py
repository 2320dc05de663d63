"""word2vec training, the WordVectors artifact, bad input and the CLI (real corpus: Lee)."""

from __future__ import annotations

import doctest
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from akindb.cli.main import app
from akindb.errors import InvalidArgumentError, ModelError, ModelNotFoundError
from akindb.eval.words import evaluate_similarity
from akindb.models.word2vec import Corpus, EpochReport, Word2VecParams, train_word2vec
from akindb.models.word2vec import train as w2v_module
from akindb.models.word2vec import work as w2v_work
from akindb.models.word2vec.tokenizer import TokenizerConfig
from akindb.models.word2vec.vectors import MARKER, OutOfVocabularyError, WordVectors
from tests.conftest import shared_data

from .conftest import LEE_PARAMS, lee_corpus_path

pytest.importorskip("gensim", reason="word2vec training needs: pip install 'akindb[train]'")
runner = CliRunner()


def _lee_lines(n: int) -> list[str]:
    with open(lee_corpus_path(), encoding="utf-8") as fh:
        return [next(fh) for _ in range(n)]


def test_related_words_end_up_closer_than_unrelated(lee_wv: WordVectors) -> None:
    """Human similarity judgements (WS-353, MEN) correlate with the cosine: a real property.

    Three seeds gave WS-353 0.23-0.25 and MEN 0.33-0.34 (133 and 326 covered pairs); the same
    vectors shuffled across words (the control) must not pass the floors.
    """
    sims = shared_data() / "word_similarity"
    ws = evaluate_similarity(lee_wv, sims / "EN-WS-353-ALL.txt")
    men = evaluate_similarity(lee_wv, sims / "EN-MEN-TR-3k.txt")
    assert ws.covered >= 100 and men.covered >= 300
    assert ws.spearman > 0.12 and men.spearman > 0.2
    perm = np.random.default_rng(0).permutation(len(lee_wv))
    control = WordVectors(lee_wv.words, np.asarray(lee_wv.vectors)[perm], lee_wv.counts)
    assert abs(evaluate_similarity(control, sims / "EN-MEN-TR-3k.txt").spearman) < 0.15


def test_artifact_is_ours_frozen_and_memory_mapped(lee_model: Path, lee_wv: WordVectors) -> None:
    assert isinstance(lee_wv.vectors, np.memmap)
    meta = json.loads((lee_model / MARKER).read_text())
    assert meta["format"] == "akindb-word-vectors" and meta["version"] == 1
    assert meta["training"]["params"] == LEE_PARAMS.to_dict()
    report = meta["training"]["report"]
    assert report["tokens"] > 50000 and len(report["epochs"]) == LEE_PARAMS.epochs
    assert all(e["tokens_per_second"] > 0 for e in report["epochs"])
    assert meta["tokenizer"]["kind"] == "word" and meta["tokenizer"]["lowercase"]
    assert np.all(np.diff(lee_wv.counts) <= 0)  # most frequent first
    assert lee_wv.counts.min() >= LEE_PARAMS.min_count
    assert not any(p.name.endswith(".partial") for p in lee_model.parent.iterdir())
    hits = lee_wv.similar("Government", k=5)
    assert len(hits) == 5 and "government" not in [h.word for h in hits]
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    WordVectors.load(lee_model, verify=True)
    assert lee_wv.analogy("man", "king", "woman", k=3)[0].word not in {"man", "king", "woman"}


def test_analogy_names_every_unknown_word(lee_wv: WordVectors) -> None:
    with pytest.raises(OutOfVocabularyError) as exc:
        lee_wv.analogy("zzqxv", "king", "qqzzy")
    assert exc.value.words == ["zzqxv", "qqzzy"]
    assert "'zzqxv'" in str(exc.value) and "'qqzzy'" in str(exc.value)


def test_changed_vectors_fail_verification(lee_model: Path, tmp_path: Path) -> None:
    wv = WordVectors.load(lee_model, mmap=False)
    copy = wv.save(tmp_path / "copy")
    arr = np.load(copy / "vectors.npy")
    arr[0, 0] += 1.0
    np.save(copy / "vectors.npy", arr)
    with pytest.raises(ModelError, match="SHA-256"):
        WordVectors.load(copy, verify=True)


@pytest.mark.parametrize("module", [w2v_module, w2v_work], ids=lambda m: m.__name__)
def test_docstring_examples(module: object) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)  # type: ignore[arg-type]
    assert result.attempted > 0 and result.failed == 0


def test_bad_corpora_and_folders(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n")
    with pytest.raises(InvalidArgumentError, match="no words"):
        train_word2vec(Corpus([empty]), tmp_path / "m1")
    binary = tmp_path / "blob.txt"
    binary.write_bytes(b"\x00\x01\x02" * 100)
    with pytest.raises(InvalidArgumentError, match="binary"):
        Corpus([binary])
    with pytest.raises(InvalidArgumentError, match="does not exist"):
        Corpus([tmp_path / "missing.txt"])
    tiny = tmp_path / "tiny.txt"
    tiny.write_text("the cat sat\n" * 20)
    with pytest.raises(InvalidArgumentError, match="too few"):
        train_word2vec(Corpus([tiny]), tmp_path / "m2", Word2VecParams(min_count=1))
    assert not (tmp_path / "m1").exists() and not (tmp_path / "m2").exists()
    assert not list(tmp_path.glob("*.unfinished"))  # nothing to resume: work folders removed
    with pytest.raises(ModelNotFoundError, match="not an akindb word-vector model"):
        WordVectors.load(tmp_path)
    with pytest.raises(InvalidArgumentError):
        Word2VecParams(mode="glove")  # type: ignore[arg-type]


def test_ctrl_c_leaves_nothing_that_looks_complete_and_resumes(tmp_path: Path) -> None:
    """Ctrl-C after epoch 1: no model at ``out``; the checkpoint does not load as a model;
    ``resume=True`` finishes the run, and (one worker, a seed) gives the vectors an uninterrupted
    run gives, up to float32 rounding of the restarted learning-rate schedule."""

    def interrupt(e: EpochReport) -> None:
        if e.epoch == 1:
            raise KeyboardInterrupt

    texts = _lee_lines(100)
    params = Word2VecParams(min_count=2, epochs=3, workers=1, dim=20)
    out = tmp_path / "model"
    with pytest.raises(KeyboardInterrupt):
        train_word2vec(Corpus(texts=texts), out, params, on_epoch=interrupt)
    work = tmp_path / "model.unfinished"
    assert [p.name for p in tmp_path.iterdir()] == [work.name]
    assert sorted(p.name for p in work.iterdir()) == [
        "checkpoint.pkl", "tokenizer_config.json", "tokens.txt",
    ]  # fmt: skip
    with pytest.raises(ModelNotFoundError, match=r"unfinished word2vec training run.*--resume"):
        WordVectors.load(work)
    with pytest.raises(ModelNotFoundError):
        WordVectors.load(out)
    with pytest.raises(InvalidArgumentError, match=r"unfinished run.*--resume"):
        train_word2vec(Corpus(texts=texts), out, params)
    seen: list[int] = []
    wv, report = train_word2vec(
        Corpus(texts=texts), out, params, resume=True, on_epoch=lambda e: seen.append(e.epoch)
    )
    assert seen == [2, 3] and report.resumed_from_epoch == 1
    assert [e.epoch for e in report.epochs] == [1, 2, 3]
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
    straight, _ = train_word2vec(Corpus(texts=texts), tmp_path / "straight", params)
    assert straight.words == wv.words
    np.testing.assert_allclose(np.asarray(straight.vectors), np.asarray(wv.vectors), atol=1e-3)
    meta = json.loads((out / MARKER).read_text())
    assert meta["training"]["report"]["resumed_from_epoch"] == 1


_KILL_AFTER_FIRST_EPOCH = """
import os, signal, sys
from akindb.models.word2vec import Corpus, Word2VecParams, train_word2vec

def kill(e):
    os.kill(os.getpid(), signal.SIGKILL)  # a hard crash right after the epoch-1 checkpoint

train_word2vec(Corpus([sys.argv[1]]), sys.argv[2],
               Word2VecParams(dim=16, epochs=3, min_count=2, workers=1), on_epoch=kill)
"""


def test_killed_run_resumes_from_the_cli(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    corpus = tmp_path / "c.txt"
    corpus.write_text("".join(_lee_lines(120)), encoding="utf-8")
    out = tmp_path / "m"
    proc = subprocess.run(
        [sys.executable, "-c", _KILL_AFTER_FIRST_EPOCH, str(corpus), str(out)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    work = tmp_path / "m.unfinished"
    assert not out.exists() and (work / "checkpoint.pkl").is_file()
    assert not list(work.glob("*.tmp"))  # the checkpoint was renamed into place whole
    args = ["train", "word2vec", str(corpus), "--out", str(out), "--dim", "16", "--epochs", "3"]
    args += ["--min-count", "2", "--workers", "1"]
    res = runner.invoke(app, args)
    assert res.exit_code == 2 and "--resume" in res.output and "--force" in res.output
    res = runner.invoke(app, [*args, "--dim", "20", "--resume"])
    assert res.exit_code == 2 and "params.dim=16" in res.output and "params.dim=20" in res.output
    res = runner.invoke(app, [*args, "--resume", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["resumed_from_epoch"] == 1 and [e["epoch"] for e in data["epochs"]] == [1, 2, 3]
    assert WordVectors.load(out, verify=True).dim == 16 and not work.exists()


def test_cli_ctrl_c_points_to_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import akindb.models.word2vec as w2v

    real = w2v.train_word2vec

    def interrupted(*args: object, **kwargs: object) -> object:
        def stop(e: EpochReport) -> None:
            raise KeyboardInterrupt

        kwargs["on_epoch"] = stop
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(w2v, "train_word2vec", interrupted)
    corpus = tmp_path / "c.txt"
    corpus.write_text("".join(_lee_lines(60)), encoding="utf-8")
    res = runner.invoke(
        app, ["train", "word2vec", str(corpus), "--out", str(tmp_path / "m"), "--min-count", "2"]
    )
    assert res.exit_code == 130
    assert "checkpointed" in res.output and "--resume" in res.output
    assert not (tmp_path / "m").exists() and (tmp_path / "m.unfinished").is_dir()


def test_leftovers_of_a_run_killed_before_its_first_checkpoint_are_cleared(
    tmp_path: Path,
) -> None:
    work = tmp_path / "m.unfinished"
    work.mkdir()
    (work / "tokens.txt.tmp").write_text("half a line")
    wv, report = train_word2vec(
        Corpus(texts=_lee_lines(60)), tmp_path / "m", Word2VecParams(min_count=2, epochs=1),
        resume=True,
    )  # fmt: skip
    assert report.resumed_from_epoch == 0 and len(wv) > 10 and not work.exists()


def test_cbow_with_a_trained_bpe_tokenizer(tmp_path: Path) -> None:
    _wv, report = train_word2vec(
        Corpus(texts=_lee_lines(150)),
        tmp_path / "bpe",
        Word2VecParams(mode="cbow", dim=16, epochs=2, min_count=2, workers=1),
        tokenizer=TokenizerConfig(kind="bpe", vocab_size=500),
    )
    loaded = WordVectors.load(tmp_path / "bpe")
    assert loaded.tokenizer.config.kind == "bpe" and (tmp_path / "bpe" / "tokenizer.json").is_file()
    pieces = loaded.tokenizer.tokens("Unbelievably photosynthetic")
    assert len(pieces) > 2 and all(p in loaded for p in pieces if p != "[UNK]")
    assert report.vocab_size == len(loaded) <= 500


def test_cli_train_similar_analogy_eval(tmp_path: Path, lee_model: Path) -> None:
    corpus = tmp_path / "c.txt"
    corpus.write_text("".join(_lee_lines(120)), encoding="utf-8")
    out = tmp_path / "m"
    args = ["train", "word2vec", str(corpus), "--out", str(out), "--dim", "16", "--epochs", "2"]
    res = runner.invoke(app, [*args, "--min-count", "2", "--workers", "1", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["vocab_size"] > 100 and len(data["epochs"]) == 2
    again = runner.invoke(app, args)
    assert again.exit_code == 2 and "exists" in again.output
    res = runner.invoke(app, ["similar", "police", "--model", str(lee_model), "-k", "3", "--json"])
    assert res.exit_code == 0 and len(json.loads(res.stdout)["neighbours"]) == 3
    res = runner.invoke(app, ["analogy", "king", "zzqxv", "woman", "--model", str(lee_model)])
    assert res.exit_code == 2 and "zzqxv" in res.output
    data_dir = shared_data()
    res = runner.invoke(
        app, ["eval", "words", "--model", str(lee_model), "--data", str(data_dir), "--json"]
    )
    assert res.exit_code == 0, res.output
    ev = json.loads(res.stdout)
    assert ev["analogy"]["restrict_vocab"] == 30000 and len(ev["analogy"]["sections"]) == 14
    assert [s["name"] for s in ev["similarity"]] == ["WS-353", "SimLex-999", "MEN"]
    res = runner.invoke(app, ["tokens", "The Dog's bowl", "--model", str(lee_model), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["tokens"] == ["the", "dog's", "bowl"]
