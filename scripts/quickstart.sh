#!/usr/bin/env bash
# Command 1: install, then index a real folder (the Python 3.11 docs sources) on the embedded
# default model and search it. Usage: bash scripts/quickstart.sh [FOLDER]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
. .venv/bin/activate
folder=${1:-}
own=1
if [ -z "$folder" ]; then
  own=0
  folder=.quickstart/python-3.11-docs/faq
  if [ ! -d "$folder" ]; then
    mkdir -p .quickstart
    tar -xzf ../shared/data/pydocs/python-3.11.2-docs-rst-sources.tar.gz -C .quickstart
  fi
fi
akindb index "$folder" --db .quickstart/db

# demo QUERY FILE HEADING: search, after printing the answer a reader should expect on the
# Python FAQ (the FAQ entry FILE: HEADING). The same search anyone runs; nothing is tuned for
# these queries. tests/test_quickstart.py checks the expectations on the real model.
demo() {
  echo
  if [ "$own" = 0 ]; then
    echo "query: \"$1\"   expected top hit: $2 — \"$3\""
  else
    echo "query: \"$1\""
  fi
  akindb search "$1" --db .quickstart/db -k 3
}
demo "make an independent copy of an object" \
  "programming.rst.txt" "How do I copy an object in Python?"
demo "why does Python use indentation instead of braces" \
  "design.rst.txt" "Why does Python use indentation for grouping of statements?"
demo "why is my program slow and how can I speed it up" \
  "programming.rst.txt" "My program is too slow. How do I speed it up?"
