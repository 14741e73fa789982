# Sourced by scripts/diffusion_reproduce.sh and scripts/guidance_reproduce.sh: the settings they share.
#   source scripts/reproduce_common.sh PART "$@"    # PART: the vae_diffusion subpackage (diffusion, guidance)
# Sets PY (default .venv/bin/python), SEED (default the reference seed 0), MODE (--reference, which records into
# results/ and refuses a tree with uncommitted changes unless ALLOW_DIRTY=1 adds --allow-dirty; --quick with
# --quick), CLASSIFIER (the MNIST classifier the evaluations measure with: default the committed, versioned
# artifacts/mnist_classifier/v2/model.safetensors; every record that uses it stores its sha256) and CKPT:
# $CKPT_DIR, else checkpoints, or runs/<PART>_quick with --quick (results then go where every --quick run's go,
# runs/quick/results, unless RESULTS_DIR is set). A SEED other than the reference seed gets a results folder
# and checkpoints of its own (RESULTS_DIR=results/seed$SEED, checkpoints/seed$SEED), so it never writes over the
# reference records. OUT: that results folder (for messages).
# Defines run MODULE ARGS... = python -m vae_diffusion.PART.MODULE ARGS... --seed SEED MODE.
PART=$1
shift
if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then  # the calling script's header comment
  sed -n '2,/^set -euo pipefail/p' "$0" | grep '^#' | cut -c3-; exit 0
fi
PY=${PY:-.venv/bin/python}
REFERENCE_SEED=0
SEED=${SEED:-$REFERENCE_SEED}
CLASSIFIER=${CLASSIFIER:-artifacts/mnist_classifier/v2/model.safetensors}
export HF_HUB_OFFLINE=1
if [[ "${1:-}" == "--quick" ]]; then
  MODE=(--quick)
  CKPT=${CKPT_DIR:-runs/${PART}_quick}
  OUT=${RESULTS_DIR:-runs/quick/results}
else
  MODE=(--reference)
  if [[ -n "${ALLOW_DIRTY:-}" ]]; then MODE+=(--allow-dirty); fi
  CKPT=${CKPT_DIR:-checkpoints}
  if [[ "$SEED" != "$REFERENCE_SEED" ]]; then
    export RESULTS_DIR=${RESULTS_DIR:-results/seed$SEED}
    CKPT=${CKPT_DIR:-checkpoints/seed$SEED}
  fi
  OUT=${RESULTS_DIR:-results}
fi
run() { echo "[$PART] $(date +%T) $*"; "$PY" -m "vae_diffusion.$PART.$1" "${@:2}" --seed "$SEED" "${MODE[@]}"; }
