"""Request and response bodies of the HTTP API (pydantic). Field names match the Python API's
keyword arguments, so a route is the method it calls. Limits here are per request; the body
size limit (``ServerSettings.max_body_bytes``) applies before parsing."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MAX_ITEMS = 10_000  # documents per add/upsert/get/delete call
MAX_QUERIES = 1_000  # queries per batch search
MAX_K = 10_000
MAX_TEXT = 1_000_000  # characters in one document
MAX_QUERY = 10_000  # characters in one query
MAX_DIM = 65_536

Where = dict[str, Any] | str | None
Vector = list[float]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable code (see akindb.wire.codes).")
    message: str = Field(description="What happened and what to do.")
    status: int


class ErrorBody(BaseModel):
    error: ErrorDetail


# ---- database ------------------------------------------------------------------------------
class CreateCollection(_Body):
    name: str = Field(min_length=1, max_length=128)
    model: str | None = Field(
        "default", max_length=512,
        description="Model name the server can load; null for a vectors-only collection.",
    )
    metric: str = Field("cosine", max_length=32)
    dim: int | None = Field(None, ge=1, le=MAX_DIM)
    index: str = Field("flat", max_length=32)
    index_params: dict[str, Any] | None = None
    get_or_create: bool = Field(False, description="Return the existing collection if any.")


class CollectionList(BaseModel):
    collections: list[str]


# ---- writes --------------------------------------------------------------------------------
class AddRequest(_Body):
    texts: list[str] | None = Field(None, max_length=MAX_ITEMS)
    ids: list[str] | None = Field(None, max_length=MAX_ITEMS)
    metadatas: list[dict[str, Any]] | None = Field(None, max_length=MAX_ITEMS)
    vectors: list[Vector] | None = Field(None, max_length=MAX_ITEMS)
    sources: list[str | None] | None = Field(None, max_length=MAX_ITEMS)
    chunk: bool = True


class IdsResponse(BaseModel):
    ids: list[str]


class DeleteRequest(_Body):
    ids: list[str] | None = Field(None, max_length=MAX_ITEMS)
    where: Where = None


class CountResponse(BaseModel):
    count: int


# ---- reads ---------------------------------------------------------------------------------
class GetRequest(_Body):
    ids: list[str] | None = Field(None, max_length=MAX_ITEMS)
    where: Where = None
    limit: int | None = Field(None, ge=0, le=MAX_ITEMS)
    offset: int = Field(0, ge=0)


class ChunkOut(BaseModel):
    index: int
    start: int
    end: int
    text: str


class RecordOut(BaseModel):
    id: str
    text: str
    source: str | None
    metadata: dict[str, Any]
    content_hash: str
    chunks: list[ChunkOut]


class RecordsResponse(BaseModel):
    records: list[RecordOut]


class _SearchOpts(_Body):
    k: int = Field(10, ge=1, le=MAX_K)
    min_score: float | None = None
    max_distance: float | None = None
    where: Where = None
    exact: bool = False


# The wire type and description of every text-search option, keyed by the fields of
# ``akindb.retrieval.request.SearchOptions`` (the one definition): building the model below
# fails at import if an option has no entry here, so a new option cannot miss the HTTP API.
_OPTION_FIELDS: dict[str, tuple[Any, Any]] = {
    "k": (int, Field(10, ge=1, le=MAX_K, description="How many hits, best first.")),
    "mode": (str, Field("hybrid", max_length=16, description="vector | keyword | hybrid.")),
    "min_score": (float | None, Field(None, description="Keep hits with score >= this.")),
    "max_distance": (float | None, Field(None, description="Keep hits with distance <= this.")),
    "where": (Where, Field(None, description="Metadata filter.")),
    "exact": (bool, Field(False, description="Exact search, bypassing an approximate index.")),
    "explain": (bool, Field(False, description="Add token importance to each explanation.")),
    "rerank": (str | None, Field(
        None, max_length=64, description="Re-ranker spec: 'mmr' (a cross-encoder runs where "
        "its weights are, so not over HTTP).")),
    "fusion": (dict[str, Any] | None, Field(
        None, description="Hybrid fusion parameters (akindb.retrieval.fusion.FusionParams).")),
    "group_by": (str | None, Field(
        None, max_length=16, description="'document': one hit per document (its best chunk; "
        "the others on the hit), k documents.")),
}


def _text_search_opts() -> type[_SearchOpts]:
    from dataclasses import fields

    from pydantic import create_model

    from akindb.retrieval.request import SearchOptions

    spec = {f.name: _OPTION_FIELDS[f.name] for f in fields(SearchOptions)}
    model: type[_SearchOpts] = create_model(  # type: ignore[call-overload]
        "TextSearchOpts", __base__=_SearchOpts, **spec
    )
    return model


_TextSearchOpts = _text_search_opts()


class SearchRequest(_TextSearchOpts):  # type: ignore[valid-type, misc]
    query: str = Field(max_length=MAX_QUERY)


class SearchBatchRequest(_TextSearchOpts):  # type: ignore[valid-type, misc]
    queries: list[str] = Field(min_length=1, max_length=MAX_QUERIES)


class SearchVectorRequest(_SearchOpts):
    vector: Vector = Field(max_length=MAX_DIM)


class SearchVectorsRequest(_SearchOpts):
    vectors: list[Vector] = Field(min_length=1, max_length=MAX_QUERIES)
    include: list[str] | None = Field(
        None, max_length=8,
        description="Any of scores, distances, documents, metadatas: returns a QueryResult.",
    )


class HitOut(BaseModel):
    id: str
    score: float
    distance: float
    text: str
    source: str | None
    start: int
    end: int
    chunk: int
    metadata: dict[str, Any]
    chunk_id: int | None = None
    explanation: dict[str, Any] | None = Field(
        None, description="Why it ranked here (Hit.explain(): dense, BM25, fusion parts)."
    )
    others: list[dict[str, Any]] | None = Field(
        None, description="group_by='document': the document's other matching chunks."
    )


class HitsResponse(BaseModel):
    hits: list[HitOut]


class HitsBatchResponse(BaseModel):
    results: list[list[HitOut]]


class QueryResultOut(BaseModel):
    ids: list[list[str]]
    scores: list[list[float]] | None = None
    distances: list[list[float]] | None = None
    documents: list[list[str]] | None = None
    metadatas: list[list[dict[str, Any]]] | None = None


class TokenizeRequest(_Body):
    text: str = Field(max_length=MAX_TEXT)


class TokenViewOut(BaseModel):
    tokens: list[str]
    ids: list[int]
    offsets: list[list[int]]
    truncated: bool
    max_tokens: int


# ---- files, RAG context, more-like-this -----------------------------------------------------
MAX_NAME = 4096


class UploadedFile(_Body):
    name: str = Field(
        min_length=1, max_length=MAX_NAME,
        description="The file's name or path on the uploader's side. It becomes the document "
        "id and metadata.source, and its suffix picks the loader (.md, .rst, .html, .txt); "
        "it is only a label: the server never opens a path it is sent.",
    )
    text: str | None = Field(None, description="The file's contents as text (UTF-8).")
    content_base64: str | None = Field(
        None, description="The file's raw bytes, base64: decoded and sniffed as `akindb index` "
        "does (UTF-8/UTF-16/cp1252, binary files skipped); the hash of these bytes makes a "
        "re-upload of an unchanged file a no-op. Give this or text.",
    )


class PruneRequest(_Body):
    folders: list[str] = Field(max_length=1000)
    present: list[str] = Field(max_length=10_000_000)


class AddFilesRequest(_Body):
    files: list[UploadedFile] = Field(max_length=MAX_ITEMS)
    metadata: dict[str, Any] | None = Field(
        None, description="Merged over each file's own metadata (source, filename, ext, kind, "
        "size).",
    )
    prune: PruneRequest | None = Field(
        None, description="After the files: remove the documents under these folders (client "
        "paths) whose file is not in present (akindb.collection.prune).",
    )


class IngestReportOut(BaseModel):
    files: int
    added: int
    updated: int
    unchanged: int
    chunks: int
    skipped: dict[str, int]
    seconds: float
    removed: list[str] = []
    duplicates: list[list[str]] = []


class ContextRequest(_Body):
    query: str = Field(max_length=MAX_QUERY)
    max_tokens: int = Field(1500, le=10_000_000, description="Token budget of the context.")
    k: int = Field(20, ge=1, le=MAX_K)
    mode: str = Field("hybrid", max_length=16, description="vector | keyword | hybrid.")
    where: Where = None
    dedup_threshold: float = 0.95
    merge_adjacent: bool = True


class PassageOut(BaseModel):
    n: int
    doc_id: str
    source: str | None
    start: int
    end: int
    chunks: list[int]
    score: float
    text: str
    tokens: int
    cut: bool


class RagContextOut(BaseModel):
    query: str
    text: str
    tokens: int
    max_tokens: int
    truncated: bool
    note: str | None
    passages: list[PassageOut]
    citations: list[dict[str, Any]]
    stats: dict[str, int]


class MoreLikeRequest(_Body):
    id: str | None = Field(None, max_length=MAX_NAME, description="A stored document's id.")
    text: str | None = Field(None, max_length=MAX_QUERY, description="Or free text.")
    k: int = Field(10, ge=1, le=MAX_K)
    where: Where = None


# ---- web page ------------------------------------------------------------------------------
class MapRequest(_Body):
    query: str | None = Field(None, max_length=MAX_QUERY)
    k: int = Field(10, ge=1, le=100)
    max_points: int = Field(2000, ge=10, le=20_000)


class MapPoint(BaseModel):
    x: float
    y: float
    id: str
    chunk: int
    source: str | None
    hit: int = Field(-1, description="Rank among the query's hits, -1 when not a hit.")


class MapResponse(BaseModel):
    points: list[MapPoint]
    query: list[float] | None = Field(None, description="The query's position [x, y].")
    explained_variance: list[float]
    total_chunks: int
    sampled: bool


class ExplainRequest(_Body):
    query: str = Field(max_length=MAX_QUERY)
    id: str = Field(max_length=4096)
    chunk: int = Field(0, ge=0)


class ExplainResponse(BaseModel):
    id: str
    chunk: int
    metric: str
    score: float
    distance: float
    rank: int | None = Field(description="Rank of this chunk among the exact top 100, if there.")
    model: str | None
    source: str | None
    start: int
    end: int
    query_tokens: list[str]
    passage_tokens: int
    shared_terms: list[str] = Field(description="Query words that also occur in the passage.")
    truncated: bool = Field(description="The passage is longer than the model reads.")


class TuneRequest(_Body):
    target_recall: float = Field(0.95, gt=0.0, le=1.0)
    k: int = Field(10, ge=1, le=1000)
    n_queries: int = Field(1000, ge=1, le=10_000)
    seed: int = 0
    queries: list[Vector] | None = Field(None, max_length=MAX_QUERIES)


class VectorsOfRequest(_Body):
    id: str = Field(max_length=4096)


class VectorsOfResponse(BaseModel):
    vectors: list[Vector]
