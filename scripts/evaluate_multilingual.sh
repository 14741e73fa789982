#!/usr/bin/env bash
# Evaluate one checkpoint of each trained model on all 6 directions -> <results>/nmt/evaluation.json and .png.
# = python -m nlp_experiments.translation.evaluate with the same options (--help lists them); PY picks the
# interpreter (default .venv/bin/python). Relative paths are relative to the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PY:-.venv/bin/python}" -m nlp_experiments.translation.evaluate "$@"
