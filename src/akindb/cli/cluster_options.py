"""The ``--cluster ADDRESS`` option shared by commands that can run on a Ray cluster."""

from __future__ import annotations

from typing import Annotated

import typer

ClusterOpt = Annotated[
    str | None,
    typer.Option(
        "--cluster",
        envvar="AKINDB_CLUSTER",
        help="Run on the Ray cluster at this address (host:port; env AKINDB_CLUSTER) instead "
        "of a local database: `akindb cluster up --local` prints one. Needs akindb\\[ray].",
        show_default=False,
    ),
]
