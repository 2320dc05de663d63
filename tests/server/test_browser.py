"""The web page in a real browser: Debian chromium driven by Playwright (no `playwright
install`). Real model on real text (pages of the Python 3.11 docs, tests/realdata.py).
Screenshots go to test-artifacts/server/ (docs/web-page.png is one of them, committed)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import akindb
from tests.conftest import REPO
from tests.realdata import extract_pydocs
from tests.server.conftest import Servers

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("AKINDB_TEST_ARTIFACTS", REPO / "test-artifacts")) / "server"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]

sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not shutil.which(CHROMIUM):
        pytest.skip(f"{CHROMIUM} not installed (scripts/test.sh installs Debian chromium)")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield b
        b.close()


def test_search_explain_and_map(browser: object, servers: Servers, tmp_path: Path) -> None:
    docs = extract_pydocs(tmp_path / "pydocs")
    with akindb.open(tmp_path / "db") as db:
        db.get_or_create_collection("pydocs").add_files([docs])
    key, _ = __import__("akindb.server.auth", fromlist=["KeyStore"]).KeyStore.for_db(
        tmp_path / "db").create("read", ["pydocs"])
    srv = servers.start(embedders=())  # the real model, loaded by name
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for width, height, name in ((1200, 900, "page-desktop.png"), (390, 844, "page-phone.png")):
        page = browser.new_page(viewport={"width": width, "height": height})  # type: ignore[attr-defined]
        page.goto(srv.url + "/")
        page.get_by_label("API key").fill(key)
        page.get_by_role("button", name="Connect").click()
        page.wait_for_selector("#stats dd")
        assert "exact (flat index)" in page.locator("#stats").inner_text()  # live recall row
        page.get_by_label("Search by meaning").fill(
            "make an unguessable token for a password reset link")
        page.get_by_role("button", name="Search", exact=True).click()
        first = page.locator("#results li").first
        first.wait_for()
        assert "secrets.rst.txt" in first.locator(".source").inner_text()
        first.get_by_role("button", name="Explain").click()
        panel = first.locator(".explain")
        panel.wait_for()
        assert "score" in panel.inner_text() and "mode" in panel.inner_text()
        page.wait_for_selector("#map circle.hit")
        assert page.locator("#map circle").count() >= 10
        assert page.locator("#map .query").count() == 1
        assert "hits are highlighted" in (page.locator("#map").get_attribute("aria-label") or "")
        # usable at phone width: nothing wider than the screen
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.screenshot(path=str(ARTIFACTS / name))
        page.close()
    # without the key the page asks for one (no data, no raw error): see the test below


def test_key_prompt_before_a_key_and_a_clear_refusal_after_a_wrong_one(
    browser: object, servers: Servers, make_key: object, tmp_path: Path
) -> None:
    """Issue 12.16: the page showed the raw "missing API key [missing_api_key]" error in red
    before anyone could type a key. Now it asks for one; a wrong key gets a plain refusal."""
    make_key("read", ["*"])  # type: ignore[operator]
    srv = servers.start()  # keys on
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(srv.url + "/")
    status = page.locator("#status")
    # Wait with a selector, not wait_for_function: the page's CSP (script-src 'self', no
    # 'unsafe-eval') refuses the eval Playwright polls a string predicate with, so that wait
    # failed whenever the status was still empty at its first check (seen under load).
    status.filter(has_text=re.compile(r"\S")).wait_for()
    assert "Enter your API key" in status.inner_text()
    assert "missing_api_key" not in status.inner_text() and status.get_attribute("class") != "error"
    assert page.evaluate("document.activeElement.id") == "apikey"
    assert page.locator("#results li").count() == 0
    page.get_by_label("API key").fill("akdb_not_a_real_key")
    page.get_by_role("button", name="Connect").click()
    page.wait_for_selector("#status.error")
    assert "did not accept this API key" in status.inner_text()
    assert "invalid_api_key" not in status.inner_text()
    page.close()
