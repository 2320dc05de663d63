"""Disk faults on real filesystems (needs root for ``mount``; each trial is skipped otherwise).

* full disk: a small tmpfs is filled through ``add`` until ``DiskFullError``; every acknowledged
  write must survive, a delete must still work (to free space), compact must say what it
  needs, and after the filesystem grows (``remount,size=``) writes work again;
* read-only: a writer is SIGKILLed with acknowledged writes still in the WAL, the filesystem is
  remounted read-only: the database must open with every acknowledged write (or refuse
  clearly), serve reads, and refuse writes with ``ReadOnlyError``;
* files deleted under a running server: the index file (the server keeps working, the next
  save writes it again), the keys file (every request is refused, never allowed), and the
  SQLite file itself (writes must fail clearly instead of going to a deleted file).

EIO on write is injected into a real process with strace by ``eio.py``.

    python bench/reliability/disk_faults.py
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, finish

import akindb
from akindb import errors


@contextmanager
def tmpfs(where: Path, size: str) -> Iterator[Path | None]:
    where.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        yield None
        return
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def full_disk(work: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"trial": "full disk"}
    problems: list[str] = []
    with tmpfs(work / "full", "2m") as mnt:
        if mnt is None:
            return {**out, "skipped": "cannot mount tmpfs"}
        rng = np.random.default_rng(0)
        acked: list[str] = []
        with akindb.open(mnt / "db") as db:
            col = db.create_collection("v", model=None, dim=32, index="hnsw")
            try:
                for i in range(100_000):
                    ids = [f"{i}-{j}" for j in range(20)]
                    col.add(ids=ids, vectors=rng.normal(size=(20, 32)), texts=["x" * 300] * 20)
                    acked.extend(ids)
                problems.append("never hit a full disk")
            except errors.DiskFullError as exc:
                out["error"] = str(exc)[:160]
            if col.count() != len(acked):
                problems.append(f"count {col.count()} != acknowledged {len(acked)}")
            try:
                out["deleted_on_full_disk"] = col.delete(acked[:50])
                acked = acked[50:]
            except errors.AkinError as exc:
                problems.append(f"delete on a full disk failed: {exc}")
            try:
                col.compact()
                out["compact_on_full_disk"] = "ok"
            except errors.DiskFullError as exc:
                out["compact_on_full_disk"] = str(exc)[:120]
            subprocess.run(["mount", "-o", "remount,size=16m", str(mnt)], check=True)
            try:
                col.add(ids=["after"], vectors=rng.normal(size=(1, 32)))
                acked.append("after")
                col.compact()
            except errors.AkinError as exc:
                problems.append(f"no recovery after space returned: {exc}")
        with akindb.open(mnt / "db") as db:
            col = db.get_collection("v")
            ok = db.conn.execute("PRAGMA integrity_check").fetchone()[0]
            if ok != "ok":
                problems.append(f"integrity_check: {ok}")
            have = {r.id for r in col.get()}
            if have != set(acked):
                problems.append(f"{len(set(acked) - have)} acknowledged missing, "
                                f"{len(have - set(acked))} extra")
        out["acknowledged"] = len(acked)
    return {**out, "problems": problems}


_KILLED = """
import os, signal, sys
import akindb
db = akindb.open(sys.argv[1])
col = db.get_or_create_collection("v", model=None, dim=2)
col.add(ids=["base"], vectors=[[1, 0]])
db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
col.add(ids=["acked"], vectors=[[0, 1]])
col.delete(["base"])
print("acked", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def read_only(work: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"trial": "read-only filesystem"}
    problems: list[str] = []
    with tmpfs(work / "ro", "8m") as mnt:
        if mnt is None:
            return {**out, "skipped": "cannot mount tmpfs"}
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        r = subprocess.run([sys.executable, "-c", _KILLED, str(mnt / "db")], capture_output=True,
                           text=True, env=env, timeout=120)
        if "acked" not in r.stdout:
            return {**out, "problems": [f"writer failed: {r.stderr[-300:]}"]}
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        try:
            with akindb.open(mnt / "db") as db:
                col = db.get_collection("v")
                ids = {r.id for r in col.get()}
                if ids != {"acked"}:
                    problems.append(f"read-only open shows {ids}, acknowledged {{'acked'}}")
                out["search"] = [h.id for h in col.search_vector([0, 1], k=1)]
                try:
                    col.add(ids=["z"], vectors=[[1, 1]])
                    problems.append("a write on a read-only filesystem succeeded")
                except errors.ReadOnlyError:
                    out["write"] = "ReadOnlyError"
        except errors.ReadOnlyError as exc:
            out["open"] = f"refused clearly: {exc}"[:160]
    return {**out, "problems": problems}


def deleted_under_server(work: Path) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from akindb.server.app import ServerSettings
    from akindb.server.auth import KeyStore
    from tests.server.conftest import LiveServer

    out: dict[str, Any] = {"trial": "files deleted under a running server"}
    problems: list[str] = []
    db_dir = work / "served"
    with akindb.open(db_dir) as db:
        col = db.create_collection("v", model=None, dim=4, index="hnsw")
        col.add(ids=[f"d{i}" for i in range(50)],
                vectors=np.random.default_rng(0).normal(size=(50, 4)))
        col.search_vector([1, 0, 0, 0], k=1)  # load the index, so flush has one to write
        col.flush()
        index_file = col.parts.live.path
    key = KeyStore.for_db(db_dir).create("admin", ["*"])[0]
    srv = LiveServer(ServerSettings(db=db_dir, auth=True, embedders=()))
    h = {"Authorization": f"Bearer {key}"}
    u = srv.url + "/v1/collections/v"
    try:
        httpx.post(u + "/search_vector", json={"vector": [1, 0, 0, 0]}, headers=h)
        index_file.unlink()
        r = httpx.post(u + "/search_vector", json={"vector": [1, 0, 0, 0]}, headers=h)
        out["index_deleted_search"] = r.status_code
        r = httpx.post(u + "/add", json={"ids": ["n1"], "vectors": [[0, 1, 0, 0]]}, headers=h)
        httpx.post(u + "/flush", headers=h)
        out["index_rewritten"] = index_file.exists()
        if out["index_deleted_search"] != 200 or not index_file.exists():
            problems.append("deleting the index file broke the server")
        (db_dir / "keys.toml").unlink()
        r = httpx.post(u + "/search_vector", json={"vector": [1, 0, 0, 0]}, headers=h)
        out["keys_deleted_status"] = r.status_code
        if r.status_code < 400:
            problems.append("requests still allowed after keys.toml was deleted")
    finally:
        srv.stop()
    srv = LiveServer(ServerSettings(db=db_dir, auth=False, embedders=()))
    try:
        (db_dir / "akindb.sqlite").unlink()
        r = httpx.post(srv.url + "/v1/collections/v/add",
                       json={"ids": ["lost"], "vectors": [[0, 0, 1, 0]]})
        out["db_deleted_add"] = r.status_code
        if r.status_code == 200:
            problems.append("an add was acknowledged into a deleted database file")
        out["db_deleted_message"] = r.json().get("error", {}).get("message", "")[:160]
    finally:
        srv.stop()
    return {**out, "problems": problems}


def run(work: Path) -> dict[str, Any]:
    trials = [full_disk(work), read_only(work), deleted_under_server(work)]
    return {"trials": trials,
            "problems": [f"{t['trial']}: {p}" for t in trials for p in t.get("problems", [])],
            "skipped": [t["trial"] for t in trials if "skipped" in t]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with tempfile.TemporaryDirectory(prefix="akindb-disk-") as tmp:
        res = run(Path(tmp))
    finish(res, a.json, "problems")


if __name__ == "__main__":
    main()
