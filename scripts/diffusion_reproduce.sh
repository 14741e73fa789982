#!/usr/bin/env bash
# Reproduce the diffusion part (assignment Q18 and the DDPM metrics): classifier, DDPM training,
# FID/KID of 1000-step samples, scheduler x steps study -> results/diffusion/.
#   bash scripts/diffusion_reproduce.sh           # full run (H100: ~8 min; CPU: many hours, use a GPU)
#   bash scripts/diffusion_reproduce.sh --quick   # same commands at smoke-test size, outputs under runs/diffusion_quick
# Environment: PY (python), SEED (default 0), DATA_DIR (data root), RESULTS_DIR, CKPT_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
SEED=${SEED:-0}
export HF_HUB_OFFLINE=1
QUICK=()
CKPT=${CKPT_DIR:-checkpoints}
WEIGHTS=results/diffusion/mnist_classifier.safetensors
if [[ "${1:-}" == "--quick" ]]; then
  QUICK=(--quick)
  CKPT=${CKPT_DIR:-runs/diffusion_quick}
  WEIGHTS=$CKPT/mnist_classifier.safetensors
  export RESULTS_DIR=${RESULTS_DIR:-$CKPT/results}
fi
run() { echo "[diffusion] $(date +%T) $*"; "$PY" -m "vae_diffusion.diffusion.$1" "${@:2}" --seed "$SEED" "${QUICK[@]}"; }
run classifier --weights "$WEIGHTS" --output-dir "$CKPT/mnist_classifier"
run train --output-dir "$CKPT/ddpm_mnist"
run evaluate --model "$CKPT/ddpm_mnist/pipeline" --classifier "$WEIGHTS"
run scheduler_study --model "$CKPT/ddpm_mnist/pipeline" --classifier "$WEIGHTS"
echo "[diffusion] done: ${RESULTS_DIR:-results}/diffusion"
