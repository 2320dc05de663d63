"""The lean path of ``Collection.search_vector``: one query vector, no filter, Hits.

The general path (``vector_search.search_vectors`` -> ``snapshot.consistent_search``) reads
the log head twice per query (once to catch the index up, once before serving cached rows)
and builds closures, context managers and batch-shaped arrays around a one-row search. For
the common case (a float32 query, no ``where``; ``exact`` or not) this module does the same
work with one head read and nothing else around the engine call (issue 14: single
``search_vector`` with text + metadata against raw faiss ids-only, same graph):

1. ``core.vectors.one_query`` checks the query in one pass (no copy);
2. ``LiveIndex.search_ready`` searches the loaded index as it stands, under a non-blocking
   shared hold of the index lock, and reports the log position the index holds;
3. under the database lock, the log head is read once (``CollectionStore.head_seq``'s
   no-commit test inline, ``head_seq`` itself when SQLite's header moved): **equal** to the
   searched position means no write committed
   since that position (in this process or another one), so the answer is the collection's
   state at that moment and the row cache serves the hits' rows (a deleted chunk cannot be
   in it: the index held no write after that position, and none was made since);
4. with no threshold (the hot case), each row is looked up in the row cache as its Hit is
   made (``types.make_hits`` over ``RowCache.get``: each Hit a view of its cached row, the
   cosine distance worked out only if read); otherwise, or when a row is not in memory,
   ``results.row_hits`` builds the Hits and applies the thresholds (``passes``). Both build
   Hits with ``make_hits``, the one place a Hit is made from a row.

Anything else returns None and the caller takes the general path, which validates, raises the
precise errors, catches up with the log and retries around concurrent writers: an unusual
query, an index not loaded yet or with work pending, a writer holding or awaiting the index
lock, a head that moved (the search is then repeated there, after the catch-up), a row not
found. So the answer is always one the general path could have given.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from akindb.collection.parts import CollectionParts
from akindb.collection.results import row_hits
from akindb.core.vectors import one_query, unit_and_raw
from akindb.retrieval.request import check_threshold
from akindb.storage.commit_watch import HEADER_BYTES as _HEADER
from akindb.storage.sqlite import translate
from akindb.types import Hit, Metric, make_hits

_COSINE = Metric.COSINE


def search_one(
    parts: CollectionParts,
    vector: Any,
    k: Any,
    min_score: Any,
    max_distance: Any,
    exact: bool = False,
) -> list[Hit] | None:
    """Hits for one query vector without a filter, or None: take the general path. With
    ``exact``, from the exact index (``LiveIndex.search_ready``).

    Kept to plain attribute reads, C calls and a few Python calls (the query check, the
    index search, the head read, the cached rows, the Hits): after the graph walk has pushed
    the interpreter's working set out of the CPU caches, each further frame or numpy call
    costs 1-5 µs here (issue 14, docs/benchmarks.md "Read path, part 3")."""
    if type(k) is not int or k < 1:
        return None  # the general path raises the error
    if min_score is not None or max_distance is not None:
        min_score = check_threshold("min_score", min_score)
        max_distance = check_threshold("max_distance", max_distance)
    config = parts.config
    metric = config.metric
    dim = config.dim
    if metric is _COSINE:
        both = unit_and_raw(vector, dim)  # checked and normalised in one pass
        if both is None:
            return None
        q, raw = both  # raw: the query as given, (1, dim), what the recall monitor records
    else:
        same = one_query(vector, dim)
        if same is None:
            return None
        q = raw = same
    found = parts.live.search_ready(q, k, raw, exact)
    if found is None:
        return None
    labels, scores, seq = found
    labs = labels.tolist()[0]
    store = parts.store
    try:
        with parts.lock:
            # store.head_seq()'s no-commit test, inline (no call; see CollectionStore.header_map)
            seen, head = store.head_seen
            view = store.header_map
            try:
                unchanged = (view is not None and not store.conn.in_transaction
                             and view[:_HEADER] == seen)
            except ValueError:  # the map was closed: head_seq decides
                unchanged = False
            if not unchanged:
                head = store.head_seq()
            if head != seq:
                return None  # a write since: the general path catches up and searches again
            if min_score is None and max_distance is None:  # the hot case: no threshold
                # each row looked up (RowCache.get) as its Hit is made; cosine:
                # each distance 1 - s in float32, worked out if read (make_hits)
                cache = parts.rows
                hits = make_hits(map(cache.get, labs), scores.tolist()[0],
                                 None if metric is _COSINE else (-scores).tolist()[0])
                if hits is not None:
                    cache.hits += len(hits)
                    return hits
            rows = parts.rows.cached(labs)
            if rows is None:  # a row not in memory yet (or label -1): SQLite, then cached
                by_id = parts.rows.reader_at_head(store).rows([x for x in labs if x >= 0])
                rows = [by_id.get(x) for x in labs]
                if len(by_id) != len({x for x in labs if x >= 0}):
                    return None  # a row not found: the general path decides
    except sqlite3.Error as exc:
        raise translate(exc, parts.db_file) from exc
    if metric is _COSINE:  # each distance 1 - s in float32, worked out if read (make_hits)
        return row_hits(rows, scores.tolist()[0], None, min_score, max_distance)
    return row_hits(rows, scores.tolist()[0], (-scores).tolist()[0], min_score, max_distance)
