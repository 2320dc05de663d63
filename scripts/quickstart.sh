#!/usr/bin/env bash
# Command 1: install, then index a real folder (the Python 3.11 docs sources) on the embedded
# default model and search it. Usage: bash scripts/quickstart.sh [FOLDER]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
. .venv/bin/activate
folder=${1:-}
if [ -z "$folder" ]; then
  folder=.quickstart/python-3.11-docs/faq
  if [ ! -d "$folder" ]; then
    mkdir -p .quickstart
    tar -xzf ../shared/data/pydocs/python-3.11.2-docs-rst-sources.tar.gz -C .quickstart
  fi
fi
akindb index "$folder" --db .quickstart/db
akindb search "duplicate a list so that changing the duplicate leaves the original alone" --db .quickstart/db -k 5
akindb search "why is my program slow and how can I speed it up" --db .quickstart/db -k 3
