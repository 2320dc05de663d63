"""The quickstart's demo questions (scripts/quickstart.sh) on the folder it indexes (the Python
3.11 FAQ, 9 pages of ../shared/data/pydocs) with the real model and the default pipeline: the
section that answers each is in the top 3 (issue 17, part 7). Nothing is special-cased: the
questions are in no tuning set (the fusion was chosen on NFCorpus dev and the "see also" task of
bench/pydocs_task.py, which leaves the FAQ out)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import akindb
from tests.realdata import extract_pydocs

FAQ = [f"faq/{n}.rst.txt" for n in ("design", "extending", "general", "gui", "index",
                                    "installed", "library", "programming", "windows")]
COPY_MISS = pytest.mark.xfail(strict=True, reason=(
    "not reached: MiniLM ranks the copy section 9th (cosine 0.333; 'How do you remove "
    "duplicates from a list?' is 1st at 0.547) and BM25 cannot help: the section shares no "
    "word with the question (its words: copy, copied, slicing); the keyword gate closes "
    "(strength 0.19), so hybrid = vector order. Generic changes measured (bench/demo_rank.py): "
    "300 fusion candidates 9th, RM3 feedback 9th, dense Rocchio 9th/11th; the default dense "
    "feedback (session 6: Rocchio on the fused ranking, convex 0.6) does not run when the gate "
    "is shut: 9th (also with session 7's three rounds); forced on for this query (0.3-0.5, "
    "3-10 passages) 8th-10th. MiniLM's static word embeddings do put 'copy' near "
    "'duplicate', but expanding BM25 with such neighbours lost on both dev tasks. The section is "
    "already one clean 370-character chunk; sentence by sentence MiniLM gives it at most 0.38. "
    "The session-9 fine-tune (one epoch, NFCorpus train; test +0.006) ranks it 10th. Needs a "
    "stronger model (akindb models add); see docs/benchmarks.md, 'Dense feedback on by default' "
    "and 'Session 9, the lead'"))
DEMO = [
    pytest.param("duplicate a list so that changing the duplicate leaves the original alone",
                 "How do I copy an object in Python?", id="copy", marks=COPY_MISS),
    pytest.param("why is my program slow and how can I speed it up",
                 "My program is too slow. How do I speed it up?", id="slow"),
]


@pytest.fixture(scope="module")
def col(tmp_path_factory: pytest.TempPathFactory) -> Iterator[akindb.Collection]:
    root = tmp_path_factory.mktemp("demo")
    folder = extract_pydocs(root / "docs", FAQ)
    db = akindb.open(root / "db")
    c = db.create_collection("default")
    assert c.add_files([folder / "faq"]).added == len(FAQ)
    yield c
    db.close()


@pytest.mark.parametrize(("question", "section"), DEMO)
def test_demo_question_answered_in_top_3(col: akindb.Collection, question: str,
                                         section: str) -> None:
    hits = col.search(question, k=3)  # the default pipeline, as `akindb search` runs it
    assert any(section in h.text for h in hits), [h.text[:80] for h in hits]
    assert all(0.0 <= h.score <= 1.0 for h in hits)
