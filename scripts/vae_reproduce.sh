#!/usr/bin/env bash
# Reproduce the VAE part (assignment Q9, Q10 and the Q2 study): results/vae/*.json and figures.
#   bash scripts/vae_reproduce.sh            # full run (H100: about 3 min; 2-core CPU: about 80 min)
#   bash scripts/vae_reproduce.sh --quick    # same commands in smoke-test size (checkpoints and logs under
#                                            runs/vae_quick, records and figures under runs/quick/results)
# Environment: PY (python), SEED (default the reference seed 0), DATA_DIR (data root), DEVICE (auto|cpu|cuda),
# RESULTS_DIR, CKPT_DIR, LOG_DIR, ALLOW_DIRTY=1 (start the reference runs from a tree with uncommitted changes).
# A full run is a reference run (--reference): it records into results/ and refuses a tree with uncommitted
# changes. A SEED other than 0 records into results/seed$SEED (checkpoints/seed$SEED/vae, runs/vae/seed$SEED),
# never over the reference records.
# The trainings are independent and run side by side; each logs to $LOG_DIR/<name>.log.
set -euo pipefail
if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then sed -n '2,/^set -euo pipefail/p' "$0" | grep '^#' | cut -c3-; exit 0; fi
PY=${PY:-.venv/bin/python}
DEVICE=${DEVICE:-auto}
REFERENCE_SEED=0
SEED=${SEED:-$REFERENCE_SEED}
MODE=(--reference)
if [[ -n "${ALLOW_DIRTY:-}" ]]; then MODE+=(--allow-dirty); fi
STUDY=(--epochs 10 --is-samples 1000)                            # the Q2 models; --quick sizes them itself
NAIVE=(--num-images 100 --max-samples 10000 --repeats 10 --is-samples 5000)
if [[ "${1:-}" == "--quick" ]]; then
  MODE=(--quick)
  STUDY=()
  NAIVE=()                                                       # naive_mc's QUICK: 5 images, L<=100, 2 repeats
  CKPT_DIR=${CKPT_DIR:-runs/vae_quick}                           # never the reference run's checkpoints
  LOG_DIR=${LOG_DIR:-runs/vae_quick/logs}
elif [[ "$SEED" != "$REFERENCE_SEED" ]]; then                    # another seed: folders of its own
  export RESULTS_DIR=${RESULTS_DIR:-results/seed$SEED}
  CKPT_DIR=${CKPT_DIR:-checkpoints/seed$SEED/vae}
  LOG_DIR=${LOG_DIR:-runs/vae/seed$SEED}
fi
CKPT=${CKPT_DIR:-checkpoints/vae}
LOGS=${LOG_DIR:-runs/vae}
if [[ "${MODE[0]}" == --quick ]]; then OUT=${RESULTS_DIR:-runs/quick/results}; else OUT=${RESULTS_DIR:-results}; fi
mkdir -p "$LOGS"
train() {
  local name=$1; shift
  "$PY" -m vae_diffusion.vae.train --name "$name" --checkpoint-dir "$CKPT" --log-dir "$LOGS" \
    --device "$DEVICE" --seed "$SEED" "$@" "${MODE[@]}" > "$LOGS/$name.log" 2>&1 || { tail -n 20 "$LOGS/$name.log"; return 1; }
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
"$PY" -m vae_diffusion.vae.naive_mc --device "$DEVICE" "${NAIVE[@]}" "${MODE[@]}" \
  --seed "$SEED" --checkpoints "$CKPT"/naive_mc_z{2,5,20,50}.pt > "$LOGS/naive_mc.log" 2>&1 || { tail -n 20 "$LOGS/naive_mc.log"; exit 1; }
echo "VAE results written to $OUT/vae"
