#!/usr/bin/env bash
# Evaluate the trained models on all 6 directions -> results/nmt/scores.json and scores.png.
# = python -m nlp_experiments.translation.evaluate with the same options (--help lists them); PYTHON picks the
# interpreter (default .venv/bin/python). Relative paths are relative to the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PYTHON:-.venv/bin/python}" -m nlp_experiments.translation.evaluate "$@"
