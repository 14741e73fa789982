#!/usr/bin/env bash
# Train one multilingual translation model: bash scripts/train_multilingual.sh zeroshot|direct|bilingual_en_de|bilingual_en_fr [options].
# = python -m nlp_experiments.translation.train with the same options (--help lists them); PY picks the
# interpreter (default .venv/bin/python). Relative paths are relative to the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PY:-.venv/bin/python}" -m nlp_experiments.translation.train "$@"
