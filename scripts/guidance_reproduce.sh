#!/usr/bin/env bash
# Reproduce Q19 (text-guided diffusion and negative prompts): the design study of the text-to-digit model
# (short trainings of each variant, scored on prompt following), the reference training of the chosen design on
# captioned coloured MNIST (every epoch's checkpoint kept and scored the same way: quality per training minute),
# then the negative-prompt study (same noise and prompt, with and without the negative
# prompts 'white', 'gray background' and 'red', 200 images whose seeds derive from SEED, per-image outcomes and
# exact McNemar tests on the pairs, the seed baseline, guidance-scale sweep, prompts naming a colour)
# -> results/guidance/
#   bash scripts/guidance_reproduce.sh           # 2 CPU cores: ~30 min design + ~85 min training + ~20 min scoring
#   bash scripts/guidance_reproduce.sh --quick   # same commands at smoke-test size: checkpoints under
#                                                 runs/guidance_quick, records and figures under runs/quick/results
# The training resumes from its latest checkpoint when run again (an interrupted run continues).
# Environment: PY (python), SEED (default the reference seed 0), DATA_DIR (data root), RESULTS_DIR, CKPT_DIR,
# CLASSIFIER, ALLOW_DIRTY=1 (see scripts/reproduce_common.sh: a full run is a reference run, refused from a
# tree with uncommitted changes; a SEED other than 0 records into results/seed$SEED),
# SKIP_DESIGN=1 (keep the design study's results and only train and evaluate), WITH_MORE_RED=1 (also train a
# second model on data with more red digits and run the study on it, tested image by image against the reference
# model's record -> results/guidance/more_red.json).
# The digit check uses the MNIST classifier $CLASSIFIER, by default the committed, versioned
# artifacts/mnist_classifier/v2/model.safetensors (results/guidance/metrics.json records its sha256).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/reproduce_common.sh guidance "$@"
if [[ -z "${SKIP_DESIGN:-}" ]]; then
  run design --output-dir "$CKPT/text_to_digit_design" --classifier "$CLASSIFIER"
fi
resume=()
if compgen -G "$CKPT/text_to_digit/checkpoints/epoch-*" > /dev/null; then resume=(--resume latest); fi
run train --output-dir "$CKPT/text_to_digit" --checkpoints-to-keep 0 "${resume[@]}"
run progress --run-dir "$CKPT/text_to_digit" --classifier "$CLASSIFIER"
run stored_precision --model "$CKPT/text_to_digit/pipeline" --classifier "$CLASSIFIER"
run negative_prompt --model "$CKPT/text_to_digit/pipeline" --classifier "$CLASSIFIER"
if [[ -n "${WITH_MORE_RED:-}" ]]; then
  resume=()
  if compgen -G "$CKPT/text_to_digit_more_red/checkpoints/epoch-*" > /dev/null; then resume=(--resume latest); fi
  run train --output-dir "$CKPT/text_to_digit_more_red" --red-share 0.6 --record-name training_more_red "${resume[@]}"
  run negative_prompt --model "$CKPT/text_to_digit_more_red/pipeline" --classifier "$CLASSIFIER" \
    --negative-prompt red --other-concepts "gray background" --output-name more_red --sweep --colour-samples 0 \
    --no-seed-baseline --compare-with "$OUT/guidance/metrics.json"
fi
echo "[guidance] done: $OUT/guidance"
