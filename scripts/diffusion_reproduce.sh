#!/usr/bin/env bash
# Reproduce the diffusion part (assignment Q18 and the DDPM metrics): classifier, DDPM training, the stored-precision
# check, FID/KID of 1000-step samples, the scheduler x steps study and the scheduler config ablation
# -> results/diffusion/.
#   bash scripts/diffusion_reproduce.sh           # full run (H100: ~10 min; 2 CPU cores: ~4 h training, ~6 h sampling)
#   bash scripts/diffusion_reproduce.sh --quick   # same commands at smoke-test size: checkpoints under
#                                                 runs/diffusion_quick, records and figures under runs/quick/results
# Environment: PY (python), SEED (default the reference seed 0), DATA_DIR (data root), RESULTS_DIR, CKPT_DIR,
# CLASSIFIER, ALLOW_DIRTY=1, SHIP=v<N>, RESUME=1. A full run is a reference run (--reference: records into results/,
# refused from a tree with uncommitted changes unless ALLOW_DIRTY=1); a SEED other than 0 records into
# results/seed$SEED with checkpoints under checkpoints/seed$SEED, never over the reference records.
# The classifier is retrained into $CKPT (results/diffusion/classifier.json records its accuracy and sha256), but
# FID/KID are measured with $CLASSIFIER, by default the committed artifacts/mnist_classifier/v2 weights, so the
# numbers stay comparable with the committed ones; CLASSIFIER=$CKPT/mnist_classifier/model.safetensors measures
# with the new weights (publish them as artifacts/mnist_classifier/v2 to make them the default).
# SHIP=v<N> ships the trained DDPM as artifacts/ddpm_mnist/v<N> in the dtype the stored-precision check chose and
# evaluates that folder (with --quick: under $CKPT/artifacts). On a CPU the evaluations take hours: an interrupted
# run continues with the same command, RESUME=1 and the same commit (training resumes from its checkpoints; the
# evaluations read back their finished sampling batches).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/reproduce_common.sh diffusion "$@"
done_before() {  # with RESUME=1, a step whose output exists is not run again
  if [[ -n "${RESUME:-}" && -e "$1" ]]; then echo "[diffusion] $1 exists (RESUME=1): not run again"; return 0; fi
  return 1
}
done_before "$CKPT/mnist_classifier/model.safetensors" ||
  run classifier --weights "$CKPT/mnist_classifier/model.safetensors" --output-dir "$CKPT/mnist_classifier"
TRAIN_RESUME=(); SAMPLE_RESUME=()
if [[ -n "${RESUME:-}" ]]; then
  SAMPLE_RESUME=(--resume)
  if compgen -G "$CKPT/ddpm_mnist/checkpoints/epoch-*" > /dev/null; then TRAIN_RESUME=(--resume latest); fi
fi
done_before "$CKPT/ddpm_mnist/pipeline/training_record.json" ||
  run train --output-dir "$CKPT/ddpm_mnist" "${TRAIN_RESUME[@]}"
MODEL=$CKPT/ddpm_mnist/pipeline
done_before "$OUT/diffusion/stored_precision.json" || run stored_precision --model "$MODEL" --classifier "$CLASSIFIER"
if [[ -n "${SHIP:-}" ]]; then
  ARTIFACTS=artifacts
  if [[ "${MODE[0]}" == --quick ]]; then ARTIFACTS=$CKPT/artifacts; fi
  DTYPE=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["chosen_dtype"])' \
    "$OUT/diffusion/stored_precision.json")
  if [[ ! -d "$ARTIFACTS/ddpm_mnist/$SHIP" ]]; then
    "$PY" -m vae_diffusion.ship --model ddpm --source "$MODEL" --record "$OUT/diffusion/ddpm_training.json" \
      --version "$SHIP" --dtype "$DTYPE" --artifacts "$ARTIFACTS"
  fi
  MODEL=$ARTIFACTS/ddpm_mnist/$SHIP
fi
run evaluate --model "$MODEL" --classifier "$CLASSIFIER" "${SAMPLE_RESUME[@]}"
run scheduler_study --model "$MODEL" --classifier "$CLASSIFIER" "${SAMPLE_RESUME[@]}"
run scheduler_ablation --model "$MODEL"
echo "[diffusion] done: $OUT/diffusion"
