"""Routes for ``add_files`` (uploads), ``context`` (RAG) and ``more_like``.

``add_files`` takes file *contents*, never server paths. A path in a request would let any
holder of a write key index whatever the server process can read (``/etc``, other databases,
keys.toml) and learn it back through search; so the server reads no path it is sent. The client
(``RemoteCollection.add_files``) walks and reads the files on the caller's machine as the
embedded call does, and uploads each one as ``{name, content_base64}``; the server decodes,
chunks, embeds and stores them exactly as ``Collection.add_files`` does (``ingest.ingest_named``
over ``loaders.load_bytes``). ``name`` is only a label: it becomes the document id and
``metadata.source`` (the client sends the resolved local path, so the results are those of the
embedded call), and its suffix picks the loader. Re-uploading unchanged bytes is a no-op.
"""

import base64
import binascii
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from akindb import errors
from akindb.server import schemas as s
from akindb.server.respond import hits_json, json_response
from akindb.server.routing import NameAuth, new_router
from akindb.server.state import State
from akindb.server.uploads import ingest_uploads


def _uploads(files: list[s.UploadedFile]) -> list[tuple[str, bytes]]:
    items: list[tuple[str, bytes]] = []
    seen: set[str] = set()
    for i, f in enumerate(files):
        if "\x00" in f.name:
            raise errors.InvalidArgumentError(f"file #{i}: the name contains NUL bytes")
        if f.name in seen:
            raise errors.InvalidArgumentError(
                f"file #{i}: name {f.name!r} appears twice in one call; names are document ids"
            )
        seen.add(f.name)
        if (f.text is None) == (f.content_base64 is None):
            raise errors.InvalidArgumentError(
                f"file #{i} ({f.name!r}): give its contents as text or as content_base64 "
                "(exactly one)"
            )
        if f.text is not None:
            raw = f.text.encode("utf-8", errors="surrogatepass")
        else:
            try:
                raw = base64.b64decode(f.content_base64 or "", validate=True)
            except (binascii.Error, ValueError):
                raise errors.InvalidArgumentError(
                    f"file #{i} ({f.name!r}): content_base64 is not valid base64"
                ) from None
        items.append((f.name, raw))
    return items


def router(state: State) -> APIRouter:
    """``/v1/collections/{name}/{add_files,context,more_like}``."""
    api = new_router()
    col = state.collection
    ReadName = Annotated[str, Depends(NameAuth(state, "read"))]
    WriteName = Annotated[str, Depends(NameAuth(state, "write"))]

    @api.post("/v1/collections/{name}/add_files", response_model=s.IngestReportOut,
              tags=["collection"])
    def add_files(body: s.AddFilesRequest, name: WriteName) -> Response:
        """Index uploaded files (contents, not server paths): unchanged ones are skipped,
        changed ones replaced, binary ones counted in ``skipped``."""
        prune = None if body.prune is None else (body.prune.folders, body.prune.present)
        report = ingest_uploads(col(name), _uploads(body.files), body.metadata or {}, prune)
        return json_response(report.to_dict())

    @api.post("/v1/collections/{name}/context", response_model=s.RagContextOut, tags=["search"])
    async def context(body: s.ContextRequest, name: ReadName) -> Response:
        """RAG context: the best passages for a query within a token budget, with citations
        (tokens counted by the collection's model tokenizer)."""

        def run() -> dict[str, Any]:
            return col(name).context(
                body.query, body.max_tokens, k=body.k, mode=cast(Any, body.mode), where=body.where,
                dedup_threshold=body.dedup_threshold, merge_adjacent=body.merge_adjacent,
            ).to_dict()

        return json_response(await state.searching(run))

    @api.post("/v1/collections/{name}/more_like", response_model=s.HitsResponse,
              tags=["search"])
    async def more_like(body: s.MoreLikeRequest, name: ReadName) -> Response:
        """Documents like a stored one (by id) or like a text; one hit per document."""
        return json_response(await state.searching(lambda: hits_json(
            col(name).more_like(body.id, body.k, text=body.text, where=body.where))))

    return api
