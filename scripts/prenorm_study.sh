#!/usr/bin/env bash
# Pre-norm vs post-norm study (assignment Q22): trains {post,pre}-norm x {shallow,deep} x {no warm-up,
# warm-up} transformer LMs on WikiText-2 with the same data, seed, optimizer (Adam) and peak LR, records
# per-layer gradient norms with the mva_cross_entropy_gradnorm criterion, then makes the figures,
# results/prenorm/summary.json and results/prenorm/jacobian_depth.json.
#
#   bash scripts/prenorm_study.sh            # full study (8 runs x 300 updates; measured 59 min on 2 busy CPU cores)
#   bash scripts/prenorm_study.sh --quick    # same code path, a few updates per run (~3 min); or QUICK=1
#
# Environment: DATA_DIR (default data; WikiText-2 in $DATA_DIR/wikitext-2), RUNS_DIR (default runs/prenorm),
# RESULTS_DIR (default results), SEED (default 1), MAX_UPDATE, WARMUP, LR, BATCH_SIZE.
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=${QUICK:-0}
for arg in "$@"; do
  case "$arg" in
    --quick) QUICK=1 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

PY=.venv/bin/python
DATA_DIR=${DATA_DIR:-data}
SEED=${SEED:-1}
LR=${LR:-5e-3}
if [[ "$QUICK" == 1 ]]; then
  MAX_UPDATE=${MAX_UPDATE:-20}; WARMUP=${WARMUP:-5}; RUNS_DIR=${RUNS_DIR:-runs/prenorm_quick}
  LOG_INTERVAL=2; VALID_INTERVAL=10; PROBE_INTERVAL=10; MAX_VALID_STEPS=2
  export RESULTS_DIR=${RESULTS_DIR:-$RUNS_DIR/results}
else
  MAX_UPDATE=${MAX_UPDATE:-300}; WARMUP=${WARMUP:-50}; RUNS_DIR=${RUNS_DIR:-runs/prenorm}
  LOG_INTERVAL=5; VALID_INTERVAL=50; PROBE_INTERVAL=100; MAX_VALID_STEPS=10
fi

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

# 2. Train the 8 runs sequentially (deep first). A run that diverges is recorded, not fatal.
mkdir -p "$RUNS_DIR"
for depth in deep shallow; do
  for norm in postnorm prenorm; do
    for warmup in 0 "$WARMUP"; do
      name="${norm}_${depth}_warmup${warmup}"
      dir="$RUNS_DIR/$name"
      rm -rf "$dir"; mkdir -p "$dir"
      echo "[prenorm_study] $(date +%T) training $name"
      start=$(date +%s)
      status=0
      .venv/bin/fairseq-train "$BIN" --user-dir fairseq_ext --task language_modeling \
        --arch "mva_lm_${norm}_${depth}" \
        --criterion mva_cross_entropy_gradnorm --gradnorm-log-interval "$LOG_INTERVAL" \
        --gradnorm-jsonl "$dir/gradnorm.jsonl" --jacobian-probe-interval "$PROBE_INTERVAL" \
        --jacobian-probe-samples 2 \
        --tokens-per-sample 64 --sample-break-mode none --batch-size "${BATCH_SIZE:-8}" \
        --optimizer adam --adam-betas '(0.9, 0.98)' --lr "$LR" \
        --lr-scheduler polynomial_decay --warmup-updates "$warmup" --total-num-update "$MAX_UPDATE" \
        --max-update "$MAX_UPDATE" --validate-interval-updates "$VALID_INTERVAL" \
        --max-valid-steps "$MAX_VALID_STEPS" --no-save --seed "$SEED" \
        --cpu --num-workers 0 --no-progress-bar --log-format json --log-interval "$LOG_INTERVAL" \
        --tensorboard-logdir "$dir/tb" > "$dir/train.log" 2>&1 || status=$?
      end=$(date +%s)
      printf '{"name": "%s", "norm": "%s", "depth": "%s", "warmup_updates": %s, "exit_code": %s, "wall_time_s": %s, "seed": %s, "lr": %s, "max_update": %s}\n' \
        "$name" "$norm" "$depth" "$warmup" "$status" "$((end - start))" "$SEED" "$LR" "$MAX_UPDATE" \
        > "$dir/meta.json"
      echo "[prenorm_study] $(date +%T) $name exit=$status"
    done
  done
done

# 3. Figures, summary.json and the Jacobian-vs-depth analysis, all from the files written above.
FIG_DIR=${RESULTS_DIR:-results}/prenorm
$PY -m fairseq_ext.analysis.prenorm_report --runs-dir "$RUNS_DIR" --dict "$BIN/dict.txt" --out-dir "$FIG_DIR" \
  $([[ "$QUICK" == 1 ]] && echo --quick)
echo "[prenorm_study] done: $FIG_DIR"
