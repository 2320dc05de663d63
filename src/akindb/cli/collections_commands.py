"""``akindb collections``: list collections, show one, drop one."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

import akindb
from akindb.cli.common import DbOpt, JsonOpt, db_path, fail, handled, out, print_json

collections_app = typer.Typer(
    help="List collections, show one (count, model, metric, dims, size) or drop one.",
    invoke_without_command=True,
    no_args_is_help=False,
)


@collections_app.callback()
def collections_list(
    ctx: typer.Context,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """List collections with count, model, metric and dims."""
    if ctx.invoked_subcommand is not None:
        return
    with handled():
        database = akindb.open(db_path(db), create=False)
        infos = [database.get_collection(n).info() for n in database.list_collections()]
        if json_out:
            for i in infos:
                print_json(i)
            return
        table = Table(title=f"collections in {database.path}")
        for c in ("name", "documents", "chunks", "model", "metric", "dim", "index"):
            table.add_column(c)
        for i in infos:
            table.add_row(
                i["name"],
                str(i["documents"]),
                str(i["chunks"]),
                str(i["model"]),
                i["metric"],
                str(i["dim"]),
                i["index"],
            )
        out.print(table)
        out.print(f"database size: {database.size_bytes() / 1e6:.1f} MB")


@collections_app.command("info")
def collections_info(
    name: Annotated[str, typer.Argument(help="Collection name.")],
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Show one collection: count, model, metric, dims, index, size."""
    with handled():
        database = akindb.open(db_path(db), create=False)
        info: dict[str, Any] = database.get_collection(name).info().to_dict()
        info["database_bytes"] = database.size_bytes()
        if json_out:
            print_json(info)
        else:
            for key, val in info.items():
                out.print(f"{key:>22}: {val}", markup=False)


@collections_app.command("drop")
def collections_drop(
    name: Annotated[str, typer.Argument(help="Collection name.")],
    db: DbOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Delete a collection and everything in it."""
    with handled():
        database = akindb.open(db_path(db), create=False)
        database.get_collection(name)
        if not yes and json_out:
            fail("--json does not prompt: add --yes to drop the collection")
        if not yes and not typer.confirm(f"drop collection '{name}' and all its documents?"):
            raise typer.Exit(1)
        database.drop_collection(name)
        database.close()
        if json_out:
            print_json({"dropped": name})
        else:
            out.print(f"dropped collection '{name}'")
