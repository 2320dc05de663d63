"""``Hit`` is a view of its row at run time (issue 14, session 8): four slots instead of the
frozen dataclass's twelve. Everything a caller can see must stay what the dataclass gave:
fields, signature defaults, equality, hash behaviour, repr, immutability, pickling, copying,
``dataclasses`` functions, pattern matching, and ``json.dumps`` refusing a Hit."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import pickle
from typing import Any

import numpy as np
import pytest

from akindb.collection.results import row_hits
from akindb.core.topk import to_distance
from akindb.storage.store import HitRow
from akindb.types import Explanation, Hit, Metric, make_hits

ARGS: tuple[Any, ...] = ("a", 0.5, 0.25, "text", "src.txt", 1, 9, 2, {"k": 1})
NAMES = ("id", "score", "distance", "text", "source", "start", "end", "chunk", "metadata",
         "explanation", "chunk_id", "others")


def _view() -> Hit:
    """The Hit a search builds: a view of the row cache's ``HitRow``."""
    (h,) = make_hits([HitRow(77, "a", 2, 1, 9, "text", "src.txt", {"k": 1})], [0.5], [0.25])
    return h


def test_fields_and_defaults_are_the_dataclass_ones() -> None:
    assert dataclasses.is_dataclass(Hit) and dataclasses.is_dataclass(_view())
    assert tuple(f.name for f in dataclasses.fields(Hit)) == NAMES
    h = Hit("x", 1.0, 0.0, "t")
    assert (h.source, h.start, h.end, h.chunk, h.metadata) == (None, 0, 0, 0, {})
    assert (h.explanation, h.chunk_id, h.others) == (None, None, ())
    assert Hit("y", 1.0, 0.0, "t").metadata is not h.metadata  # a new dict each, as the factory
    kw = Hit(id="a", score=0.5, distance=0.25, text="text", source="src.txt", start=1, end=9,
             chunk=2, metadata={"k": 1}, chunk_id=4)
    assert kw == Hit(*ARGS) and kw.chunk_id == 4
    assert Hit.__match_args__ == NAMES
    match _view():
        case Hit(id, score, distance, text):
            assert (id, score, distance, text) == ("a", 0.5, 0.25, "text")
        case _:
            pytest.fail("a Hit did not match its own pattern")


def test_equality_repr_and_hash_are_the_dataclass_ones() -> None:
    view, built = _view(), Hit(*ARGS)
    assert view == built and (view != built) is False
    assert view != Hit("b", *ARGS[1:]) and view != Hit(*ARGS[:8], {"k": 2})
    # explanation, chunk_id and others are not compared (compare=False), nor shown
    assert dataclasses.replace(view, chunk_id=9, others=(built,)) == built
    assert repr(view) == repr(built) == (
        "Hit(id='a', score=0.5, distance=0.25, text='text', source='src.txt', start=1, end=9,"
        " chunk=2, metadata={'k': 1})")
    assert view.__eq__(("a", 0.5)) is NotImplemented and view != tuple(ARGS)
    nan = Hit("n", math.nan, math.nan, "t")
    assert nan == nan  # the same object's fields: the tuples compare by identity first
    with pytest.raises(TypeError, match="unhashable"):  # metadata is a dict, as before
        hash(view)
    assert not isinstance(view, tuple)


def test_immutable_and_not_json() -> None:
    h = _view()
    for name in NAMES:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(h, name, 1)
        with pytest.raises(dataclasses.FrozenInstanceError):
            delattr(h, name)
    with pytest.raises(TypeError):
        json.dumps(h)
    assert json.loads(json.dumps(h.to_dict())) == {
        "id": "a", "score": 0.5, "distance": 0.25, "text": "text", "source": "src.txt",
        "start": 1, "end": 9, "chunk": 2, "metadata": {"k": 1}}


def test_pickle_copy_replace_asdict() -> None:
    expl = Explanation("vector", 0.5, dense_score=0.5)
    h = dataclasses.replace(_view(), explanation=expl, chunk_id=3, others=(Hit(*ARGS),))
    for back in (pickle.loads(pickle.dumps(h)), copy.copy(h), copy.deepcopy(h)):
        assert type(back) is Hit and back == h
        assert (back.explanation, back.chunk_id, back.others) == (expl, 3, (Hit(*ARGS),))
    assert h.explain() is expl and _view().explain().dense_score == 0.5
    assert dataclasses.asdict(_view()) == {**dict(zip(NAMES, ARGS, strict=False)),
                                           "explanation": None, "chunk_id": None, "others": ()}
    assert dataclasses.astuple(_view())[:9] == ARGS
    # a pickle of the slotted dataclass Hit (its state: the twelve values in order) loads
    old = Hit.__new__(Hit)
    old.__setstate__([*ARGS, None, 5, ()])
    assert old == Hit(*ARGS) and old.chunk_id == 5


def test_lazy_cosine_distance_is_numpy_bit_for_bit() -> None:
    """``make_hits(..., None)`` leaves each distance to be worked out when read: it must be
    the float32 ``1 - score`` numpy computes (``to_distance``), edge values included."""
    rng = np.random.default_rng(14)
    scores = np.concatenate([
        rng.uniform(-1.01, 1.01, 20000),
        rng.uniform(-1, 1, 2000) * 2.0 ** rng.integers(-60, 0, 2000),  # tiny magnitudes
        [0.0, -0.0, 1.0, -1.0, 2.0**-24, -(2.0**-24), 2.0**-25, 2.0**-29, -(2.0**-30),
         1 - 2.0**-24, np.nan, 3e38, -3e38, np.finfo(np.float32).max],
    ]).astype(np.float32)[None, :]
    want = to_distance(scores, Metric.COSINE)[0]
    listed = scores[0].tolist()
    rows = [HitRow(i, "d", 0, 0, 1, "t", None, {}) for i in range(len(listed))]
    got = np.array([h.distance for h in make_hits(rows, listed, None)], np.float32)
    assert got.tobytes() == want.tobytes()
    # the threshold path works the same distances out (row_hits with no distances given)
    kept = row_hits(rows, listed, None, None, 0.5)
    assert [h.chunk for h in kept] == [0] * len(kept)
    assert len(kept) == int(np.sum(want <= 0.5))
