"""The BEIR loader on the real NFCorpus (from ../shared/data) and on small synthetic folders."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from akindb.errors import InvalidArgumentError, NotFoundError
from akindb.eval import BeirDataset, BeirDoc, load_beir

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
NFCORPUS = SHARED_DATA / "ir" / "nfcorpus"

needs_nfcorpus = pytest.mark.skipif(
    not (NFCORPUS / "qrels" / "test.tsv").is_file(),
    reason=f"NFCorpus (BEIR format) not found at {NFCORPUS}; see ../shared/data/README.md",
)

CORPUS: list[dict[str, object]] = [
    {"_id": "d1", "title": "Vitamin D", "text": "Sunlight makes it.", "metadata": {"url": "u"}},
    {"_id": "d2", "title": "", "text": "No title here."},
    {"_id": "d3", "text": "Title key absent."},
    {"_id": 4, "title": "Numeric id", "text": "Kept as a string."},
]
QUERIES: list[dict[str, object]] = [
    {"_id": "q1", "text": "what makes vitamin d", "metadata": {}},
    {"_id": "q2", "text": "untitled docs"},
    {"_id": "q3", "text": "only judged in dev"},
    {"_id": "q4", "text": "never judged"},
]
TEST_QRELS = "query-id\tcorpus-id\tscore\r\nq1\td1\t2\r\nq1\t4\t1\r\nq2\td2\t1\r\nq2\td3\t0\r\n"
DEV_QRELS = "query-id\tcorpus-id\tscore\nq3\td1\t1\n"


def _jsonl(records: list[dict[str, object]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def write_beir(root: Path, *, gz: bool = False) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    corpus = _jsonl(CORPUS)
    if gz:
        with gzip.open(root / "corpus.jsonl.gz", "wt", encoding="utf-8") as f:
            f.write(corpus)
    else:
        (root / "corpus.jsonl").write_text(corpus, encoding="utf-8")
    (root / "queries.jsonl").write_text(_jsonl(QUERIES) + "\n", encoding="utf-8")
    (root / "qrels").mkdir(exist_ok=True)
    (root / "qrels" / "test.tsv").write_bytes(TEST_QRELS.encode())
    (root / "qrels" / "dev.tsv").write_text(DEV_QRELS, encoding="utf-8")
    return root


# --- real data --------------------------------------------------------------------------------


@needs_nfcorpus
@pytest.mark.parametrize(
    ("split", "n_queries", "n_qrels"),
    [("test", 323, 12_334), ("dev", 324, 11_385), ("train", 2_590, 110_575)],
)
def test_nfcorpus_counts(split: str, n_queries: int, n_qrels: int) -> None:
    data = load_beir(NFCORPUS, split)
    assert data.name == "nfcorpus" and data.split == split
    assert len(data.corpus) == 3_633
    assert len(data.queries) == len(data.qrels) == n_queries
    assert sum(len(docs) for docs in data.qrels.values()) == n_qrels
    assert set(data.queries) == set(data.qrels)
    grades = {grade for docs in data.qrels.values() for grade in docs.values()}
    assert grades == ({1} if split == "train" else {1, 2})
    judged_docs = {doc_id for docs in data.qrels.values() for doc_id in docs}
    assert judged_docs <= set(data.corpus)


@needs_nfcorpus
def test_nfcorpus_documents_and_queries() -> None:
    data = load_beir(str(NFCORPUS))  # str paths work; split defaults to "test"
    assert data.split == "test"
    assert data.qrels["PLAIN-2"]["MED-2427"] == 2
    assert data.queries["PLAIN-2"] == "Do Cholesterol Statin Drugs Cause Breast Cancer?"
    doc = data.corpus["MED-10"]
    assert doc.title == (
        "Statin Use and Breast Cancer Survival: A Nationwide Cohort Study from Finland"
    )
    assert doc.text.startswith("Recent studies have suggested that statins")
    assert doc.full_text == f"{doc.title} {doc.text}"
    assert all(d.title and d.text for d in data.corpus.values())
    assert all(text for text in data.queries.values())
    assert repr(data) == (
        "BeirDataset(name='nfcorpus', split='test', docs=3633, queries=323, qrels=12334)"
    )


# --- synthetic folders ------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_synthetic_folder(tmp_path: Path, gz: bool) -> None:
    data = load_beir(write_beir(tmp_path / "tiny", gz=gz))
    assert isinstance(data, BeirDataset)
    assert data.name == "tiny"
    assert set(data.corpus) == {"d1", "d2", "d3", "4"}
    assert data.corpus["d1"] == BeirDoc("d1", "Vitamin D", "Sunlight makes it.")
    assert data.corpus["d1"].full_text == "Vitamin D Sunlight makes it."
    assert data.corpus["d2"].full_text == "No title here."
    assert data.corpus["d3"].title == "" and data.corpus["d3"].full_text == "Title key absent."
    assert data.corpus["4"].title == "Numeric id"
    # only queries judged in the split; CRLF line ends and the header are handled
    assert data.queries == {"q1": "what makes vitamin d", "q2": "untitled docs"}
    assert data.qrels == {"q1": {"d1": 2, "4": 1}, "q2": {"d2": 1, "d3": 0}}


def test_other_split(tmp_path: Path) -> None:
    data = load_beir(write_beir(tmp_path), split="dev")
    assert data.queries == {"q3": "only judged in dev"}
    assert data.qrels == {"q3": {"d1": 1}}


def test_plain_corpus_wins_over_gzip(tmp_path: Path) -> None:
    root = write_beir(tmp_path, gz=True)
    (root / "corpus.jsonl").write_text(_jsonl([{"_id": "only", "text": "plain"}]), "utf-8")
    assert set(load_beir(root).corpus) == {"only"}


def test_qrels_without_header_and_utf8_bom(tmp_path: Path) -> None:
    root = write_beir(tmp_path)
    (root / "qrels" / "test.tsv").write_text("\ufeffq1\td1\t1\n", encoding="utf-8")
    (root / "queries.jsonl").write_text("\ufeff" + _jsonl(QUERIES), encoding="utf-8")
    data = load_beir(root)
    assert data.qrels == {"q1": {"d1": 1}}
    assert data.queries == {"q1": "what makes vitamin d"}


# --- errors -----------------------------------------------------------------------------------


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no BEIR folder at"):
        load_beir(tmp_path / "nope")


def test_unknown_split_lists_available(tmp_path: Path) -> None:
    root = write_beir(tmp_path)
    with pytest.raises(NotFoundError, match=r"no split 'train'.*available splits: 'dev', 'test'"):
        load_beir(root, split="train")
    (root / "qrels" / "dev.tsv").unlink()
    (root / "qrels" / "test.tsv").unlink()
    with pytest.raises(NotFoundError, match="available splits: none"):
        load_beir(root)


@pytest.mark.parametrize(
    ("remove", "message"),
    [("corpus.jsonl", "expected corpus.jsonl or corpus.jsonl.gz"), ("queries.jsonl", "queries")],
)
def test_missing_files(tmp_path: Path, remove: str, message: str) -> None:
    root = write_beir(tmp_path)
    (root / remove).unlink()
    with pytest.raises(NotFoundError, match=message):
        load_beir(root)


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_bad_json_line_names_file_and_line(tmp_path: Path, gz: bool) -> None:
    root = write_beir(tmp_path, gz=gz)
    bad = _jsonl(CORPUS[:2]) + "\n" + '{"_id": "d9", "text": \n'  # line 4 (line 3 is blank)
    name = "corpus.jsonl.gz" if gz else "corpus.jsonl"
    if gz:
        with gzip.open(root / name, "wt", encoding="utf-8") as f:
            f.write(bad)
    else:
        (root / name).write_text(bad, encoding="utf-8")
    with pytest.raises(InvalidArgumentError, match=rf"{name}:4: not valid JSON"):
        load_beir(root)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('["not", "an", "object"]', "expected a JSON object, got list"),
        ('{"text": "no id"}', 'no "_id" key'),
        ('{"_id": "d1", "text": "again"}', "duplicate document id 'd1'"),
        ('{"_id": "d8", "text": 42}', '"text" must be a string, got int'),
        ('{"_id": ["x"], "text": "t"}', '"_id" must be a string, got list'),
    ],
)
def test_bad_corpus_records(tmp_path: Path, line: str, message: str) -> None:
    root = write_beir(tmp_path)
    (root / "corpus.jsonl").write_text(_jsonl(CORPUS) + line + "\n", encoding="utf-8")
    with pytest.raises(InvalidArgumentError, match=rf"corpus.jsonl:5: .*{message}"):
        load_beir(root)


def test_duplicate_query(tmp_path: Path) -> None:
    root = write_beir(tmp_path)
    (root / "queries.jsonl").write_text(_jsonl([*QUERIES, QUERIES[0]]), encoding="utf-8")
    with pytest.raises(InvalidArgumentError, match=r"queries.jsonl:5: duplicate query id 'q1'"):
        load_beir(root)


def test_invalid_utf8_names_its_line(tmp_path: Path) -> None:
    root = write_beir(tmp_path)
    data = _jsonl(CORPUS[:2]).encode() + b'{"_id": "d5", "text": "caf\xe9"}\n'
    (root / "corpus.jsonl").write_bytes(data)
    with pytest.raises(InvalidArgumentError, match=r"corpus.jsonl:3: not valid UTF-8"):
        load_beir(root)


def test_corrupt_gzip(tmp_path: Path) -> None:
    root = write_beir(tmp_path, gz=True)
    (root / "corpus.jsonl.gz").write_bytes(b"this is not gzip data")
    with pytest.raises(InvalidArgumentError, match="cannot be read"):
        load_beir(root)


@pytest.mark.parametrize(
    ("qrels", "message"),
    [
        ("query-id\tcorpus-id\tscore\nq1\td1\n", r"test.tsv:2: expected 3 tab-separated fields"),
        ("query-id\tcorpus-id\tscore\nq1 0 d1 1\n", r"test.tsv:2: expected 3 .* got 1"),
        ("query-id\tcorpus-id\tscore\nq1\td1\thigh\n", r"test.tsv:2: the score 'high' is not"),
        ("q1\td1\t1\nq1\td1\t2\n", r"test.tsv:2: query 'q1' judges document 'd1' twice"),
        ("q1\td1\t1\nq9\td1\t1\nq8\td2\t1\n", r"judges 2 queries that .* \(e.g. 'q9', 'q8'\)"),
    ],
    ids=["two-fields", "trec-format", "bad-score", "duplicate", "unknown-query"],
)
def test_bad_qrels(tmp_path: Path, qrels: str, message: str) -> None:
    root = write_beir(tmp_path)
    (root / "qrels" / "test.tsv").write_text(qrels, encoding="utf-8")
    with pytest.raises(InvalidArgumentError, match=message):
        load_beir(root)
