"""Shared pieces of the reliability campaign (issue 13): a deterministic embedder, the
acknowledgement protocol between a worker process and its checker, and the checks run on a
database after every kill, copy or fault.

The embedder is a stand-in on purpose (house rule 10): these trials are about storage, not
retrieval quality, and the real model would make each of the thousand worker starts seconds
slower. Everything else is real: SQLite files, index files, processes, signals, HTTP.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

import akindb  # noqa: E402
from akindb.models.base import Embedder, FloatMatrix, ModelSpec, TokenView  # noqa: E402

_WORD = re.compile(r"\w+", re.UNICODE)
KINDS = ("flat", "hnsw", "lsh", "quantized")
VDIM = 16


class HashEmbedder(Embedder):
    """Bag-of-words feature hashing, L2-normalised: deterministic and fast."""

    def __init__(self, dim: int = 64, name: str = "reliability-hash") -> None:
        self.spec = ModelSpec(
            name=name, revision="1", weights_sha256=hashlib.sha256(name.encode()).hexdigest(),
            dim=dim, pooling="sum", normalize=True, max_tokens=128,
        )

    def _words(self, text: str) -> list[str]:
        return [w.lower() for w in _WORD.findall(text)]

    def embed_batch(self, texts: Sequence[str]) -> FloatMatrix:
        out = np.zeros((len(texts), self.spec.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in self._words(t)[: self.spec.max_tokens]:
                h = int.from_bytes(hashlib.blake2b(w.encode(), digest_size=8).digest(), "little")
                out[i, h % self.spec.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms

    def tokenize(self, text: str) -> TokenView:
        spans = [(m.start(), m.end()) for m in _WORD.finditer(text)]
        toks = [text[a:b].lower() for a, b in spans]
        return TokenView(toks, list(range(len(toks))), spans, len(toks) > 128, 128)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(self._words(t)) for t in texts]


WORDS = ["river", "mountain", "library", "engine", "violin", "harbor", "pepper", "tunnel",
         "glacier", "orchard", "lantern", "compass", "meadow", "falcon", "pottery", "canyon",
         "ember", "quartz", "saddle", "thicket"]


def doc_text(doc_id: str, version: int, words: int = 60) -> str:
    """Deterministic text for one version of a document (several chunks at 40 tokens)."""
    seed = int.from_bytes(hashlib.blake2b(f"{doc_id}/{version}".encode(), digest_size=8)
                          .digest(), "little")
    rng = np.random.default_rng(seed)
    body = " ".join(rng.choice(WORDS, size=words).tolist())
    return f"{doc_id} version {version}. {body}"


def doc_vector(doc_id: str, version: int, dim: int = VDIM) -> np.ndarray:
    seed = int.from_bytes(hashlib.blake2b(f"{doc_id}/{version}".encode(), digest_size=8)
                          .digest(), "little")
    return np.random.default_rng(seed).normal(size=dim).astype(np.float32)


# ---- expected state from acknowledgements -------------------------------------------------


@dataclass
class Expected:
    """What the checker knows: per collection, document id -> version (acknowledged), and the
    one operation that may have been in flight when the process died."""

    docs: dict[str, dict[str, int]] = field(default_factory=dict)
    pending: dict[str, Any] | None = None

    def apply(self, op: dict[str, Any]) -> None:
        docs = self.docs.setdefault(op["col"], {})
        for doc_id, v in op.get("set", {}).items():
            docs[doc_id] = int(v)
        for doc_id in op.get("del", []):
            docs.pop(doc_id, None)

    def feed(self, line: str) -> None:
        """One line of a worker's stdout: ``BEGIN {json}`` or ``ACK {json}``."""
        tag, _, rest = line.partition(" ")
        if tag == "BEGIN":
            self.pending = json.loads(rest)
        elif tag == "ACK":
            op = json.loads(rest)
            self.apply(op)
            self.pending = None


def actual_docs(col: Any) -> dict[str, int]:
    return {r.id: int(r.metadata["v"]) for r in col.get()}


def check_collection(col: Any, want: dict[str, int], pending: dict[str, Any] | None,
                     rng: np.random.Generator, text: bool) -> list[str]:
    """Problems with one collection against what was acknowledged (empty list: all good)."""
    problems: list[str] = []
    got = actual_docs(col)
    p_set: dict[str, int] = {}
    p_del: set[str] = set()
    if pending is not None and pending["col"] == col.name:
        p_set = {k: int(v) for k, v in pending.get("set", {}).items()}
        p_del = set(pending.get("del", []))
    touched = set(p_set) | p_del
    for doc_id in set(got) | set(want):
        if doc_id in touched:
            continue
        if got.get(doc_id) != want.get(doc_id):
            problems.append(f"{col.name}: {doc_id} is {got.get(doc_id)}, acknowledged "
                            f"{want.get(doc_id)}")
    if touched:  # the in-flight operation: all old or all new, never a mix
        new = all(got.get(d) == v for d, v in p_set.items()) and all(d not in got for d in p_del)
        old = all(got.get(d) == want.get(d) for d in touched)
        if not (new or old):
            problems.append(f"{col.name}: in-flight {pending} half applied")
    # Contents match the version (no partial document): text and chunk vectors.
    recs = col.get()
    for r in recs[:: max(1, len(recs) // 20)]:
        v = int(r.metadata["v"])
        if text:
            if r.text != doc_text(r.id, v):
                problems.append(f"{col.name}: {r.id} text is not version {v}")
            if not r.chunks or "".join(c.text for c in r.chunks).replace(" ", "") == "":
                problems.append(f"{col.name}: {r.id} has no chunks")
        else:
            stored = col.vectors_of(r.id)
            if stored.shape[0] != 1 or not np.allclose(stored[0], doc_vector(r.id, v)):
                problems.append(f"{col.name}: {r.id} vector is not version {v}")
    problems += check_index(col, rng)
    return problems


def check_index(col: Any, rng: np.random.Generator) -> list[str]:
    """The index holds exactly SQLite's chunks, and exact search agrees with numpy over
    SQLite's vectors."""
    problems: list[str] = []
    with col.parts.lock:
        _, labels, vecs = col.parts.store.all_vectors()
    index = col.parts.live.get()
    have = set(index.labels().tolist())
    if have != set(labels.tolist()):
        problems.append(f"{col.name}: index has {len(have)} labels, SQLite {len(labels)} chunks "
                        f"({len(have - set(labels.tolist()))} extra)")
    if len(labels) >= 3:
        norm = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
        for qi in rng.choice(len(labels), size=min(3, len(labels)), replace=False):
            q = vecs[qi]
            k = min(5, len(labels))
            sims = norm @ (q / np.linalg.norm(q))
            score_of = dict(zip(labels.tolist(), sims.tolist(), strict=True))
            want = np.sort(sims)[::-1][:k]
            got = col.parts.live.search(q[None, :], k, exact=True)[0][0]
            got = got[got >= 0].tolist()
            # Compared by score, not by id: texts share words, so equal vectors (ties) are
            # common and either of two tied chunks is a right answer.
            have = np.sort([score_of.get(g, -9.0) for g in got])[::-1]
            if len(have) != k or not np.allclose(have, want, atol=1e-5):
                problems.append(f"{col.name}: exact search disagrees with SQLite "
                                f"({have.round(4).tolist()} vs {want.round(4).tolist()})")
    return problems


def check_database(path: Path, exp: Expected, seed: int = 0) -> list[str]:
    """Open ``path`` and run every check; a failure to open is a problem too."""
    problems: list[str] = []
    rng = np.random.default_rng(seed)
    try:
        with akindb.open(path, create=False) as db:
            ok = db.conn.execute("PRAGMA integrity_check").fetchone()[0]
            if ok != "ok":
                problems.append(f"integrity_check: {ok}")
            names = set(db.list_collections())
            for name in sorted(set(exp.docs) | names):
                if name not in names:
                    if exp.docs.get(name):
                        problems.append(f"collection {name} missing")
                    continue
                col = db.get_collection(name)
                problems += check_collection(col, exp.docs.get(name, {}), exp.pending, rng,
                                             text=name.startswith("t_"))
    except (akindb.AkinError, sqlite3.Error, OSError) as exc:
        problems.append(f"open failed: {type(exc).__name__}: {exc}")
    return problems


def resync(path: Path, exp: Expected) -> None:
    """After a check, take the database's state as the new truth (resolves the in-flight op)."""
    with akindb.open(path, create=False) as db:
        for name in db.list_collections():
            exp.docs[name] = actual_docs(db.get_collection(name))
    exp.pending = None


def pct(xs: Sequence[float], p: float) -> float:
    return float(np.percentile(np.asarray(xs), p)) if len(xs) else float("nan")


def table(rows: Sequence[tuple[str, str, str, bool]]) -> str:
    """The goals table: trial, goal, measured, met."""
    out = ["| trial | goal | measured | met |", "|---|---|---|---|"]
    out += [f"| {t} | {g} | {m} | {'yes' if ok else '**no**'} |" for t, g, m, ok in rows]
    return "\n".join(out)


def finish(res: dict[str, Any], json_path: Path | None, failed_key: str) -> None:
    """End a campaign script: print ``res`` as JSON, also write it to ``json_path`` if given,
    and exit 1 when ``res[failed_key]`` (its failures or findings) is non-empty, else 0."""
    text = json.dumps(res, indent=1)
    print(text)
    if json_path:
        json_path.write_text(text)
    sys.exit(1 if res[failed_key] else 0)
