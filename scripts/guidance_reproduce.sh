#!/usr/bin/env bash
# Reproduce Q19 (text-guided diffusion and negative prompts): train the text-to-digit model on captioned
# coloured MNIST, then the negative-prompt study (same noise and prompt, with and without the negative
# prompt 'red', 200 seeds, guidance-scale sweep) -> results/guidance/.
#   bash scripts/guidance_reproduce.sh           # 2 CPU cores: ~70 min training + ~10 min study
#   bash scripts/guidance_reproduce.sh --quick   # same commands at smoke-test size, outputs under runs/guidance_quick
# Environment: PY (python), SEED (default 0), DATA_DIR (data root), RESULTS_DIR, CKPT_DIR, CLASSIFIER.
# The digit check uses the MNIST classifier $CLASSIFIER, by default the committed, versioned
# artifacts/mnist_classifier/v1/model.safetensors (results/guidance/metrics.json records its sha256).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/reproduce_common.sh guidance "$@"
run train --output-dir "$CKPT/text_to_digit"
run negative_prompt --model "$CKPT/text_to_digit/pipeline" --classifier "$CLASSIFIER"
echo "[guidance] done: ${RESULTS_DIR:-results}/guidance"
