#!/usr/bin/env bash
# Evaluate the trained models on all 6 directions -> results/nmt/scores.json and scores.png.
# = python -m nlp_experiments.translation.evaluate with the same options (--help lists them); PY picks the
# interpreter (default .venv/bin/python). Relative paths are relative to the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PY:-.venv/bin/python}" -m nlp_experiments.translation.evaluate "$@"
