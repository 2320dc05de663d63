#!/usr/bin/env bash
# Command 2: install (with test tools) and run lint, types and the whole test suite.
# The default run stays under ~10 minutes on 2 cores; tests marked `slow` (minutes each, e.g.
# the NFCorpus anchor) run after it when CI=true or AKINDB_SLOW=1.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh dev
. .venv/bin/activate
ruff check src tests
mypy src
python -m pytest -q -m "not slow" "$@"
if [ "${CI:-}" = "true" ] || [ "${AKINDB_SLOW:-}" = "1" ]; then
  python -m pytest -q -m slow "$@"
fi
