"""``akindb serve`` (HTTP API + web page) and ``akindb keys`` (create / list / revoke)."""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from akindb.cli.cluster_options import ClusterOpt
from akindb.cli.common import (
    PORT_IN_USE,
    DbOpt,
    JsonOpt,
    db_path,
    err,
    fail,
    handled,
    out,
    print_json,
)
from akindb.errors import DatabaseNotFoundError, MissingExtraError

if TYPE_CHECKING:
    from akindb.server.auth import KeyStore

PORT_EXIT = 6
"""Exit code when the server cannot listen (the port is busy or the address is not ours)."""

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


def _key_store(db: Path | None, api_key_file: Path | None) -> KeyStore:
    """The key store of ``--db`` (or ``--api-key-file``), refusing a ``--db`` that is a file."""
    from akindb.server.auth import KeyStore

    path = db_path(db).expanduser().resolve()
    if api_key_file is None and path.exists() and not path.is_dir():
        fail(f"--db {path} is not a directory: give the database directory (the one holding "
             "akindb.sqlite and keys.toml)")
    return KeyStore.for_db(path, api_key_file)


def _check_port(host: str, port: int) -> None:
    """Fail early, before the model loads, when ``host:port`` cannot be listened on."""
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        fail(f"cannot resolve --host {host!r} ({exc.strerror}); use an address like 127.0.0.1")
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            sock.bind(addr)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                fail(
                    f"port {port} on {host} is already in use (another akindb serve?); stop "
                    "that process or choose another port with --port",
                    PORT_EXIT, error_code=PORT_IN_USE,
                )
            fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose another "
                 "--host or --port", PORT_EXIT, error_code=PORT_IN_USE)


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
    create: Annotated[
        bool,
        typer.Option(
            "--create", help="Create the database if --db holds none (to fill it over the API)."
        ),
    ] = False,
    cluster: ClusterOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Serve the database over HTTP: the JSON API under /v1, a search page at /, the schema at
    /openapi.json. Every API route needs a key (`akindb keys create`). With --cluster, serve
    the Ray cluster's collections instead (the same API and page, plus each collection's
    shards and replicas; --db then only holds keys.toml). Exit code 6: the port is busy or
    the address cannot be bound."""
    with handled():
        try:
            import uvicorn

            from akindb.server.state import SETTINGS_ENV, ServerSettings
        except ImportError:
            raise MissingExtraError("server", "akindb serve") from None
        path = db_path(db).expanduser().resolve()
        from akindb.collection.database import DB_FILE

        if cluster:  # a wrong address fails here, before the server starts
            from akindb.distributed.ray_env import check_address

            check_address(cluster)
        elif not create and not (path / DB_FILE).is_file():
            raise DatabaseNotFoundError(
                f"no akindb database at {path}; check --db, create one with `akindb index "
                f"FOLDER --db {path}`, or pass --create to serve a new empty database"
            )
        if no_auth and not _is_loopback(host):
            fail(
                f"--no-auth is refused on {host}: without keys anyone who can reach the port "
                "can read and write everything. Bind to 127.0.0.1, or create keys with "
                "`akindb keys create`."
            )
        store = _key_store(path, api_key_file)
        if not no_auth and not any(not k.revoked and not k.expired() for k in store.entries()):
            fail(
                f"no usable API key in {store.path}; create one with `akindb keys create "
                f"--db {path} --role admin --collections '*'` (or use --no-auth on 127.0.0.1)"
            )
        if no_auth:
            err.print(
                "[bold yellow]WARNING: --no-auth: API KEYS ARE OFF. Anyone on this machine can "
                f"read, write and drop every collection in {escape(str(path))}.[/]",
                markup=True,
            )
        _check_port(host, port)
        settings = ServerSettings(
            db=path, auth=not no_auth,
            key_file=api_key_file.expanduser().resolve() if api_key_file else None,
            max_body_bytes=int(max_body_mb * 1024 * 1024), cluster=cluster or None,
        )
        from akindb.collection.database import Database

        if not cluster:
            Database(path, create=True).close()  # create or migrate it once, not per worker
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
        url = f"http://{host}:{port}/"
        if json_out:
            print_json({"serving": url, "db": str(path), "workers": workers, "auth": not no_auth,
                        "cluster": cluster or None})
            sys.stdout.flush()
        else:
            what = f"the cluster at {cluster}" if cluster else str(path)
            err.print(f"akindb serving {escape(what)} at {url} ({workers} worker(s))")
        try:
            uvicorn.run(
                "akindb.server.app:app_from_env", factory=True, host=host, port=port,
                workers=workers, ws="none", lifespan="on", log_level="info",
                timeout_keep_alive=5, timeout_graceful_shutdown=10,
            )
        except SystemExit as exc:  # uvicorn's own exit 3 means "did not start", not "not found"
            if exc.code in (None, 0):
                raise
            fail(f"the server did not start (uvicorn exit {exc.code}; see its messages above)",
                 1, error_code="server_start_failed")


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
        store = _key_store(db, api_key_file)
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
        store = _key_store(db, api_key_file)
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
    json_out: JsonOpt = False,
) -> None:
    """Revoke a key; a running server refuses it from its next request."""
    with handled():
        store = _key_store(db, api_key_file)
        entry = store.revoke(key_id)
        if json_out:
            print_json({"revoked": entry.id})
        else:
            err.print(f"revoked key {entry.id}")


def register(app: typer.Typer) -> None:
    """Add ``serve`` and the ``keys`` group to the root app."""
    app.command("serve")(serve)
    app.add_typer(keys_app, name="keys")
