#!/usr/bin/env bash
# Prepare Multi30k for multilingual translation (SentencePiece, one fairseq dictionary, binarized pairs).
# = python -m nlp_experiments.translation.prepare with the same options (--help lists them); PY picks the
# interpreter (default .venv/bin/python). Relative paths are relative to the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PY:-.venv/bin/python}" -m nlp_experiments.translation.prepare "$@"
