"""Online backup and restore of a database directory.

**Backup** runs while writers go on. The SQLite file is copied with ``VACUUM INTO`` on a
connection of its own: one read transaction, so the copy is one committed state (WAL readers
never block writers; a writer only waits for the database lock it would wait for anyway). The
other files (index files, tuning records, server keys) are copied first; then the copy is
opened and every collection's index is caught up from the copied log and saved, so each index
file in the backup is at exactly the backup's log sequence number. A manifest records those
numbers and the SHA-256 of every file, and the copy passes ``PRAGMA integrity_check`` before
the backup is declared done (until then it lives in a temporary directory beside the target).

**Restore** checks the manifest and the hashes, refuses to overwrite a database without
``force``, and refuses a database that another connection has open, even with ``force``
(replacing files under a live process would corrupt what it sees). The swap is two renames.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from akindb.errors import (
    CorruptDatabaseError,
    InvalidArgumentError,
    NotFoundError,
    StorageError,
)
from akindb.storage import database_file as dbfile
from akindb.storage import sqlite as sq
from akindb.storage.atomic import atomic_write_bytes, fsync_dir
from akindb.storage.database_file import is_open_elsewhere

DB_FILE = "akindb.sqlite"
MANIFEST = "akindb-backup.json"
BackupProgress = Callable[[str, int, int], None]
"""Called as ``(phase, done, total)``: phases "files", "sqlite", "indexes", "verify"."""

_SKIP_SUFFIXES = (".tmp",)


@dataclass
class BackupReport:
    path: str
    collections: dict[str, dict[str, Any]] = field(default_factory=dict)
    bytes: int = 0
    seconds: float = 0.0
    created_at: str = ""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _is_sqlite_part(name: str) -> bool:
    return name == DB_FILE or name.startswith(DB_FILE + "-")


def _check_target(db_dir: Path, target: Path) -> None:
    if target == db_dir or target.is_relative_to(db_dir):
        raise InvalidArgumentError(
            f"backup target {target} is inside the database directory {db_dir}; a backup must "
            "live elsewhere (a copy beside the data dies with it): pick a path outside it"
        )
    if db_dir.is_relative_to(target):
        raise InvalidArgumentError(
            f"backup target {target} contains the database {db_dir}; pick a new directory"
        )
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise InvalidArgumentError(
            f"backup target {target} already exists and is not empty; give a new directory "
            "(e.g. one named by date)"
        )


def backup(db_dir: str | Path, target: str | Path, *,
           progress: BackupProgress | None = None) -> BackupReport:
    """Back up the database directory ``db_dir`` into the new directory ``target``, online."""
    t0 = time.perf_counter()
    src = Path(db_dir).expanduser().resolve()
    dst = Path(target).expanduser().resolve()
    if not (src / DB_FILE).is_file():
        raise NotFoundError(f"no akindb database at {src}; give the --db of the one to back up")
    _check_target(src, dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.parent / f".{dst.name}.partial-{int(time.time() * 1000)}"
    tmp.mkdir()
    try:
        others = [p for p in sorted(src.rglob("*")) if p.is_file()
                  and not _is_sqlite_part(p.name) and not p.name.endswith(_SKIP_SUFFIXES)]
        for i, p in enumerate(others, 1):  # index files first: the snapshot is taken after
            out = tmp / p.relative_to(src)
            out.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):  # replaced/dropped meanwhile
                shutil.copy2(p, out)
            if progress is not None:
                progress("files", i, len(others))
        if progress is not None:
            progress("sqlite", 0, 1)
        dbfile.vacuum_into(src / DB_FILE, tmp / DB_FILE)
        if progress is not None:
            progress("sqlite", 1, 1)
        collections = _seal(tmp, progress)
        files = {str(p.relative_to(tmp)): _sha256(p) for p in sorted(tmp.rglob("*"))
                 if p.is_file()}
        report = BackupReport(
            str(dst), collections, sum(p.stat().st_size for p in tmp.rglob("*") if p.is_file()),
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        from importlib.metadata import PackageNotFoundError, version

        try:
            __version__ = version("akindb")
        except PackageNotFoundError:  # a source tree that was never installed
            __version__ = "unknown"

        manifest = {"format": "akindb-backup", "version": 1, "akindb": __version__,
                    "schema_version": sq.SCHEMA_VERSION, "source": str(src),
                    "created_at": report.created_at, "collections": collections,
                    "files": files}
        atomic_write_bytes(tmp / MANIFEST, json.dumps(manifest, indent=1).encode("utf-8"))
        if dst.exists():
            dst.rmdir()  # checked empty above
        tmp.rename(dst)
        fsync_dir(dst.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    report.seconds = time.perf_counter() - t0
    return report


def _seal(tmp: Path, progress: BackupProgress | None) -> dict[str, dict[str, Any]]:
    """Open the copy, check it, bring each index file to its log head and record the numbers."""
    from akindb.db import Database

    check = dbfile.file_integrity(tmp / DB_FILE)
    if check != ["ok"]:
        raise CorruptDatabaseError(
            f"the backup copy fails SQLite's integrity check ({check[:3]}); the source may be "
            "damaged: run `akindb doctor` on it"
        )
    db = Database(tmp, create=False)
    out: dict[str, dict[str, Any]] = {}
    try:
        names = db.list_collections()
        for i, name in enumerate(names, 1):
            col = db.get_collection(name)
            col.parts.live.get()
            col.parts.live.save()
            stats = col.parts.live.stats()
            out[name] = {"head_seq": col.parts.store.head_seq(),
                         "index_built_seq": stats["built_seq"],
                         "documents": col.count(), "chunks": col.count_chunks(),
                         "index_file": col.parts.live.path.name}
            if progress is not None:
                progress("indexes", i, len(names))
        dbfile.checkpoint(db.conn)
    finally:
        db.close()
    for p in tmp.iterdir():  # the copy's -wal/-shm are empty after the checkpoint
        if p.name != DB_FILE and _is_sqlite_part(p.name):
            p.unlink()
    return out


def read_manifest(backup_dir: Path) -> dict[str, Any]:
    path = backup_dir / MANIFEST
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotFoundError(
            f"{backup_dir} is not an akindb backup (no {MANIFEST}); give a directory made by "
            "`akindb backup`"
        ) from None
    except ValueError:
        raise CorruptDatabaseError(f"{path} is not valid JSON; the backup is damaged") from None
    if manifest.get("format") != "akindb-backup":
        raise InvalidArgumentError(f"{path} is not an akindb backup manifest")
    return manifest


def verify(backup_dir: str | Path) -> dict[str, Any]:
    """Check every file of a backup against its manifest; return the manifest."""
    bdir = Path(backup_dir).expanduser().resolve()
    manifest = read_manifest(bdir)
    for rel, digest in manifest["files"].items():
        p = bdir / rel
        if not p.is_file():
            raise CorruptDatabaseError(f"backup {bdir} lacks {rel}; the backup is incomplete")
        if _sha256(p) != digest:
            raise CorruptDatabaseError(
                f"backup file {rel} in {bdir} does not match its recorded hash; the backup is "
                "damaged: use another one"
            )
    return manifest


def restore(backup_dir: str | Path, db_dir: str | Path, *, force: bool = False,
            progress: BackupProgress | None = None) -> dict[str, Any]:
    """Restore the backup into ``db_dir``. Refuses an existing database unless ``force``, and a
    database another connection has open always. Returns the manifest."""
    bdir = Path(backup_dir).expanduser().resolve()
    dst = Path(db_dir).expanduser().resolve()
    if dst == bdir or dst.is_relative_to(bdir) or bdir.is_relative_to(dst):
        raise InvalidArgumentError(
            f"cannot restore {bdir} into {dst}: one contains the other; pick another --db"
        )
    manifest = verify(bdir)
    if progress is not None:
        progress("verify", 1, 1)
    if dst.exists() and any(dst.iterdir()):
        if not force:
            raise InvalidArgumentError(
                f"{dst} already holds data; restoring would replace it. Pass --force to "
                "replace it (back it up first if it matters)"
            )
        if is_open_elsewhere(dst / DB_FILE):
            raise StorageError(
                f"the database at {dst} is open in another process (a server, a search); stop "
                "it before restoring over it"
            )
    dst.parent.mkdir(parents=True, exist_ok=True)
    stamp = int(time.time() * 1000)
    tmp = dst.parent / f".{dst.name}.restore-{stamp}"
    try:
        shutil.copytree(bdir, tmp, ignore=shutil.ignore_patterns(MANIFEST))
        (tmp / ".restored-from.json").write_text(
            json.dumps({"backup": str(bdir), "created_at": manifest["created_at"]}),
            encoding="utf-8",
        )
        old = dst.parent / f".{dst.name}.replaced-{stamp}"
        if dst.exists():
            dst.rename(old)
        tmp.rename(dst)
        fsync_dir(dst.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return manifest


__all__ = ["BackupReport", "backup", "is_open_elsewhere", "restore", "verify"]


def report_dict(rep: BackupReport) -> dict[str, Any]:
    return asdict(rep)
