"""``akindb serve`` (HTTP API + web page) and ``akindb keys`` (create / list / revoke)."""

from __future__ import annotations

import ipaddress
import os
import time
from pathlib import Path
from typing import Annotated

import typer

from akindb.cli.common import DbOpt, JsonOpt, db_path, err, fail, handled, out, print_json
from akindb.errors import MissingExtraError

keys_app = typer.Typer(
    help="API keys for `akindb serve`: roles read < write < admin, scoped to collections. "
    "Only hashes are stored.",
    no_args_is_help=True,
)

KeyFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--api-key-file",
        help="Key store (TOML, hashes only). Default: keys.toml in the database directory.",
        show_default=False,
    ),
]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    db: DbOpt = None,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8765,
    api_key_file: KeyFileOpt = None,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Worker processes (each loads the model once).")
    ] = 1,
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="No API keys (allowed only on a loopback host).")
    ] = False,
    max_body_mb: Annotated[
        float, typer.Option(help="Largest request body accepted, in MiB.")
    ] = 32.0,
) -> None:
    """Serve the database over HTTP: the JSON API under /v1, a search page at /, the schema at
    /openapi.json. Every API route needs a key (`akindb keys create`)."""
    with handled():
        try:
            import uvicorn

            from akindb.server.auth import KeyStore
            from akindb.server.state import SETTINGS_ENV, ServerSettings
        except ImportError:
            raise MissingExtraError("server", "akindb serve") from None
        path = db_path(db).expanduser().resolve()
        if no_auth and not _is_loopback(host):
            fail(
                f"--no-auth is refused on {host}: without keys anyone who can reach the port "
                "can read and write everything. Bind to 127.0.0.1, or create keys with "
                "`akindb keys create`."
            )
        store = KeyStore.for_db(path, api_key_file)
        if not no_auth and not any(not k.revoked and not k.expired() for k in store.entries()):
            fail(
                f"no usable API key in {store.path}; create one with `akindb keys create "
                f"--db {path} --role admin --collections '*'` (or use --no-auth on 127.0.0.1)"
            )
        if no_auth:
            err.print(
                "[bold yellow]WARNING: --no-auth: API KEYS ARE OFF. Anyone on this machine can "
                f"read, write and drop every collection in {path}.[/]",
                markup=True,
            )
        settings = ServerSettings(
            db=path, auth=not no_auth,
            key_file=api_key_file.expanduser().resolve() if api_key_file else None,
            max_body_bytes=int(max_body_mb * 1024 * 1024),
        )
        from akindb.collection.database import Database

        Database(path, create=True).close()  # create or migrate it once, not in each worker
        # Each worker process imports the app factory and builds the app from these settings,
        # loading each collection's model and index once, at its startup.
        os.environ[SETTINGS_ENV] = settings.to_json()
        if workers > 1:
            # Each worker's BLAS (exact scans) gets its share of the cores, unless the user set
            # it: N workers each running all-core BLAS calls thrash. Measured on 2 cores, flat
            # 10k collection, 2 workers, 32 clients: 82-220 req/s -> 462-554 req/s.
            share = str(max(1, (os.cpu_count() or 1) // workers))
            for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
                os.environ.setdefault(var, share)
        err.print(f"akindb serving {path} at http://{host}:{port}/ ({workers} worker(s))")
        uvicorn.run(
            "akindb.server.app:app_from_env", factory=True, host=host, port=port,
            workers=workers, ws="none", lifespan="on", log_level="info",
            timeout_keep_alive=5, timeout_graceful_shutdown=10,
        )


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="read | write | admin.")],
    collections: Annotated[
        str, typer.Option(help="Comma-separated collection names, or '*' for all.")
    ],
    db: DbOpt = None,
    api_key_file: KeyFileOpt = None,
    expires_days: Annotated[
        float | None, typer.Option(help="Expire after this many days (default: never).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Create an API key and print it once: only its hash is stored, it cannot be shown again."""
    with handled():
        from akindb.server.auth import KeyStore

        store = KeyStore.for_db(db_path(db).expanduser().resolve(), api_key_file)
        plain, entry = store.create(
            role, collections.split(","),
            expires_in_s=expires_days * 86400 if expires_days else None,
        )
        if json_out:
            print_json({"key": plain, "id": entry.id, "role": entry.role,
                        "collections": list(entry.collections),
                        "expires_at": entry.expires_at or None})
            return
        out.print(plain)
        err.print(
            f"key {entry.id}: {entry.role} on {', '.join(entry.collections)}; stored hashed in "
            f"{store.path}. Copy it now: it is not shown again."
        )


@keys_app.command("list")
def keys_list(db: DbOpt = None, api_key_file: KeyFileOpt = None, json_out: JsonOpt = False) -> None:
    """List keys (ids, roles, collections, state); never the keys themselves."""
    with handled():
        from akindb.server.auth import KeyStore

        store = KeyStore.for_db(db_path(db).expanduser().resolve(), api_key_file)
        rows = [
            {"id": k.id, "role": k.role, "collections": list(k.collections),
             "state": "revoked" if k.revoked else "expired" if k.expired() else "active",
             "created": time.strftime("%Y-%m-%d %H:%M", time.localtime(k.created_at))}
            for k in store.entries()
        ]
        if json_out:
            print_json(rows)
            return
        for r in rows:
            out.print(f"{r['id']}  {r['role']:<5}  {r['state']:<7}  {r['created']}  "
                      f"{','.join(r['collections'])}")


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (see `akindb keys list`).")],
    db: DbOpt = None,
    api_key_file: KeyFileOpt = None,
) -> None:
    """Revoke a key; a running server refuses it from its next request."""
    with handled():
        from akindb.server.auth import KeyStore

        store = KeyStore.for_db(db_path(db).expanduser().resolve(), api_key_file)
        entry = store.revoke(key_id)
        err.print(f"revoked key {entry.id}")


def register(app: typer.Typer) -> None:
    """Add ``serve`` and the ``keys`` group to the root app."""
    app.command("serve")(serve)
    app.add_typer(keys_app, name="keys")
