#!/usr/bin/env bash
# Command 2: install (with test tools) and run lint, types and the whole test suite.
# The default run stays under ~10 minutes on 2 cores; tests marked `slow` (minutes each, e.g.
# the NFCorpus anchor) run after it when CI=true or AKINDB_SLOW=1. Tests marked `distributed`
# (a local 3-node Ray cluster, tests/distributed/) run as their own step after the fast suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh dev server ann train viz chroma ray
. .venv/bin/activate
# Browser test (tests/server/test_browser.py): Debian chromium + Playwright for Python, driving the
# system browser (no `playwright install` download). Installed only when missing.
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null
fi
python -c "import playwright" 2>/dev/null || python -m pip install -q playwright
# EIO tests (tests/reliability/test_eio.py) inject I/O errors with strace; skipped without it.
if ! command -v strace >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq strace >/dev/null; } || true
fi
ruff check src tests
mypy src
python -m pytest -q -m "not slow and not distributed" "$@"
# Ray binds every node to 127.0.0.1 only with this set before it starts (else it picks the
# external address, and a mis-addressed ray.init retries forever); each test has a hard timeout.
RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 python -m pytest -q -m distributed tests/distributed "$@"
if [ "${CI:-}" = "true" ] || [ "${AKINDB_SLOW:-}" = "1" ]; then
  python -m pytest -q -m slow "$@"
fi
