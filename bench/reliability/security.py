"""Security checks against a live server with keys (issue 13, part 5).

* every route (the route table in ``akindb.server.app``'s docstring, checked against the
  OpenAPI schema so a new route cannot be missed) without a key, with a malformed, unknown,
  expired, revoked, wrong-collection and too-low-role key: 401/403, never data; the right key:
  neither 401 nor 403;
* keys stored hashed (``keys.toml`` holds no plain key) and compared with
  ``hmac.compare_digest`` (constant time, checked in the source);
* request-size limit: an oversized body is 413 before it is read;
* path-like collection names and ids: refused or stored as data, no file created outside the
  database directory;
* CORS off: no ``Access-Control-Allow-Origin`` on a cross-origin request or preflight;
* the web page: documents containing HTML/script render as text (no XSS), checked in a real
  chromium when it is installed (Debian ``chromium`` + Playwright, as tests/server/test_browser.py),
  and the page's script never assigns data to ``innerHTML``; the CSP header forbids inline
  script either way.

    python bench/reliability/security.py
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, HashEmbedder, finish

sys.path.insert(0, str(ROOT))
import akindb
from akindb.server import app as app_module
from akindb.server import auth
from akindb.server.app import ServerSettings
from akindb.server.auth import KeyStore

CHROMIUM = "/usr/bin/chromium"
XSS = [
    "<script>window.__xss = 1</script>",
    "<img src=x onerror=\"window.__xss = 1\">",
    "<svg onload=\"window.__xss=1\"></svg>",
    "\"><iframe src=javascript:window.__xss=1>",
]


def routes() -> list[tuple[str, str, str]]:
    """(method, path, role) from the app's route table."""
    doc = app_module.__doc__ or ""
    out = []
    for m in re.finditer(r"^(GET|POST|DELETE|PUT)\s+(/v1/\S*)\s+.*?\s(read|write|admin)\s*$",
                         doc, re.M):
        out.append((m.group(1), m.group(2), m.group(3)))
    return out


def run(work: Path, browser: bool = True) -> dict[str, Any]:
    sys_path = str(ROOT)
    if sys_path not in sys.path:
        sys.path.insert(0, sys_path)
    from tests.server.conftest import LiveServer

    findings: list[str] = []
    checks = 0
    db_dir = work / "db"
    emb = HashEmbedder(dim=64, name="test-hash")
    with akindb.open(db_dir) as db:
        docs = db.create_collection("docs", model=emb)
        docs.add([f"payload {x}" for x in XSS] + ["alpha beta gamma"],
                 ids=[f"x{i}" for i in range(len(XSS))] + ["a"],
                 metadatas=[{"note": x} for x in XSS] + [{"note": "<b>bold</b>"}])
        db.create_collection("other", model=emb).add(["secret text"], ids=["s"])
    store = KeyStore.for_db(db_dir)
    keys = {
        "admin": store.create("admin", ["*"])[0],
        "write": store.create("write", ["docs"])[0],
        "read": store.create("read", ["docs"])[0],
        "read_other": store.create("read", ["other"])[0],
        "expired": store.create("read", ["*"], expires_in_s=0.5)[0],
        "revoked": store.create("admin", ["*"])[0],
    }
    revoked_id = keys["revoked"].split("_")[1]
    store.revoke(revoked_id)
    time.sleep(0.6)
    srv = LiveServer(ServerSettings(db=db_dir, auth=True, embedders=(emb,)))
    try:
        c = httpx.Client(base_url=srv.url, timeout=30)
        table = routes()
        spec = c.get("/openapi.json").json()
        in_spec = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
        public = {("GET", "/healthz")}  # documented: no key, no data
        missing = in_spec - {(m, p) for m, p, _ in table} - public
        if missing:
            findings.append(f"routes not in the security table: {sorted(missing)}")
        bodies = {"search": {"query": "alpha"}, "search_batch": {"queries": ["alpha"]},
                  "search_vector": {"vector": [0.1] * 64}, "search_vectors":
                  {"vectors": [[0.1] * 64]}, "add": {"texts": ["new"], "ids": ["n"]},
                  "upsert": {"texts": ["new"], "ids": ["n"]}, "delete": {"ids": ["zz"]},
                  "get": {}, "context": {"query": "alpha"}, "more_like": {"id": "a"},
                  "tokenize": {"text": "alpha"}, "map": {}, "explain": {"query": "alpha",
                                                                         "id": "a"},
                  "add_files": {"files": [{"name": "f.txt", "text": "file text"}]},
                  "collections": {"name": "made-by-test", "model": None, "dim": 2}}
        rank = {"read": 0, "write": 1, "admin": 2}
        for method, path, role in table:
            if method == "DELETE":  # run last, below, so the others have a collection
                continue
            url = path.replace("{name}", "docs")
            body = bodies.get(path.rsplit("/", 1)[-1])
            kw: dict[str, Any] = {"json": body} if method == "POST" else {}

            def call(key: str | None, url: str = url, kw: dict[str, Any] = kw,
                     method: str = method) -> httpx.Response:
                h = {"Authorization": f"Bearer {key}"} if key else {}
                return c.request(method, url, headers=h, **kw)

            for label, key, want in [
                ("no key", None, 401), ("malformed key", "hunter2", 401),
                ("unknown key", "akdb_0badc0de_" + "A" * 43, 401),
                ("expired key", keys["expired"], 401), ("revoked key", keys["revoked"], 401),
            ]:
                checks += 1
                r = call(key)
                if r.status_code != want:
                    findings.append(f"{method} {path} with {label}: {r.status_code}")
            if "{name}" in path:
                checks += 1
                r = call(keys["read_other"])
                if r.status_code not in (403, 404):
                    findings.append(f"{method} {path} with a key for another collection: "
                                    f"{r.status_code}")
            for have in ("read", "write"):
                if rank[have] < rank[role]:
                    checks += 1
                    r = call(keys[have])
                    if r.status_code != 403:
                        findings.append(f"{method} {path} ({role}) with a {have} key: "
                                        f"{r.status_code}")
            checks += 1
            r = call(keys["admin"])
            if r.status_code in (401, 403) or r.status_code >= 500:
                findings.append(f"{method} {path} with the admin key: {r.status_code} {r.text}")
        for label, key in [("no key", None), ("read key", keys["read"])]:
            checks += 1
            h = {"Authorization": f"Bearer {key}"} if key else {}
            if c.delete("/v1/collections/other", headers=h).status_code not in (401, 403):
                findings.append(f"DELETE collection with {label} was not refused")
        # Keys stored hashed, compared in constant time.
        checks += 2
        stored = (db_dir / "keys.toml").read_text()
        if any(k in stored or k.split("_", 2)[2] in stored for k in keys.values()):
            findings.append("keys.toml holds a plain key")
        if "compare_digest" not in inspect.getsource(auth):
            findings.append("key comparison is not hmac.compare_digest")
        # Request-size limit.
        checks += 1
        big = b'{"texts": ["' + b"x" * (srv.settings.max_body_bytes + 10) + b'"]}'
        r = c.post("/v1/collections/docs/add", content=big,
                   headers={"Authorization": f"Bearer {keys['admin']}",
                            "Content-Type": "application/json"})
        if r.status_code != 413:
            findings.append(f"oversized body: {r.status_code}")
        # Path-like names and ids.
        before = {p for p in work.rglob("*")}
        for name in ["..", "../x", "%2e%2e", "..%2F..%2Fetc", "a/b", "/etc/passwd", ".hidden",
                     "a\\b", "con", "a\x00b"]:
            checks += 1
            r = c.post("/v1/collections", json={"name": name, "model": None, "dim": 2},
                       headers={"Authorization": f"Bearer {keys['admin']}"})
            if r.status_code < 400 and name not in ("con",):
                findings.append(f"collection name {name!r} accepted")
        checks += 1
        r = c.post("/v1/collections/docs/add", json={"texts": ["p"], "ids": ["../../../evil"]},
                   headers={"Authorization": f"Bearer {keys['admin']}"})
        outside = {p for p in work.rglob("*")} - before
        if any(db_dir not in p.parents and p != db_dir for p in outside):
            findings.append(f"files created outside the database: {outside}")
        # CORS off.
        checks += 2
        r = c.get("/v1/collections", headers={"Origin": "https://evil.example",
                                              "Authorization": f"Bearer {keys['read']}"})
        if "access-control-allow-origin" in r.headers:
            findings.append("CORS header on a cross-origin request")
        r = c.options("/v1/collections", headers={"Origin": "https://evil.example",
                                                  "Access-Control-Request-Method": "POST"})
        if "access-control-allow-origin" in r.headers:
            findings.append("CORS preflight allowed")
        # The page: never innerHTML with data; CSP present; and in a real browser if any.
        checks += 2
        js = (ROOT / "src/akindb/server/static/app.js").read_text()
        if re.search(r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write", js):
            findings.append("app.js writes HTML from strings")
        if "script-src 'self'" not in c.get("/").headers.get("content-security-policy", ""):
            findings.append("the page has no CSP")
        browser_result = "not run"
        if browser:
            browser_result, bf = _browser_xss(srv.url, keys["read"])
            findings += bf
            checks += 1 if browser_result == "checked" else 0
        c.close()
    finally:
        srv.stop()
    return {"checks": checks, "findings": findings, "n_findings": len(findings),
            "routes": len(routes()), "browser": browser_result}


def _browser_xss(url: str, key: str) -> tuple[str, list[str]]:
    if not Path(CHROMIUM).exists():
        return f"skipped: {CHROMIUM} not installed", []
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return "skipped: playwright not installed", []
    findings: list[str] = []
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                               args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            page = b.new_page()
            dialogs: list[str] = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(url + "/")
            page.get_by_label("API key").fill(key)
            page.get_by_role("button", name="Connect").click()
            page.wait_for_selector("#stats dd")
            page.get_by_label("Search by meaning").fill("payload script img svg iframe")
            page.get_by_role("button", name="Search", exact=True).click()
            page.locator("#results li").first.wait_for()
            shown = page.locator("#results").inner_text()
            if "<script>" not in shown and "onerror" not in shown:
                findings.append("XSS check: the payloads were not shown as text")
            for i in range(min(3, page.locator("#results li").count())):
                item = page.locator("#results li").nth(i)
                if item.get_by_role("button", name="Explain").count():
                    item.get_by_role("button", name="Explain").click()
                    item.locator(".explain").wait_for()
            page.wait_for_selector("#map circle")
            page.wait_for_timeout(500)
            fired = page.evaluate("window.__xss === 1")
            if fired or dialogs:
                findings.append("XSS: a stored document ran script in the page")
            injected = page.evaluate(
                "document.querySelectorAll('[onerror],[onload],iframe,img[src=\"x\"]').length"
                " + document.querySelectorAll('script').length - 1")
            if injected:
                findings.append(f"XSS: {injected} elements from stored HTML in the page")
        finally:
            b.close()
    return "checked", findings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="akindb-sec-") as tmp:
        res = run(Path(tmp), browser=not a.no_browser)
    finish(res, a.json, "findings")


if __name__ == "__main__":
    main()
