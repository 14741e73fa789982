#!/usr/bin/env bash
# Reproduce Part 3 (multilingual translation): prepare Multi30k, train the four models of the table
# (zeroshot, direct, bilingual_en_de, bilingual_en_fr; 6,400 updates each) two at a time with one thread each,
# then the learning curves (each model's last 3 checkpoints averaged at 1,600, 3,200, 4,800 and 6,400 updates, the
# bilingual models' also at 2,400 for the equal-compute comparison with zeroshot at 2N; all directions,
# de<->fr also through English with zeroshot; outputs kept in results/nmt/hyps), the paired
# bootstrap of every comparison (curves.json, comparisons.json) -> results/nmt/. SHIP=v<N> also ships each of the
# four models at 6,400 updates as artifacts/nmt_MODEL/v<N> (a version a model already has is refused).
#   bash scripts/nmt_reproduce.sh            # 2 CPU cores: ~1 h 30 min a pair of models + ~25 min a pair's curves
#   bash scripts/nmt_reproduce.sh --budget   # first the throughput / learning-rate study (results/nmt/budget.json, ~45 min)
#   bash scripts/nmt_reproduce.sh --quick    # tiny models, a few updates: data, checkpoints and logs under
#                                            runs/nmt_quick; records, translations and figures under runs/quick/results
# A full run is a reference run (--reference: records into results/, refused from a tree with uncommitted changes
# unless ALLOW_DIRTY=1).
# Environment: PY (python), SEED (fairseq-train --seed, default 1), DATA_DIR (data root), RESULTS_DIR, CKPT_DIR,
# ALLOW_DIRTY.
# With SEED=S other than 1 the runs are named MODEL_seedS (checkpoints, logs, records, outputs), the comparisons
# also set each one against its seed-1 run where that exists, and the script stops there (the shipped models are
# those of seed 1). TRAIN_MODELS="zeroshot bilingual_en_de" trains and scores just
# these, two at a time, and stops there too.
# Every run stops at a fixed number of updates, so on a CPU the same command with the same threads per run gives
# the same models (another thread count changes the order of floating-point sums, and so the weights slightly).
set -euo pipefail
if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then sed -n '2,/^set -euo pipefail/p' "$0" | grep '^#' | cut -c3-; exit 0; fi
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
SEED=${SEED:-1}
CKPT=${CKPT_DIR:-checkpoints/nmt}
RUNS=runs/nmt
QUICK=()
MODE=(--reference)
if [[ -n "${ALLOW_DIRTY:-}" ]]; then MODE+=(--allow-dirty); fi
OUT=${RESULTS_DIR:-results}
DATA=data-bin/multi30k
if [[ "${1:-}" == --quick ]]; then
  QUICK=(--quick)
  MODE=()
  CKPT=${CKPT_DIR:-runs/nmt_quick/checkpoints}
  RUNS=runs/nmt_quick
  DATA=runs/nmt_quick/data-bin
  OUT=${RESULTS_DIR:-runs/quick/results}
fi
nmt() { echo "[nmt] $(date +%T) $*"; "$PY" -m "nlp_experiments.translation.$1" "${@:2}" "${MODE[@]}"; }
nmt prepare --out-dir "$DATA" "${QUICK[@]}"
if [[ "${1:-}" == --budget ]]; then
  nmt budget --data-bin "$DATA" --seed "$SEED"
fi
# Two models side by side, one thread each: the faster layout on 2 cores (results/nmt/budget.json).
train_pair() {
  local pids=() model
  for model in "$@"; do
    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 nmt train "$model" --data-bin "$DATA" --checkpoints "$CKPT" \
      --runs-dir "$RUNS" --seed "$SEED" "${QUICK[@]}" > "$RUNS/train_${model}_seed$SEED.out" 2>&1 & pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || { tail -n 20 "$RUNS"/train_*.out; return 1; }; done
}
# The learning curves of two models side by side (one thread each), then what they are compared with.
curves_pair() {
  local pids=() model points
  for model in "$@"; do
    points=()
    # the bilingual models also at N = 1,600 and 2,400: zeroshot at 2N costs as much as two bilingual models at N
    if [[ $model == bilingual_* && ${#QUICK[@]} == 0 ]]; then points=(--points 1600 2400 3200 4800 6400); fi
    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 nmt curves --models "$model" --training-seed "$SEED" --data-bin "$DATA" \
      --checkpoints "$CKPT" --runs-dir "$RUNS" "${points[@]}" "${QUICK[@]}" > "$RUNS/curves_${model}_seed$SEED.out" \
      2>&1 & pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || { tail -n 20 "$RUNS"/curves_*.out; return 1; }; done
}
mkdir -p "$RUNS"
read -r -a models <<< "${TRAIN_MODELS:-zeroshot direct bilingual_en_de bilingual_en_fr}"
for ((i = 0; i < ${#models[@]}; i += 2)); do
  train_pair "${models[@]:i:2}"
  curves_pair "${models[@]:i:2}"
done
nmt comparisons --data-bin "$DATA" "${QUICK[@]}"
if [[ $SEED != 1 || -n ${TRAIN_MODELS:-} ]]; then echo "[nmt] done (the shipped models are those of seed 1)"; exit 0; fi
if [[ -n "${SHIP:-}" ]]; then
  for model in "${models[@]}"; do
    nmt ship --model "$model" --version "$SHIP" --data-bin "$DATA" --checkpoints "$CKPT" --runs-dir "$RUNS" "${QUICK[@]}"
  done
fi
echo "[nmt] done: $OUT/nmt"
