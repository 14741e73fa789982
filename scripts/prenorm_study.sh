#!/usr/bin/env bash
# Pre-norm vs post-norm study (Q20-Q22): bash scripts/prenorm_study.sh [--quick] [options].
# = python -m nlp_experiments.prenorm.study with the same options (--help lists them); PY picks the
# interpreter (default .venv/bin/python). Relative paths are relative to the repository root.
# Without --quick it is a reference run (--reference: records into results/prenorm, refused from a tree with
# uncommitted changes; ALLOW_DIRTY=1 adds --allow-dirty).
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=(--reference)
for arg in "$@"; do
  case $arg in --quick|--reference|-h|--help) MODE=() ;; esac
done
if [[ ${#MODE[@]} -gt 0 && -n "${ALLOW_DIRTY:-}" ]]; then MODE+=(--allow-dirty); fi
exec "${PY:-.venv/bin/python}" -m nlp_experiments.prenorm.study "$@" "${MODE[@]}"
