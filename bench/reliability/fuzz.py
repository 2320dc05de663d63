"""Fuzzing: the Collection API against an in-memory model, the loaders, the ``where`` parser,
the index file readers and the HTTP API (from its OpenAPI schema, with schemathesis).

A finding is: an exception other than ``akindb.errors.AkinError`` (a crash), an HTTP 500, a
call that did not finish within ``HANG_S`` (a hang), invalid data accepted that a later read
cannot return, or a state that differs from the model. Every input is counted.

* ``api``: a hypothesis state machine (Chroma's property tests are the example) adding,
  upserting, deleting and reading documents with drawn ids, metadata (including NaN, huge
  ints, lone surrogates, deep nesting, wrong types) and vectors (including complex, NaN, wrong
  shapes); after each step the collection must equal the model, and exact search must return
  the model's nearest neighbours.
* ``loaders``: random bytes and mutations of real small files (md, rst, txt, html, json,
  binary, huge lines, UTF-16/32, cp1252, NUL late in the file) through ``load_bytes``; the text
  that comes out must be storable (UTF-8, no NUL).
* ``where``: drawn filters through ``parse_where`` and then a real ``get``.
* ``index``: saved index files of every kind truncated or bit-flipped, then loaded: rejected
  with ``IndexFileError``/``ValueError``, or loaded with labels and vectors identical to the
  original (a flip in padding). Never a different index trusted.
* ``http``: every operation of the live server's OpenAPI schema, valid and invalid bodies.

    python bench/reliability/fuzz.py --scale 1.0        # the full campaign (>= 100,000 inputs)
    python bench/reliability/fuzz.py --scale 0.01       # the short mode (tests)
"""

from __future__ import annotations

import argparse
import json
import math
import random
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, HashEmbedder, finish

import akindb
from akindb.errors import AkinError

HANG_S = 20.0
FULL = {"api": 40_000, "loaders": 25_000, "where": 20_000, "index": 5_000, "http": 12_000,
        "cli": 5_000}


class Tally:
    def __init__(self) -> None:
        self.inputs: Counter[str] = Counter()
        self.findings: list[str] = []

    def crash(self, part: str, what: str, exc: BaseException) -> None:
        tb = "".join(traceback.format_exception(exc)[-3:])
        self.findings.append(f"{part}: {what!r:.200}: {type(exc).__name__}: {exc!s:.200}\n{tb}")


class Hang(Exception):
    pass


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    def fire(*_: Any) -> None:
        raise Hang(f"no answer within {seconds} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def guarded(t: Tally, part: str, what: Any, call: Callable[[], Any]) -> Any:
    """Run one input: AkinError is a clean refusal, anything else is a finding."""
    t.inputs[part] += 1
    try:
        with deadline(HANG_S):
            return call()
    except AkinError:
        return None
    except Exception as exc:
        t.crash(part, what, exc)
        return None


# ---- api: hypothesis state machine vs a model ---------------------------------------------


def fuzz_api(n: int, seed: int, work: Path, t: Tally) -> None:
    from hypothesis import HealthCheck, settings
    from hypothesis import strategies as st
    from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

    dim = 4
    good_scalar = (st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
                   | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8))
    bad_scalar = (st.sampled_from([float("nan"), float("inf"), 10**30, "\ud800", b"x",
                                   object(), 1j, {1, 2}]))
    meta_val = st.recursive(good_scalar | bad_scalar,
                            lambda c: st.lists(c, max_size=3)
                            | st.dictionaries(st.text(max_size=4), c, max_size=3),
                            max_leaves=6)
    metas = st.dictionaries(st.text(max_size=5) | st.sampled_from(["g", "\udcff", 3]),
                            meta_val, max_size=3)
    ids_st = st.text(alphabet="abcxyz\ud800\x00 ", min_size=0, max_size=4) | st.integers(0, 9) \
        | st.none() | st.binary(max_size=2)
    vec = st.lists(st.floats(-4, 4, allow_nan=False, width=32), min_size=dim, max_size=dim)
    bad_vec = st.sampled_from([[1j, 0, 0, 0], [float("nan")] * 4, [0.0] * 4, [1, 2], "abcd",
                               [[1, 2, 3, 4]], None, [10**40, 0, 0, 0]])
    where_st = st.recursive(
        st.dictionaries(st.sampled_from(["g", "v", "$x", ""]),
                        good_scalar | bad_scalar | st.dictionaries(
                            st.sampled_from(["$eq", "$ne", "$gt", "$in", "$nin", "$bad"]),
                            good_scalar | st.lists(good_scalar, max_size=3), max_size=1),
                        min_size=0, max_size=2),
        lambda c: st.dictionaries(st.sampled_from(["$and", "$or"]), st.lists(c, max_size=3),
                                  min_size=1, max_size=1), max_leaves=5)
    steps_per_run = 25
    runs = max(1, n // steps_per_run)
    counter = [0]

    class Machine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            counter[0] += 1
            self.db = akindb.open(work / f"api-{counter[0]}")
            self.col = self.db.create_collection("c", model=None, dim=dim, metric="l2")
            self.model: dict[str, tuple[dict[str, Any], np.ndarray]] = {}

        def teardown(self) -> None:
            self.db.close()

        def _write(self, upsert: bool, ids: list[Any], vecs: list[Any], ms: list[Any]) -> None:
            fn = self.col.upsert if upsert else self.col.add
            before = dict(self.model)
            t.inputs["api"] += 1
            try:
                with deadline(HANG_S):
                    got = fn(ids=ids, vectors=vecs, metadatas=ms)
            except AkinError:
                assert self.col.count() == len(before), "a refused write changed the count"
                return
            except Exception as exc:
                t.crash("api", (ids, ms), exc)
                return
            for i, m, v in zip(got, ms, vecs, strict=True):
                if not upsert and i in self.model:
                    # re-adding identical content stores only the metadata given with it
                    # (issue 12.1, tests/test_update.py); different content was refused
                    self.model[i] = (json.loads(json.dumps(m)), self.model[i][1])
                    continue
                self.model[i] = (json.loads(json.dumps(m)), np.asarray(v, np.float32))

        @rule(ids=st.lists(ids_st, min_size=1, max_size=3, unique_by=repr),
              data=st.data(), upsert=st.booleans())
        def write(self, ids: list[Any], data: Any, upsert: bool) -> None:
            vecs = [data.draw(vec | bad_vec if data.draw(st.booleans()) else vec) for _ in ids]
            ms = [data.draw(metas) for _ in ids]
            self._write(upsert, ids, vecs, ms)

        @rule(data=st.data())
        def delete(self, data: Any) -> None:
            ids = data.draw(st.lists(st.sampled_from(sorted(self.model) or ["none"]) | ids_st,
                                     max_size=3))
            n = guarded(t, "api", ids, lambda: self.col.delete(ids))
            if n is not None:
                for i in ids:
                    self.model.pop(str(i) if isinstance(i, int) else i, None)

        @rule(where=where_st)
        def get_where(self, where: Any) -> None:
            guarded(t, "api", where, lambda: self.col.get(where=where))

        @rule(k=st.integers(-2, 10**12) | st.sampled_from([1.5, "3", None, True]),
              q=vec | bad_vec)
        def search(self, k: Any, q: Any) -> None:
            res = guarded(t, "api", (k, q), lambda: self.col.search_vector(q, k, exact=True))
            if res is None or not self.model:
                return
            qa = np.asarray(q, np.float32)
            d = {i: float(np.sum((v - qa) ** 2)) for i, (_, v) in self.model.items()}
            want = sorted(d, key=lambda i: (d[i], i))[: min(k, len(d))]
            got = [h.id for h in res]
            if sorted(d[i] for i in got) != sorted(d[i] for i in want) and not any(
                math.isclose(d[a], d[b], rel_tol=1e-5) for a in d for b in d if a != b
            ):
                t.findings.append(f"api: exact search {got} != model {want}")

        @invariant()
        def matches_model(self) -> None:
            t.inputs["api"] += 1
            try:
                recs = self.col.get()
            except Exception as exc:  # a stored value that breaks a read is a finding
                t.crash("api", "get() after writes", exc)
                return
            got = {r.id: r.metadata for r in recs}
            want = {i: m for i, (m, _) in self.model.items()}
            if got != want:
                t.findings.append(f"api: collection {got!r:.300} != model {want!r:.300}")
            if self.col.count() != len(self.model):
                t.findings.append("api: count differs from the model")

    Machine.TestCase.settings = settings(
        max_examples=runs, stateful_step_count=steps_per_run, deadline=None, database=None,
        derandomize=True, suppress_health_check=list(HealthCheck),
    )
    random.seed(seed)
    try:
        Machine.TestCase("runTest").runTest()
    except Exception as exc:  # an assertion inside the machine (a refused write changed data)
        t.crash("api", "state machine", exc)


# ---- loaders ------------------------------------------------------------------------------

SEEDS = {
    "a.md": b"# Title\n\nSome *markdown* text with [a link](x).\n\n```\ncode\n```\n",
    "b.rst": b"Title\n=====\n\n.. note::\n   A note.\n\nParagraph with ``code``.\n",
    "c.txt": "caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u2014 plain text\n".encode(),
    "d.html": b"<html><head><title>t</title></head><body><h1>H</h1><p>One<br>two</p>"
              b"<script>x()</script><pre>  pre\n  text</pre></body></html>",
    "e.json": b'{"a": [1, 2, {"b": "c"}], "d": null}',
    "f.bin": bytes(range(256)) * 4,
    "g.txt": b"x" * 200_000,
    "h.txt": "\ufeffUTF-16 text \u00e9".encode("utf-16"),
    "i.txt": "UTF-32 text".encode("utf-32"),
    "j.txt": "windows \x93quotes\x94 \xe9".encode("cp1252", errors="replace"),
    "k.txt": b"late nul " * 2000 + b"\x00tail",
}


def mutate(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        r = rng.random()
        if r < 0.3 and b:
            b[rng.randrange(len(b))] = rng.randrange(256)
        elif r < 0.5:
            b[rng.randrange(len(b) + 1):rng.randrange(len(b) + 1)] = rng.randbytes(
                rng.randint(1, 16))
        elif r < 0.7 and b:
            b = b[: rng.randrange(len(b))]
        elif r < 0.85:
            b += rng.choice([b"\x00", b"\xff\xfe", b"\xef\xbb\xbf", b"<", b"&#0;", b"\r",
                             b"\\ud800", b"\xed\xa0\x80"])
        else:
            b = b * 2
    return bytes(b)


def fuzz_loaders(n: int, seed: int, work: Path, t: Tally) -> None:
    from akindb.text.loaders import load_bytes

    rng = random.Random(seed)
    names = list(SEEDS)
    exts = [".md", ".rst", ".txt", ".html", ".htm", ".json", ".py", "", ".rst.txt", ".pdf"]
    for i in range(n):
        if i % 5 == 0:
            raw = rng.randbytes(rng.randint(0, 3000))
            name = f"r{i}{rng.choice(exts)}"
        else:
            src = rng.choice(names)
            raw = mutate(SEEDS[src], rng)
            name = src if rng.random() < 0.7 else f"m{i}{rng.choice(exts)}"
        out = guarded(t, "loaders", name, lambda name=name, raw=raw: load_bytes(name, raw))
        if out is not None and out.text is not None:
            if "\x00" in out.text:
                t.findings.append(f"loaders: {name}: text with NUL accepted")
            try:
                out.text.encode("utf-8")
            except UnicodeEncodeError:
                t.findings.append(f"loaders: {name}: text not encodable as UTF-8")
    # Folders: deep, looping, odd names, through a real ingest.
    root = work / "tree"
    deep = root
    for d in range(40):
        deep = deep / f"d{d}"
    deep.mkdir(parents=True)
    (deep / "deep.md").write_text("deep file text")
    (root / "loop").symlink_to(root, target_is_directory=True)
    (root / "broken").symlink_to(root / "missing")
    with open(bytes(root) + b"/bad-\xff\xfe.txt", "wb") as fh:
        fh.write(b"latin name")
    for name, data in SEEDS.items():
        (root / name).write_bytes(data)
    with akindb.open(work / "loader-db") as db:
        col = db.create_collection("c", model=HashEmbedder())
        rep = guarded(t, "loaders", "tree", lambda: col.add_files([root]))
        if rep is not None and rep.added + rep.unchanged < 5:
            t.findings.append(f"loaders: folder ingest indexed only {rep.to_dict()}")
        guarded(t, "loaders", "get", lambda: [r.text for r in col.get()])


# ---- where --------------------------------------------------------------------------------


def fuzz_where(n: int, seed: int, work: Path, t: Tally) -> None:
    rng = random.Random(seed)
    atoms: list[Any] = ["a", "", "\ud800", 1, -1, 2**63, 10**30, 1.5, float("nan"), True, None,
                        [], {}, [1, "a"], {"$eq": 1}, {"$in": [1, 2]}, {"$nin": []},
                        {"$gt": "x"}, {"$bad": 1}, {"$eq": [1]}, {"$in": "x"}, b"x"]
    keys = ["a", "b", "$and", "$or", "$not", "", '"', "a.b", "\udcff", "$in"]

    def draw(depth: int) -> Any:
        if depth > 3 or rng.random() < 0.3:
            return rng.choice(atoms)
        if rng.random() < 0.3:
            return [draw(depth + 1) for _ in range(rng.randint(0, 3))]
        return {rng.choice(keys): draw(depth + 1) for _ in range(rng.randint(0, 3))}

    with akindb.open(work / "where-db") as db:
        col = db.create_collection("c", model=None, dim=2)
        col.add(ids=["x", "y"], vectors=[[1, 0], [0, 1]],
                metadatas=[{"a": 1, "b": "x"}, {"a": 2, "b": ["y"]}])
        for i in range(n):
            w = draw(0)
            if i % 7 == 0:
                w = json.dumps(w, default=str) if rng.random() < 0.8 else rng.randbytes(8).hex()
            if i % 11 == 0:
                w = {"$and": [w]} if rng.random() < 0.5 else w
                for _ in range(rng.randint(50, 2000)):
                    w = {"$or": [w]}
            guarded(t, "where", w, lambda w=w: col.get(where=w))


# ---- index files --------------------------------------------------------------------------


def fuzz_index(n: int, seed: int, work: Path, t: Tally) -> None:
    """Damaged index files through the real trust path (``LiveIndex``): whatever was done to
    the file, the index in use must hold exactly SQLite's chunks."""
    from akindb.collection.live_index import LiveIndex
    from akindb.storage.checksum import sidecar

    rng = random.Random(seed)
    db = akindb.open(work / "index-db")
    cols = []
    for kind in ("flat", "hnsw", "lsh", "quantized"):
        col = db.create_collection(f"c-{kind}", model=None, dim=8, index=kind)
        r = np.random.default_rng(1)
        col.add(ids=[f"i{j}" for j in range(60)], vectors=r.normal(size=(60, 8)))
        col.delete(["i3", "i4"])
        col.search_vector(r.normal(size=8), k=3)
        col.flush()
        f = col.parts.live.path
        with db.lock:
            truth = np.sort(col.parts.store.all_vectors()[1])
        cols.append((col, f.read_bytes(), sidecar(f).read_bytes(), truth))
    for i in range(n):
        col, data, crc, truth = rng.choice(cols)
        b = bytearray(data)
        if rng.random() < 0.4:
            b = b[: rng.randrange(len(b))]
        else:
            for _ in range(rng.randint(1, 4)):
                j = rng.randrange(len(b))
                b[j] ^= 1 << rng.randrange(8)
        target = work / f"damaged-{i % 4}.{col.config.index_kind}"
        target.write_bytes(bytes(b))
        sidecar(target).write_bytes(crc if rng.random() < 0.9 else rng.randbytes(20))
        cfg = col.config
        live = LiveIndex(col.parts.store, target, collection_uuid=cfg.uuid, kind=cfg.index_kind,
                         metric=cfg.metric, dim=cfg.dim, params=cfg.index_params, lock=db.lock)
        t.inputs["index"] += 1
        try:
            with deadline(HANG_S):
                got = np.sort(live.get().labels())
                live.search(np.ones((1, 8), np.float32), 3)
        except Exception as exc:
            t.crash("index", cfg.index_kind, exc)
            continue
        if not np.array_equal(got, truth):
            t.findings.append(f"index: damaged {cfg.index_kind} file trusted: labels differ")
    db.close()


# ---- http ---------------------------------------------------------------------------------


def fuzz_http(n: int, seed: int, work: Path, t: Tally) -> None:
    import httpx
    import schemathesis
    from hypothesis.errors import Unsatisfiable
    from schemathesis.generation import GenerationMode

    sys.path.insert(0, str(ROOT))
    from akindb.server.app import ServerSettings
    from tests.server.conftest import LiveServer

    emb = HashEmbedder(dim=64, name="test-hash")
    srv = LiveServer(ServerSettings(db=work / "http-db", auth=False, embedders=(emb,)))
    try:
        with akindb.connect(srv.url) as c:
            c.create_collection("docs", model="test-hash").add(
                ["alpha beta gamma", "delta epsilon"], ids=["a", "d"],
                metadatas=[{"lang": "en"}, {"lang": "de"}])
            c.create_collection("vecs", model=None, dim=3).add(
                vectors=[[1, 0, 0], [0, 1, 0]], ids=["x", "y"])
        spec = httpx.get(srv.url + "/openapi.json").json()
        schema = schemathesis.openapi.from_dict(spec)
        ops = []
        for res in schema.get_all_operations():
            op = res.ok()
            if op.method.upper() == "DELETE" and op.path == "/v1/collections/{name}":
                continue  # dropping the fixtures ends the run early
            ops.append(op)
        per = max(2, n // (2 * len(ops)))
        client = httpx.Client(timeout=HANG_S)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for op in ops:
                names = ["docs", "vecs"]
                path_params = ({"name": random.Random(seed).choice(names)}
                               if "{name}" in op.path else None)
                try:
                    strat = op.as_strategy(generation_mode=mode, path_parameters=path_params)
                except Exception:
                    strat = op.as_strategy(generation_mode=mode)

                one = _http_test(op, strat, per, srv.url, client, t)
                try:
                    one()
                except Unsatisfiable:
                    pass  # no invalid input exists for an operation without parameters
                except Exception as exc:
                    t.crash("http", f"{op.method} {op.path}", exc)
        client.close()
    finally:
        srv.stop()


def _http_test(op: Any, strat: Any, per: int, base: str, client: Any,
               t: Tally) -> Callable[[], None]:
    import httpx
    from hypothesis import HealthCheck, given, settings

    @settings(max_examples=per, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=strat)
    def one(case: Any) -> None:
        t.inputs["http"] += 1
        kw = case.as_transport_kwargs(base_url=base)
        kw.pop("timeout", None)
        if isinstance(kw.get("data"), bytes | str):
            kw["content"] = kw.pop("data")
        try:
            r = client.request(kw.pop("method"), kw.pop("url"),
                               **{k: v for k, v in kw.items()
                                  if k in ("headers", "params", "json", "content", "data",
                                           "files")})
        except httpx.TimeoutException:
            t.findings.append(f"http: hang on {op.method} {op.path}")
            return
        except (httpx.HTTPError, UnicodeEncodeError, TypeError, ValueError):
            return  # the client could not even send it
        if r.status_code >= 500 and r.status_code not in (501, 503, 507):
            t.findings.append(f"http: {r.status_code} on {op.method} {op.path} "
                              f"body={case.body!r:.200}: {r.text[:200]}")

    return one


def fuzz_cli(n: int, seed: int, work: Path, t: Tally) -> None:
    from fuzz_cli import fuzz_cli as run_cli  # its own module (it imports this one)

    run_cli(n, seed, work, t)


PARTS: dict[str, Callable[[int, int, Path, Tally], None]] = {
    "api": fuzz_api, "loaders": fuzz_loaders, "where": fuzz_where, "index": fuzz_index,
    "http": fuzz_http, "cli": fuzz_cli,
}


def run(scale: float, seed: int, parts: list[str] | None = None,
        log: Any = None) -> dict[str, Any]:
    t = Tally()
    t0 = time.perf_counter()
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="akindb-fuzz-") as tmp:
        for name in parts or list(PARTS):
            n = max(5, int(FULL[name] * scale))
            s0 = time.perf_counter()
            PARTS[name](n, seed, Path(tmp), t)
            seconds[name] = round(time.perf_counter() - s0, 1)
            if log is not None:
                print(f"  fuzz {name}: {t.inputs[name]} inputs, {len(t.findings)} findings so "
                      f"far, {seconds[name]} s", file=log, flush=True)
    crashes = sum(1 for f in t.findings if "Error" in f.split("\n")[0] or "Hang" in f)
    return {
        "inputs": dict(t.inputs), "total_inputs": sum(t.inputs.values()),
        "findings": t.findings[:50], "n_findings": len(t.findings),
        "crashes": crashes, "http_500": sum(1 for f in t.findings if f.startswith("http: 5")),
        "hangs": sum(1 for f in t.findings if "Hang" in f or "hang on" in f),
        "seconds": seconds, "total_seconds": round(time.perf_counter() - t0, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0, help="1.0: the full campaign")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--parts", default=",".join(PARTS))
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    res = run(a.scale, a.seed, a.parts.split(","), log=sys.stderr)
    finish(res, a.json, "n_findings")


if __name__ == "__main__":
    main()
