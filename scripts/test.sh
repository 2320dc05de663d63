#!/usr/bin/env bash
# Command 2: install (with test tools) and run lint, types and the whole test suite.
# The default run stays under ~10 minutes on 2 cores; tests marked `slow` (minutes each, e.g.
# the NFCorpus anchor) run after it when CI=true or AKINDB_SLOW=1.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh dev server ann train viz chroma
. .venv/bin/activate
# Browser test (tests/server/test_browser.py): Debian chromium + Playwright for Python, driving the
# system browser (no `playwright install` download). Installed only when missing.
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null
fi
python -c "import playwright" 2>/dev/null || python -m pip install -q playwright
ruff check src tests
mypy src
python -m pytest -q -m "not slow" "$@"
if [ "${CI:-}" = "true" ] || [ "${AKINDB_SLOW:-}" = "1" ]; then
  python -m pytest -q -m slow "$@"
fi
