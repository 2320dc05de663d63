#!/usr/bin/env bash
# Command 2: install (with test tools) and run the whole test suite, lint and types included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh dev
. .venv/bin/activate
ruff check src tests
mypy src
python -m pytest -q "$@"
