# Sourced by scripts/diffusion_reproduce.sh and scripts/guidance_reproduce.sh: the settings they share.
#   source scripts/reproduce_common.sh PART "$@"    # PART: the vae_diffusion subpackage (diffusion, guidance)
# Sets PY (default .venv/bin/python), SEED (default 0), QUICK (--quick or empty), CLASSIFIER (the MNIST classifier
# the evaluations measure with: default the committed, versioned artifacts/mnist_classifier/v1/model.safetensors;
# every record that uses it stores its sha256) and CKPT: $CKPT_DIR, else checkpoints, or runs/<PART>_quick with
# --quick (results then go where every --quick run's go, runs/quick/results, unless RESULTS_DIR is set) and OUT,
# that results folder (for messages);
# defines run MODULE ARGS... = python -m vae_diffusion.PART.MODULE ARGS... --seed SEED [--quick].
PART=$1
shift
if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then  # the calling script's header comment
  sed -n '2,/^set -euo pipefail/p' "$0" | grep '^#' | cut -c3-; exit 0
fi
PY=${PY:-.venv/bin/python}
SEED=${SEED:-0}
CLASSIFIER=${CLASSIFIER:-artifacts/mnist_classifier/v1/model.safetensors}
export HF_HUB_OFFLINE=1
QUICK=()
CKPT=${CKPT_DIR:-checkpoints}
OUT=${RESULTS_DIR:-results}
if [[ "${1:-}" == "--quick" ]]; then
  QUICK=(--quick)
  CKPT=${CKPT_DIR:-runs/${PART}_quick}
  OUT=${RESULTS_DIR:-runs/quick/results}
fi
run() { echo "[$PART] $(date +%T) $*"; "$PY" -m "vae_diffusion.$PART.$1" "${@:2}" --seed "$SEED" "${QUICK[@]}"; }
