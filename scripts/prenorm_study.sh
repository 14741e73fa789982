#!/usr/bin/env bash
# Pre-norm vs post-norm study (Q20-Q22): bash scripts/prenorm_study.sh [--quick] [options].
# = python -m nlp_experiments.prenorm.study with the same options (--help lists them); PY picks the
# interpreter (default .venv/bin/python). Relative paths are relative to the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PY:-.venv/bin/python}" -m nlp_experiments.prenorm.study "$@"
