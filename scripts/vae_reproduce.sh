#!/usr/bin/env bash
# Reproduce the VAE part (assignment Q9, Q10 and the Q2 study): results/vae/*.json and figures.
#   bash scripts/vae_reproduce.sh            # full run (H100: about 3 min; 2-core CPU: about 80 min)
#   bash scripts/vae_reproduce.sh --quick    # same commands in smoke-test size (results in runs/quick/results)
# Environment: PY (python), SEED (default 0), DATA_DIR (data root), DEVICE (auto|cpu|cuda), RESULTS_DIR, CKPT_DIR,
# LOG_DIR.
# The trainings are independent and run side by side; each logs to $LOG_DIR/<name>.log.
set -euo pipefail
if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then sed -n '2,/^set -euo pipefail/p' "$0" | grep '^#' | cut -c3-; exit 0; fi
PY=${PY:-.venv/bin/python}
CKPT=${CKPT_DIR:-checkpoints/vae}
LOGS=${LOG_DIR:-runs/vae}
DEVICE=${DEVICE:-auto}
SEED=${SEED:-0}
QUICK=()
OUT=${RESULTS_DIR:-results}
STUDY=(--epochs 10 --is-samples 1000)                            # the Q2 models; --quick sizes them itself
NAIVE=(--num-images 100 --max-samples 10000 --repeats 10 --is-samples 5000)
if [[ "${1:-}" == "--quick" ]]; then
  QUICK=(--quick)
  OUT=${RESULTS_DIR:-runs/quick/results}
  STUDY=()
  NAIVE=(--quick)                                                # naive_mc's QUICK: 5 images, L<=100, 2 repeats
fi
mkdir -p "$LOGS"
train() {
  local name=$1; shift
  "$PY" -m vae_diffusion.vae.train --name "$name" --checkpoint-dir "$CKPT" --log-dir "$LOGS" \
    --device "$DEVICE" --seed "$SEED" "$@" "${QUICK[@]}" > "$LOGS/$name.log" 2>&1 || { tail -n 20 "$LOGS/$name.log"; return 1; }
}
pids=()
train metrics & pids+=($!)                                       # Q9/Q10: z=20, 80 epochs, 2x1024
if [[ "${WITH_IWAE:-0}" == 1 ]]; then                           # optional: IWAE bound with K=50
  train iwae_k50 --iw-samples 50 --no-figures & pids+=($!)
fi
( for z in 2 5 20 50; do                                         # Q2 study: 10-epoch models per latent size
    train "naive_mc_z$z" --z-dim "$z" "${STUDY[@]}" --no-figures
  done ) & pids+=($!)
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
[[ $status == 0 ]] || { echo "a VAE training failed; see $LOGS/*.log" >&2; exit 1; }
"$PY" -m vae_diffusion.vae.naive_mc --device "$DEVICE" "${NAIVE[@]}" \
  --seed "$SEED" --checkpoints "$CKPT"/naive_mc_z{2,5,20,50}.pt > "$LOGS/naive_mc.log" 2>&1 || { tail -n 20 "$LOGS/naive_mc.log"; exit 1; }
echo "VAE results written to $OUT/vae"
