#!/usr/bin/env bash
# Pre-norm vs post-norm study (assignment Q20-Q22), trained long enough to learn:
#   1. deep (12-layer) post- and pre-norm LMs on a peak-LR x warm-up grid ($LRS x $WARMUPS, seed 1);
#   2. the main contrast: deep post vs deep pre at the best common grid cell (the cell where the worse of the two
#      has the lowest final valid loss), seeds $SEEDS;
#   3. shallow (2-layer) post- and pre-norm at the same cell, seed 1.
# Every run logs per-layer gradient norms with the mva_cross_entropy_gradnorm criterion; after each run its config,
# seed, git revision, wall time and final numbers go to results/prenorm/runs/<name>.json (mvadl.results.write_results)
# and its per-update series to results/prenorm/series/<name>.json (compact JSON). Then the figures and
# results/prenorm/summary.json are made from those committed files only.
#
#   bash scripts/prenorm_study.sh            # full study (18 runs, 2 at a time; about 70-90 min on 2 CPU cores)
#   bash scripts/prenorm_study.sh --quick    # same code path, 20 updates per run, 8 runs (~3-4 min); or QUICK=1
#
# Resumable run by run: a run whose results/prenorm/runs/<name>.json exists is skipped (delete it to redo the run).
# Environment: DATA_DIR (default data; WikiText-2 in $DATA_DIR/wikitext-2), RUNS_DIR (default runs/prenorm),
# RESULTS_DIR (default results), MAX_UPDATE, LRS, WARMUPS, SEEDS, TOKENS_PER_SAMPLE, BATCH_SIZE, JOBS (runs at a
# time, default 2), GRID_SKIP (deep grid cells left out, e.g. "1e-3:200 3e-3:0"), GRID_LATE (grid cells run last,
# after the main contrast, and not used to choose its setting).
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=${QUICK:-0}
for arg in "$@"; do
  case "$arg" in
    --quick) QUICK=1 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

PY=.venv/bin/python
DATA_DIR=${DATA_DIR:-data}
TOKENS_PER_SAMPLE=${TOKENS_PER_SAMPLE:-128}
BATCH_SIZE=${BATCH_SIZE:-8}
if [[ "$QUICK" == 1 ]]; then
  MAX_UPDATE=${MAX_UPDATE:-20}; LRS=${LRS:-3e-3}; WARMUPS=${WARMUPS:-"0 5"}; SEEDS=${SEEDS:-"1 2"}
  RUNS_DIR=${RUNS_DIR:-runs/prenorm_quick}
  LOG_INTERVAL=2; VALID_INTERVAL=10; PROBE_INTERVAL=10; MAX_VALID_STEPS="--max-valid-steps 2"
  export RESULTS_DIR=${RESULTS_DIR:-$RUNS_DIR/results}
else
  # 3,000 updates of 8 x 128 tokens = 3.07M tokens (1.5 epochs of WikiText-2's 2.05M training tokens)
  MAX_UPDATE=${MAX_UPDATE:-3000}; LRS=${LRS:-"1e-3 3e-3"}; WARMUPS=${WARMUPS:-"0 200 1000"}; SEEDS=${SEEDS:-"1 2 3"}
  RUNS_DIR=${RUNS_DIR:-runs/prenorm}
  # gradient norms every 20 updates (+0.3% time), Jacobian probe every 500, full validation set every 1000
  # (--validate-interval 1000: no extra validation at the end of an epoch, only every 1000 updates)
  LOG_INTERVAL=20; VALID_INTERVAL=1000; PROBE_INTERVAL=500; MAX_VALID_STEPS="--validate-interval 1000"
fi
export RESULTS_DIR=${RESULTS_DIR:-results}
RECORDS="$RESULTS_DIR/prenorm/runs"

# 1. Binarize WikiText-2 once (idempotent: skipped when data-bin/wikitext-2 is complete).
BIN=data-bin/wikitext-2
RAW="$DATA_DIR/wikitext-2"
for split in train valid test; do
  [[ -f "$RAW/$split.txt" ]] || { echo "missing $RAW/$split.txt (run scripts/get_data.sh or set DATA_DIR)" >&2; exit 1; }
done
if [[ ! -f "$BIN/test.bin" || ! -f "$BIN/dict.txt" ]]; then
  rm -rf "$BIN.tmp"
  .venv/bin/fairseq-preprocess --only-source --trainpref "$RAW/train.txt" --validpref "$RAW/valid.txt" \
    --testpref "$RAW/test.txt" --destdir "$BIN.tmp" --workers 2
  rm -rf "$BIN"; mv "$BIN.tmp" "$BIN"
fi

# Adaptive input + adaptive softmax (tied, Baevski & Auli 2019): the exact full-vocabulary likelihood, but the
# 33,280-way softmax no longer dominates the cost (measured: 3.2k -> 12k tokens/s for the 12-layer d=64 model).
ADAPTIVE="2000,10000"
MODEL_ARGS=(--adaptive-softmax-cutoff "$ADAPTIVE" --adaptive-input --adaptive-input-cutoff "$ADAPTIVE"
            --tie-adaptive-weights --tie-adaptive-proj --dropout 0.0)

# $JOBS runs at a time, each on one thread: on 2 shared cores two single-thread runs give more tokens/s than one
# 2-thread run (measured 2 x 9.4k vs 14.5k tokens/s), and a 2-thread run slows down ~15x whenever another process
# takes one core (its threads wait for each other at every operation).
JOBS=${JOBS:-2}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1}

# launch NORM DEPTH LR WARMUP SEED: start `train` in the background once fewer than $JOBS runs are going.
NAMES=()
launch() {
  NAMES+=("${1}_${2}_lr${3}_wu${4}_s${5}")
  while (( $(jobs -rp | wc -l) >= JOBS )); do wait -n || true; done
  train "$@" &
}
wait_all() { while (( $(jobs -rp | wc -l) > 0 )); do wait -n || true; done; }

# train NORM DEPTH LR WARMUP SEED: one fairseq-train run, then its record (skipped when the record exists).
train() {
  local norm=$1 depth=$2 lr=$3 warmup=$4 seed=$5
  local name="${norm}_${depth}_lr${lr}_wu${warmup}_s${seed}"
  local dir="$RUNS_DIR/$name"
  if [[ -f "$RECORDS/$name.json" ]]; then
    echo "[prenorm_study] $(date +%T) $name: done before, skipped"
    return 0
  fi
  rm -rf "$dir"; mkdir -p "$dir"
  echo "[prenorm_study] $(date +%T) training $name"
  local start status=0
  start=$(date +%s)
  .venv/bin/fairseq-train "$BIN" --user-dir fairseq_ext --task language_modeling \
    --arch "mva_lm_${norm}_${depth}" "${MODEL_ARGS[@]}" \
    --criterion mva_cross_entropy_gradnorm --gradnorm-log-interval "$LOG_INTERVAL" \
    --gradnorm-jsonl "$dir/gradnorm.jsonl" --jacobian-probe-interval "$PROBE_INTERVAL" \
    --jacobian-probe-samples 2 \
    --tokens-per-sample "$TOKENS_PER_SAMPLE" --sample-break-mode none --batch-size "$BATCH_SIZE" \
    --optimizer adam --adam-betas '(0.9, 0.98)' --lr "$lr" \
    --lr-scheduler polynomial_decay --warmup-updates "$warmup" --total-num-update "$MAX_UPDATE" \
    --max-update "$MAX_UPDATE" --validate-interval-updates "$VALID_INTERVAL" $MAX_VALID_STEPS \
    --no-save --seed "$seed" \
    --cpu --num-workers 0 --no-progress-bar --log-format json --log-interval "$LOG_INTERVAL" \
    > "$dir/train.log" 2>&1 || status=$?
  local end
  end=$(date +%s)
  printf '{"name": "%s", "norm": "%s", "depth": "%s", "warmup_updates": %s, "exit_code": %s, "wall_time_s": %s, "seed": %s, "lr": %s, "max_update": %s, "tokens_per_sample": %s, "batch_size": %s}\n' \
    "$name" "$norm" "$depth" "$warmup" "$status" "$((end - start))" "$seed" "$lr" "$MAX_UPDATE" \
    "$TOKENS_PER_SAMPLE" "$BATCH_SIZE" > "$dir/meta.json"
  # a run that diverges is recorded, not fatal
  $PY -m fairseq_ext.analysis.prenorm_report --record "$dir"
  echo "[prenorm_study] $(date +%T) $name exit=$status ($((end - start)) s)"
}

# 2. The deep grid (seed 1), post-norm and pre-norm of a cell side by side. Cells in GRID_LATE run after the main
#    contrast (step 3) and take no part in choosing its setting; cells in GRID_SKIP do not run.
STUDY_START=$(date +%s)
in_list() { [[ " $2 " == *" $1 "* ]]; }
for lr in $LRS; do
  for warmup in $WARMUPS; do
    if in_list "$lr:$warmup" "${GRID_SKIP:-}"; then
      echo "[prenorm_study] grid cell LR $lr, warm-up $warmup left out (GRID_SKIP)"
      continue
    fi
    in_list "$lr:$warmup" "${GRID_LATE:-}" && continue
    for norm in postnorm prenorm; do
      launch "$norm" deep "$lr" "$warmup" 1
    done
  done
done
wait_all

# 3. The best common cell, from the grid's records; shallow models there, then the other seeds of the contrast.
read -r MAIN_LR MAIN_WARMUP < <($PY -m fairseq_ext.analysis.prenorm_report --main-setting "${NAMES[@]}")
[[ -n "${MAIN_LR:-}" && -n "${MAIN_WARMUP:-}" ]] || { echo "[prenorm_study] could not choose the main setting" >&2; exit 1; }
echo "[prenorm_study] main setting: lr $MAIN_LR, warm-up $MAIN_WARMUP"
for norm in postnorm prenorm; do
  launch "$norm" shallow "$MAIN_LR" "$MAIN_WARMUP" 1
done
for seed in $SEEDS; do
  [[ "$seed" == 1 ]] && continue
  for norm in postnorm prenorm; do
    launch "$norm" deep "$MAIN_LR" "$MAIN_WARMUP" "$seed"
  done
done
for cell in ${GRID_LATE:-}; do
  in_list "$cell" "${GRID_SKIP:-}" && continue
  for norm in postnorm prenorm; do
    launch "$norm" deep "${cell%%:*}" "${cell##*:}" 1
  done
done
wait_all
echo "[prenorm_study] $(date +%T) all runs done ($(( $(date +%s) - STUDY_START )) s this invocation)"

# 4. Figures and summary.json, from the records and series written above (fails naming a missing/broken one).
$PY -m fairseq_ext.analysis.prenorm_report --runs "${NAMES[@]}" --main-lr "$MAIN_LR" --main-warmup "$MAIN_WARMUP" \
  --dict "$BIN/dict.txt" --out-dir "$RESULTS_DIR/prenorm" $([[ "$QUICK" == 1 ]] && echo --quick)
echo "[prenorm_study] done: $RESULTS_DIR/prenorm"
