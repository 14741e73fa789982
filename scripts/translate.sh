#!/usr/bin/env bash
# Translate sentences: bash scripts/translate.sh --to fr "Ein Hund rennt über die Wiese."
# = python -m nlp_experiments.translation.translate with the same options (--help lists them); PY picks the
# interpreter (default .venv/bin/python). Relative paths are relative to the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PY:-.venv/bin/python}" -m nlp_experiments.translation.translate "$@"
