#!/usr/bin/env bash
# Reproduce the diffusion part (assignment Q18 and the DDPM metrics): classifier, DDPM training,
# FID/KID of 1000-step samples, scheduler x steps study -> results/diffusion/.
#   bash scripts/diffusion_reproduce.sh           # full run (H100: ~8 min; CPU: many hours, use a GPU)
#   bash scripts/diffusion_reproduce.sh --quick   # same commands at smoke-test size: checkpoints under
#                                                 runs/diffusion_quick, records and figures under runs/quick/results
# Environment: PY (python), SEED (default the reference seed 0), DATA_DIR (data root), RESULTS_DIR, CKPT_DIR,
# CLASSIFIER, ALLOW_DIRTY=1. A full run is a reference run (--reference: records into results/, refused from
# a tree with uncommitted changes unless ALLOW_DIRTY=1); a SEED other than 0 records into results/seed$SEED
# with checkpoints under checkpoints/seed$SEED, never over the reference records.
# The classifier is retrained into $CKPT (results/diffusion/classifier.json records its accuracy and sha256), but
# FID/KID are measured with $CLASSIFIER, by default the committed artifacts/mnist_classifier/v2 weights, so the
# numbers stay comparable with the committed ones; CLASSIFIER=$CKPT/mnist_classifier/model.safetensors measures
# with the new weights (publish them as artifacts/mnist_classifier/v2 to make them the default).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/reproduce_common.sh diffusion "$@"
run classifier --weights "$CKPT/mnist_classifier/model.safetensors" --output-dir "$CKPT/mnist_classifier"
run train --output-dir "$CKPT/ddpm_mnist"
run evaluate --model "$CKPT/ddpm_mnist/pipeline" --classifier "$CLASSIFIER"
run scheduler_study --model "$CKPT/ddpm_mnist/pipeline" --classifier "$CLASSIFIER"
echo "[diffusion] done: $OUT/diffusion"
