#!/usr/bin/env bash
# Train one multilingual translation model on Multi30k (assignment section 3) with fairseq and this
# project's plugins: one mva_transformer_multi30k model (all embeddings shared), target-language tokens,
# every pair sampled into one iterator, per-pair validation (mva_multilingual_translation task); the best
# checkpoint is chosen on the mean validation loss over pairs.
#
#   bash scripts/train_multilingual.sh zeroshot    # en-de,de-en,en-fr,fr-en (de<->fr never seen)
#   bash scripts/train_multilingual.sh direct      # the same + de-fr,fr-de
#   bash scripts/train_multilingual.sh bilingual_en_de | bilingual_en_fr   # same architecture, one language pair
#   bash scripts/train_multilingual.sh direct --quick    # a few updates, same code path (smoke test)
#
# Options: --seed N (default 1)  --max-update N  --stop-time-hours H (default 1: the 60-minute budget)
#          --arch A (default mva_transformer_multi30k_cpu, d=128; mva_transformer_multi30k is d=256)
#          --lr LR (default 2e-3)
#          --eval-bleu (also translate the validation set at each validation: per-pair BLEU/chrF/off-target)
#          --data-bin DIR (default data-bin/multi30k)  --save-dir DIR (default checkpoints/nmt/<config>)
#          --quick
# Environment: PYTHON (default .venv/bin/python), RUNS_DIR (default runs/nmt: logs, TensorBoard, meta.json),
#          OMP_NUM_THREADS (e.g. 1 to train two models side by side on a 2-core machine).
# Uses the GPU when torch sees one, else --cpu. Run scripts/prepare_multi30k.sh first.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,20p' "$0"; }
[[ $# -ge 1 ]] || { usage >&2; exit 2; }
CONFIG=$1; shift
case "$CONFIG" in
  zeroshot) PAIRS=en-de,de-en,en-fr,fr-en ;;
  direct) PAIRS=en-de,de-en,en-fr,fr-en,de-fr,fr-de ;;
  bilingual_en_de) PAIRS=en-de,de-en ;;
  bilingual_en_fr) PAIRS=en-fr,fr-en ;;
  -h|--help) usage; exit 0 ;;
  *) echo "train_multilingual: unknown configuration '$CONFIG' (zeroshot, direct, bilingual_en_de, bilingual_en_fr)" >&2
     exit 2 ;;
esac

SEED=1
# One epoch of `zeroshot` is ~570 updates of ~3,600 target tokens, one of `direct` ~860. Measured on one CPU
# core: d=128 (the default arch) 2,970 target tokens/s = 0.8 updates/s, i.e. ~2,900 updates in 60 minutes;
# d=256 1,370 tokens/s. --stop-time-hours enforces the 60-minute budget on any machine; 6000 updates
# (~7-10 epochs) is the cap for a faster machine.
MAX_UPDATE=${MAX_UPDATE:-6000}
ARCH=mva_transformer_multi30k_cpu
LR=2e-3
STOP_TIME_HOURS=1
DATA_BIN=data-bin/multi30k
SAVE_DIR=
EVAL_BLEU=()
QUICK=${QUICK:-0}
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seed) SEED=$2; shift 2 ;;
    --max-update) MAX_UPDATE=$2; shift 2 ;;
    --stop-time-hours) STOP_TIME_HOURS=$2; shift 2 ;;
    --eval-bleu) EVAL_BLEU=(--eval-pair-bleu); shift ;;
    --data-bin) DATA_BIN=$2; shift 2 ;;
    --arch) ARCH=$2; shift 2 ;;
    --lr) LR=$2; shift 2 ;;
    --save-dir) SAVE_DIR=$2; shift 2 ;;
    --quick) QUICK=1; shift ;;
    *) echo "train_multilingual: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

PY=${PYTHON:-.venv/bin/python}
RUNS_DIR=${RUNS_DIR:-runs/nmt}
SAVE_DIR=${SAVE_DIR:-checkpoints/nmt/$CONFIG}
RUN_DIR="$RUNS_DIR/$CONFIG"
LANGS=en,de,fr   # fixed order: the language tokens' indices must match between training and generation
[[ -f "$DATA_BIN/dict.txt" ]] || { echo "train_multilingual: $DATA_BIN/dict.txt missing (run scripts/prepare_multi30k.sh)" >&2; exit 1; }

if [[ "$QUICK" == 1 ]]; then
  MAX_UPDATE=${QUICK_MAX_UPDATE:-20}; WARMUP=5; VALID=(--validate-interval-updates 10 --max-valid-steps 2); LOG_INTERVAL=5
  MODEL=(--arch mva_transformer_multi30k --encoder-layers 1 --decoder-layers 1 --encoder-embed-dim 64
         --encoder-ffn-embed-dim 128 --encoder-attention-heads 2 --decoder-attention-heads 2)
else
  WARMUP=400; VALID=(--validate-interval-updates 500); LOG_INTERVAL=50
  MODEL=(--arch "$ARCH")
fi
DEVICE=()
"$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" || DEVICE=(--cpu)

mkdir -p "$RUN_DIR" "$SAVE_DIR"
echo "[train_multilingual] $(date +%T) $CONFIG: ${MODEL[1]}, lr $LR, pairs $PAIRS, max $MAX_UPDATE updates / $STOP_TIME_HOURS h, seed $SEED, ${DEVICE[*]:-gpu}"
start=$(date +%s)
echo 0 > "$RUN_DIR/exit_code"
{ "$PY" -m fairseq_cli.train "$DATA_BIN" --user-dir fairseq_ext \
  --task mva_multilingual_translation --lang-pairs "$PAIRS" --langs "$LANGS" \
  --encoder-langtok src --decoder-langtok --sampling-method temperature --sampling-temperature 1.5 \
  "${MODEL[@]}" --share-all-embeddings \
  --criterion label_smoothed_cross_entropy --label-smoothing 0.1 \
  --optimizer adam --adam-betas '(0.9, 0.98)' --lr "$LR" --lr-scheduler inverse_sqrt \
  --warmup-updates "$WARMUP" --warmup-init-lr 1e-7 --weight-decay 0.0001 --clip-norm 1.0 \
  --max-tokens 4096 --max-update "$MAX_UPDATE" --stop-time-hours "$STOP_TIME_HOURS" \
  "${VALID[@]}" "${EVAL_BLEU[@]}" --best-checkpoint-metric loss_mean \
  --save-dir "$SAVE_DIR" --keep-last-epochs 1 --keep-interval-updates 1 --no-epoch-checkpoints \
  --tensorboard-logdir "$RUN_DIR/tb" --seed "$SEED" --num-workers 0 \
  --log-format simple --log-interval "$LOG_INTERVAL" --no-progress-bar "${DEVICE[@]}" 2>&1 \
  || echo $? > "$RUN_DIR/exit_code"; } | tee "$RUN_DIR/train.log" \
  | grep --line-buffered -E "train_inner|valid on|done training|Error" || true
status=$(cat "$RUN_DIR/exit_code")
end=$(date +%s)
[[ "$status" == 0 ]] || { echo "[train_multilingual] fairseq-train failed (exit $status), see $RUN_DIR/train.log" >&2; exit "$status"; }
updates=$(grep -oE "num_updates[= ]+[0-9]+" "$RUN_DIR/train.log" | tail -1 | grep -oE "[0-9]+$" || echo 0)
wps=$(grep -E "\| train \|" "$RUN_DIR/train.log" | grep -oE "wps [0-9.]+" | tail -1 | grep -oE "[0-9.]+$" || echo null)
device=$("$PY" -c "from mvadl.results import describe_device; print(describe_device())")
printf '{"config": "%s", "lang_pairs": "%s", "arch": "%s", "lr": %s, "seed": %s, "max_update": %s, "updates": %s, "wall_time_s": %s, "train_wps": %s, "device": "%s", "quick": %s}\n' \
  "$CONFIG" "$PAIRS" "${MODEL[1]}" "$LR" "$SEED" "$MAX_UPDATE" "${updates:-0}" "$((end - start))" "${wps:-null}" "$device" "$QUICK" > "$RUN_DIR/meta.json"
echo "[train_multilingual] $(date +%T) $CONFIG done: $updates updates in $((end - start)) s -> $SAVE_DIR, $RUN_DIR/meta.json"
