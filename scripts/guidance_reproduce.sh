#!/usr/bin/env bash
# Reproduce Q19 (text-guided diffusion and negative prompts): train the text-to-digit model on captioned
# coloured MNIST, then the negative-prompt study (same noise and prompt, with and without the negative
# prompt 'red', 200 seeds, guidance-scale sweep) -> results/guidance/.
#   bash scripts/guidance_reproduce.sh           # 2 CPU cores: ~70 min training + ~10 min study
#   bash scripts/guidance_reproduce.sh --quick   # same commands at smoke-test size, outputs under runs/guidance_quick
# Environment: PY (python), SEED (default 0), DATA_DIR (data root), RESULTS_DIR, CKPT_DIR.
# The digit check uses the MNIST classifier of the diffusion part (results/diffusion/mnist_classifier.safetensors,
# committed; scripts/diffusion_reproduce.sh retrains it).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/reproduce_common.sh guidance "$@"
run train --output-dir "$CKPT/text_to_digit"
run negative_prompt --model "$CKPT/text_to_digit/pipeline"
echo "[guidance] done: ${RESULTS_DIR:-results}/guidance"
