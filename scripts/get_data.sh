#!/usr/bin/env bash
# Download (when online) and verify MNIST, Multi30k task 1 and WikiText-2 under $DATA_DIR (default: data/).
#   bash scripts/get_data.sh                       # all datasets into ./data
#   DATA_DIR=../shared/data bash scripts/get_data.sh   # only verify an existing copy
#   bash scripts/get_data.sh --datasets mnist --offline
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
exec "$PY" -m mvadl.data.fetch "$@"
