"""A search option is defined once (``akindb.retrieval.request.SearchOptions``); every surface
must expose it. Adding a field there and forgetting a surface fails here, naming the surface."""

from __future__ import annotations

import inspect

import pytest
import typer

from akindb.client import RemoteCollection
from akindb.collection import Collection
from akindb.retrieval.request import OPTION_NAMES, SearchOptions, SearchRequest

pytest.importorskip("fastapi")
from akindb.server import schemas

CLI_FLAG_FOR = {"k": "k"}
"""CLI parameter names that differ from the option name (none today)."""


def _cli_search_params() -> set[str]:
    from akindb.cli.main import app

    cmd = typer.main.get_command(app)
    search = cmd.commands["search"]  # type: ignore[attr-defined]
    return {p.name for p in search.params if p.name}


@pytest.mark.parametrize("option", OPTION_NAMES)
def test_every_surface_exposes_the_option(option: str) -> None:
    assert option in inspect.signature(Collection.search).parameters, "Collection.search"
    assert option in inspect.signature(RemoteCollection.search).parameters, "client search"
    assert option in inspect.signature(RemoteCollection.search_batch).parameters, "client batch"
    assert option in schemas.SearchRequest.model_fields, "HTTP schema (search)"
    assert option in schemas.SearchBatchRequest.model_fields, "HTTP schema (search_batch)"
    assert CLI_FLAG_FOR.get(option, option) in _cli_search_params(), "CLI `akindb search`"


def test_defaults_agree_across_surfaces() -> None:
    defaults = SearchOptions()
    sig = inspect.signature(Collection.search).parameters
    remote = inspect.signature(RemoteCollection.search).parameters
    for name in OPTION_NAMES:
        want = getattr(defaults, name)
        assert sig[name].default == want, f"Collection.search {name}"
        assert remote[name].default == want, f"client search {name}"
        assert schemas.SearchRequest.model_fields[name].default == want, f"HTTP {name}"


def test_the_wire_form_round_trips_through_the_schema() -> None:
    req = SearchRequest(query="configure the bot", k=3, mode="vector", min_score=0.2,
                        where={"lang": "en"}, rerank="mmr", fusion={"rrf_k": 30.0})
    body = schemas.SearchRequest.model_validate(req.to_wire())
    back = SearchRequest(query=body.query, **{n: getattr(body, n) for n in OPTION_NAMES})
    assert back.to_wire() == req.to_wire()
    checked = back.checked()  # parsed: a reranker object and FusionParams
    assert checked.rerank is not None and checked.rerank.name == "mmr"
    assert checked.fusion is not None and checked.fusion.rrf_k == 30.0  # type: ignore[union-attr]
