"""``akindb serve --cluster``: the same HTTP API, client and web page on a cluster's collections.

A real ``akindb serve --cluster ADDRESS`` process on loopback (keys on) serves a 2-shard x
2-replica collection of the local 3-node cluster; the real HTTP client (``akindb.connect``)
adds, searches, gets, updates, deletes and uploads files, and every change is seen by the
cluster directly; Debian chromium shows the collection's shards and replicas on the page.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import akindb
from akindb.distributed import Cluster, DistributedCollection
from akindb.distributed.ray_env import wait_until
from akindb.server.auth import KeyStore

pytestmark = [pytest.mark.distributed, pytest.mark.timeout(300)]


@dataclass
class Served:
    url: str
    key: str
    col: DistributedCollection
    log: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _up(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=2) as r:
            return bool(r.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="module")
def served(cluster: Cluster, nf_docs: list[tuple[str, str]],
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    col = cluster.create_collection("web", shards=2, replicas=2)
    col.add([t for _, t in nf_docs[:20]], ids=[d for d, _ in nf_docs[:20]])
    keys = tmp_path_factory.mktemp("serve-keys")
    key, _ = KeyStore.for_db(keys).create("admin", ["*"])
    port = _free_port()
    log = keys / "serve.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path),
           "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "akindb.cli.main", "serve", "--cluster", cluster.address,
             "--db", str(keys), "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        ok = wait_until(lambda: _up(url) or proc.poll() is not None, 180)
        assert ok and proc.poll() is None, log.read_text(errors="replace")[-3000:]
        yield Served(url, key, col, log)
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(30)
        cluster.drop_collection("web")


def test_http_client_reads_and_writes_a_cluster_collection(
        served: Served, nf_docs: list[tuple[str, str]], tmp_path: Path) -> None:
    with akindb.connect(served.url, api_key=served.key) as client:
        _client_calls(client, served, nf_docs, tmp_path)


def _client_calls(client: akindb.client.Client, served: Served,
                  nf_docs: list[tuple[str, str]], tmp_path: Path) -> None:
    assert "web" in client.list_collections()
    rc, col = client.get_collection("web"), served.col
    assert rc.count() == col.count() == 20
    info = rc.info()
    assert info["documents"] == 20 and info["model"] == col.info()["model"]
    (_, t20), (_, t21) = nf_docs[20], nf_docs[21]
    assert rc.add([t20, t21], ids=["h1", "h2"], metadatas=[{"via": "http"}] * 2) == ["h1", "h2"]
    assert col.count() == 22  # written to the shards' primaries through the server's router
    for q, doc in ((t21[:300], "h2"), (nf_docs[5][1][:300], nf_docs[5][0])):
        got = rc.search(q, k=5, mode="vector", exact=True)
        want = col.search(q, k=5, mode="vector", exact=True)
        assert got[0].id == doc
        assert [h.id for h in got] == [h.id for h in want]
    assert [h.id for h in rc.search("cholesterol", k=5)] == [
        h.id for h in col.search("cholesterol", k=5)]  # hybrid, as the cluster answers it
    assert rc.get(["h1"])[0].metadata == {"via": "http"}
    rc.update(["h1"], metadatas=[{"x": 1}])
    assert col.get("h1")[0].metadata == {"via": "http", "x": 1}
    assert rc.delete(["h1", "h2"]) == 2 and col.count() == 20 and rc.get(["h1"]) == []
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Vitamin D and bone health in older adults.")
    (docs / "b.txt").write_text("Green tea and blood pressure.")
    assert rc.add_files([docs]).added == 2 and col.count() == 22
    (docs / "b.txt").unlink()
    rep = rc.add_files([docs])  # uploaded, then pruned on the shards
    assert rep.removed == [str((docs / "b.txt").resolve())] and col.count() == 21
    col.delete([str((docs / "a.txt").resolve())])
    with pytest.raises(akindb.errors.CollectionNotFoundError):
        client.get_collection("nope").count()
    made = client.create_collection("made-over-http", model=None, dim=4)  # on the cluster
    made.add(["x"], ids=["x"], vectors=[[1.0, 0.0, 0.0, 0.0]])
    assert made.search_vector([1.0, 0.0, 0.0, 0.0], k=1)[0].id == "x"
    assert made.info()["documents"] == 1
    client.drop_collection("made-over-http")
    assert "made-over-http" not in client.list_collections()


CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


def test_web_page_shows_shards_and_replicas(served: Served) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    if not shutil.which(CHROMIUM):
        pytest.skip(f"{CHROMIUM} not installed (scripts/test.sh installs Debian chromium)")
    from tests.server.test_browser import ARTIFACTS

    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(served.url + "/")
            page.get_by_label("API key").fill(served.key)
            page.get_by_role("button", name="Connect").click()
            try:
                page.wait_for_selector("#shards tbody tr", timeout=60_000)
            except sync_api.TimeoutError:
                raise AssertionError(
                    f"no shard view; page status: {page.locator('#status').inner_text()!r}; "
                    f"server log: {served.log.read_text(errors='replace')[-2000:]}") from None
            page.locator("#collection").select_option("web")  # other collections may exist
            rows = page.locator("#shards tbody tr")
            sync_api.expect(rows).to_have_count(4, timeout=60_000)  # 2 shards x 2 replicas
            sync_api.expect(page.locator("#stats dd").first).to_have_text("20",
                                                                       timeout=60_000)
            text = page.locator("#shards").inner_text()
            assert text.count("primary") == 2 and "ready" in text
            assert sorted(rows.nth(i).get_attribute("data-shard") or ""
                          for i in range(4)) == ["0", "0", "1", "1"]
            assert "node(s) alive" in page.locator("#shards-nodes").inner_text()
            page.get_by_label("Search by meaning").fill("vitamin D deficiency")
            page.get_by_role("button", name="Search", exact=True).click()
            first = page.locator("#results li").first
            first.wait_for(timeout=60_000)
            first.get_by_role("button", name="Explain").click()  # recomputed in the server
            sync_api.expect(first.locator(".explain")).to_contain_text("score",
                                                                     timeout=60_000)
            try:
                page.wait_for_selector("#map circle.hit", timeout=60_000)
            except sync_api.TimeoutError:
                raise AssertionError(
                    f"no map; page status: {page.locator('#status').inner_text()!r}; "
                    f"server log: {served.log.read_text(errors='replace')[-3000:]}") from None
            assert page.locator("#map circle").count() >= 10
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "page-cluster.png"))
        finally:
            browser.close()
