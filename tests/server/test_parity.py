"""One suite, two backends: every call gives the same results and raises the same errors
embedded and over HTTP (``backend`` is parametrised in conftest)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import akindb
from akindb import errors
from akindb.collection.ingest import IngestReport
from akindb.retrieval.context import RagContext
from akindb.types import Hit, Record
from tests.server.conftest import EMBEDDER, Backend

TEXTS = [
    "The cat sat on the warm mat by the fire.",
    "Dogs bark at the postman every morning.",
    "A recipe for bread: flour, water, salt and yeast.",
    "Stock markets fell sharply after the announcement.",
    "The kitten chased a ball of yarn across the mat.",
]
IDS = ["cat", "dog", "bread", "stocks", "kitten"]
METAS = [{"topic": "pets"}, {"topic": "pets"}, {"topic": "food"}, {"topic": "money"},
         {"topic": "pets"}]


def _filled(backend: Backend) -> object:
    col = backend.create("docs")
    assert col.add(TEXTS, ids=IDS, metadatas=METAS, sources=[f"{i}.txt" for i in IDS]) == IDS
    return col


def test_add_search_get_count(backend: Backend) -> None:
    col = _filled(backend)
    assert col.count() == 5
    hits = col.search("cat on the mat", k=3, mode="vector")
    assert all(isinstance(h, Hit) for h in hits)
    assert [h.id for h in hits][:2] == ["cat", "kitten"]
    assert hits[0].source == "cat.txt" and hits[0].metadata == {"topic": "pets"}
    assert hits[0].score >= hits[1].score >= hits[2].score
    assert math.isclose(hits[0].distance, 1 - hits[0].score, abs_tol=1e-6)
    recs = col.get(["bread"])
    assert isinstance(recs[0], Record) and recs[0].text == TEXTS[2]
    assert recs[0].chunks[0].start == 0 and recs[0].chunks[0].end == len(TEXTS[2])
    assert [r.id for r in col.get(where={"topic": "pets"})] == ["cat", "dog", "kitten"]
    assert len(col.get(limit=2, offset=1)) == 2
    assert col.search("mat", k=5, where={"topic": "pets"})[0].id in {"cat", "kitten"}
    assert all(h.score >= 0.2 for h in col.search("mat cat", k=5, min_score=0.2, mode="vector"))
    for mode in ("vector", "keyword", "hybrid"):
        hit = col.search("kitten yarn", k=1, mode=mode, explain=True)[0]
        assert hit.id == "kitten"
        assert hit.explain().mode == mode


def _results(col: object) -> list[object]:
    """What search, context and more_like return, as comparable plain data."""
    c: akindb.Collection = col  # type: ignore[assignment]
    queries = ("yarn", "bread flour", "postman", "markets")
    out: list[object] = [[(h.id, round(h.score, 5), h.explain().to_dict())
                          for h in c.search(q, k=4)] for q in queries]
    out += [c.context(q, max_tokens=40, k=4).to_dict() for q in queries]
    out += [[(h.id, round(h.score, 5), h.chunk, h.explain().to_dict())
             for h in c.more_like(i, k=3)] for i in ("cat", "bread")]
    out += [[(h.id, round(h.score, 5)) for h in c.more_like(text="warm fire", k=2)]]
    return out


def test_same_results_both_ways(backend: Backend, tmp_path: object) -> None:
    got = _results(_filled(backend))
    # the embedded oracle on a fresh database with the same data
    import tempfile

    with tempfile.TemporaryDirectory() as d, akindb.open(d) as db:
        ref = db.create_collection("docs", model=EMBEDDER)
        ref.add(TEXTS, ids=IDS, metadatas=METAS, sources=[f"{i}.txt" for i in IDS])
        want = _results(ref)
    assert got == want


def _folder(root: Path) -> Path:
    docs = root / "files"
    (docs / "sub").mkdir(parents=True)
    (docs / "cats.md").write_text("# Cats\n\nThe cat sat on the warm mat by the fire.\n")
    (docs / "bread.txt").write_text("A recipe for bread: flour, water, salt and yeast.")
    (docs / "page.html").write_text("<h1>Dogs</h1><p>Dogs bark at the postman.</p><script>x()")
    (docs / "latin.txt").write_bytes("Crème brûlée à la française".encode("cp1252"))
    (docs / "blob.bin").write_bytes(b"\x00\x01\x02 binary")
    (docs / "sub" / "blank.txt").write_text("  \n ")
    (docs / ".hidden.txt").write_text("never indexed")
    return docs


def test_add_files(backend: Backend, tmp_path: Path) -> None:
    docs = _folder(tmp_path)
    col = backend.create("files")
    seen: list[tuple[int, int, int]] = []
    rep = col.add_files([docs], metadata={"team": "a"}, progress=lambda *a: seen.append(a))
    assert isinstance(rep, IngestReport)
    assert (rep.files, rep.added, rep.updated, rep.unchanged, rep.chunks) == (6, 4, 0, 0, 4)
    assert dict(rep.skipped) == {"binary": 1, "empty": 1}
    assert seen and seen[-1] == (6, 6, 4)
    hit = col.search("postman", k=1, mode="keyword")[0]
    page = str((docs / "page.html").resolve())
    assert hit.id == page and hit.source == page
    assert hit.text == "# Dogs\n\nDogs bark at the postman."
    assert hit.metadata == {"source": page, "filename": "page.html", "ext": ".html",
                            "kind": "html", "size": (docs / "page.html").stat().st_size,
                            "team": "a"}
    assert col.get(str((docs / "latin.txt").resolve()))[0].text == "Crème brûlée à la française"
    again = col.add_files([docs])  # unchanged bytes: nothing re-embedded
    assert (again.added, again.updated, again.unchanged, again.chunks) == (0, 0, 4, 0)
    (docs / "bread.txt").write_text("Sourdough bread needs a starter.")
    changed = col.add_files([docs / "bread.txt"])
    assert (changed.files, changed.updated, changed.added) == (1, 1, 0)
    assert col.count() == 4
    with pytest.raises(errors.InvalidArgumentError, match="does not exist"):
        col.add_files([tmp_path / "missing"])
    with pytest.raises(errors.InvalidArgumentError):
        col.add_files(str(docs))  # type: ignore[arg-type]


def test_context(backend: Backend) -> None:
    col = _filled(backend)
    ctx = col.context("the cat on the mat", max_tokens=40, k=5)
    assert isinstance(ctx, RagContext)
    first = ctx.passages[0]
    assert first.doc_id in {"cat", "kitten"} and ctx.tokens <= 40 and not ctx.truncated
    assert col.get(first.doc_id)[0].text[first.start : first.end] == first.text
    assert ctx.citations[0] == {"n": 1, "id": first.doc_id, "source": f"{first.doc_id}.txt",
                                "start": first.start, "end": first.end}
    assert ctx.text.startswith(first.header)
    tiny = col.context("the cat on the mat", max_tokens=3)
    assert tiny.truncated and tiny.passages[0].cut and "budget of 3 tokens" in (tiny.note or "")
    none = col.context("zzzz qqqq", max_tokens=50, mode="keyword")
    assert none.passages == [] and none.note == "no passages matched the query"
    for bad in ({"max_tokens": 0}, {"max_tokens": -5}, {"dedup_threshold": 2.0},
                {"mode": "psychic"}, {"k": 0}):
        with pytest.raises(errors.InvalidArgumentError):
            col.context("cat", **bad)  # type: ignore[arg-type]
    with pytest.raises(errors.EmptyTextError):
        col.context("   ")
    with pytest.raises(errors.InvalidFilterError):
        col.context("cat", where={"$nonsense": 1})


def test_more_like(backend: Backend) -> None:
    col = _filled(backend)
    hits = col.more_like("cat", k=3)
    assert all(isinstance(h, Hit) for h in hits) and len(hits) == 3
    assert "cat" not in [h.id for h in hits] and hits[0].id == "kitten"
    assert [h.explain().dense_rank for h in hits] == [1, 2, 3]
    assert {h.id for h in col.more_like("cat", k=10, where={"topic": "pets"})} == {"dog", "kitten"}
    assert col.more_like(text="kitten yarn", k=1)[0].id == "kitten"
    with pytest.raises(errors.DocumentNotFoundError, match="no document 'nope'"):
        col.more_like("nope")
    with pytest.raises(errors.InvalidArgumentError):
        col.more_like("cat", text="and text")
    with pytest.raises(errors.InvalidArgumentError):
        col.more_like()
    with pytest.raises(errors.InvalidArgumentError):
        col.more_like("cat", k=0)
    with pytest.raises(errors.EmptyTextError):
        col.more_like(text="   ")


def test_vectors_and_batch(backend: Backend) -> None:
    col = backend.create("vecs", model=None, dim=4, metric="l2")
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(20, 4)).astype(np.float32)
    ids = col.add(vectors=vecs, ids=[f"v{i}" for i in range(20)])
    assert len(ids) == 20 and col.count() == 20
    hits = col.search_vector(vecs[3], k=3)
    assert hits[0].id == "v3" and math.isclose(hits[0].score, 0.0, abs_tol=1e-5)
    batch = col.search_vectors(vecs[:5], k=2)
    assert [b[0].id for b in batch] == [f"v{i}" for i in range(5)]
    res = col.search_vectors(vecs[:2], k=2, include=["scores", "metadatas"])
    assert res["ids"][0][0] == "v0" and len(res["scores"][1]) == 2
    assert set(res) == {"ids", "scores", "metadatas"}
    assert col.search_vectors(vecs[:1], k=2, include=[]) == {"ids": [["v0", res["ids"][0][1]]]}
    with pytest.raises(errors.ModelError):
        col.search("text on a vectors-only collection")


def test_upsert_delete(backend: Backend) -> None:
    col = _filled(backend)
    with pytest.raises(errors.InvalidArgumentError, match="upsert"):
        col.add(["different content"], ids=["cat"])
    assert col.add([TEXTS[0]], ids=["cat"]) == ["cat"]  # same content: a no-op
    col.upsert(["The cat now sleeps on the sofa."], ids=["cat"])
    assert col.get("cat")[0].text == "The cat now sleeps on the sofa."
    assert col.delete(["dog"]) == 1
    assert col.delete(where={"topic": "food"}) == 1
    assert col.count() == 3
    with pytest.raises(errors.InvalidArgumentError):
        col.delete()


def test_tokenize_info(backend: Backend) -> None:
    col = _filled(backend)
    tv = col.tokenize("Hello, World")
    assert tv.tokens == ["hello", "world"] and tv.offsets == [(0, 5), (7, 12)]
    info = col.info()
    assert info["documents"] == 5 and info["dim"] == 256 and info["model"] == "test-hash"


def test_database_level(backend: Backend) -> None:
    backend.create("a")
    backend.create("b")
    assert backend.db.list_collections() == ["a", "b"]
    with pytest.raises(errors.CollectionExistsError):
        backend.create("a")
    assert backend.db.get_collection("a").name == "a"
    backend.db.drop_collection("a")
    assert backend.db.list_collections() == ["b"]
    with pytest.raises(errors.CollectionNotFoundError):
        backend.db.get_collection("a")


@pytest.mark.parametrize("name", ["../x", "/etc", "a/b", "..", ".hidden", "x" * 200, "a b"])
def test_path_like_names_refused(backend: Backend, name: str) -> None:
    with pytest.raises(errors.InvalidArgumentError):
        backend.create(name)


def test_same_errors(backend: Backend) -> None:
    col = _filled(backend)
    with pytest.raises(errors.InvalidVectorError, match="dimension"):
        col.search_vector([0.1, 0.2], k=1)
    with pytest.raises(errors.InvalidVectorError):
        col.search_vector([float("nan")] * 256, k=1)
    with pytest.raises(errors.EmptyTextError):
        col.search("   ")
    with pytest.raises(errors.InvalidArgumentError):
        col.search("cat", k=0)
    with pytest.raises(errors.InvalidFilterError):
        col.search("cat", where={"$nonsense": 1})
    with pytest.raises(errors.InvalidArgumentError):
        col.search_vectors([[0.1] * 256], include=["bogus"])
    with pytest.raises(errors.EmptyTextError):
        col.add([""], ids=["e"])
