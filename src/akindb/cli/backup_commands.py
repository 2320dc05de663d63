"""``akindb backup`` and ``akindb restore`` (the work is in ``akindb.backup``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from akindb.cli.common import DbOpt, JsonOpt, db_path, handled, out, print_json
from akindb.cli.progress_bar import phase_bar


def backup(
    target: Annotated[Path, typer.Argument(help="New directory to write the backup into.")],
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Back up the database while it runs: one consistent state (SQLite VACUUM INTO in one
    read transaction) with every index file at the same log sequence number."""
    from akindb.backup import backup as run_backup
    from akindb.backup import report_dict

    with handled(), phase_bar(not json_out) as bar:
        rep = run_backup(db_path(db), target, progress=bar)
    if json_out:
        print_json(report_dict(rep))
        return
    cols = ", ".join(f"{n} ({c['documents']} docs @ seq {c['head_seq']})"
                     for n, c in rep.collections.items()) or "no collections"
    out.print(f"backup of {db_path(db)} → {rep.path}: {cols}; {rep.bytes / 1e6:.1f} MB in "
              f"{rep.seconds:.1f} s")


def restore(
    backup_dir: Annotated[Path, typer.Argument(help="A directory made by `akindb backup`.")],
    db: DbOpt = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing database (never a live one).")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Restore a backup into --db after checking every file's hash. An existing database is
    replaced only with --force, and never while another process has it open."""
    from akindb.backup import restore as run_restore

    with handled():
        manifest = run_restore(backup_dir, db_path(db), force=force)
    if json_out:
        print_json({"db": str(db_path(db)), "backup": str(backup_dir),
                    "created_at": manifest["created_at"],
                    "collections": manifest["collections"]})
        return
    out.print(f"restored {backup_dir} (taken {manifest['created_at']}) into {db_path(db)}: "
              f"{len(manifest['collections'])} collection(s)")


def register(app: typer.Typer) -> None:
    app.command()(backup)
    app.command()(restore)
