#!/usr/bin/env bash
# Reproduce the diffusion part (assignment Q18 and the DDPM metrics): classifier, DDPM training,
# FID/KID of 1000-step samples, scheduler x steps study -> results/diffusion/.
#   bash scripts/diffusion_reproduce.sh           # full run (H100: ~8 min; CPU: many hours, use a GPU)
#   bash scripts/diffusion_reproduce.sh --quick   # same commands at smoke-test size, outputs under runs/diffusion_quick
# Environment: PY (python), SEED (default 0), DATA_DIR (data root), RESULTS_DIR, CKPT_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/reproduce_common.sh diffusion "$@"
WEIGHTS=results/diffusion/mnist_classifier.safetensors
[[ ${#QUICK[@]} == 0 ]] || WEIGHTS=$CKPT/mnist_classifier.safetensors  # --quick never overwrites the committed one
run classifier --weights "$WEIGHTS" --output-dir "$CKPT/mnist_classifier"
run train --output-dir "$CKPT/ddpm_mnist"
run evaluate --model "$CKPT/ddpm_mnist/pipeline" --classifier "$WEIGHTS"
run scheduler_study --model "$CKPT/ddpm_mnist/pipeline" --classifier "$WEIGHTS"
echo "[diffusion] done: ${RESULTS_DIR:-results}/diffusion"
