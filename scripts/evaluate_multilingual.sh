#!/usr/bin/env bash
# Evaluate trained multilingual models on all 6 directions between en, de and fr: fairseq-generate (with
# this project's plugins) on test_2016_flickr and val, SentencePiece removed by fairseq's
# --post-process sentencepiece, then sacreBLEU BLEU/chrF (signatures kept) and the off-target rate, written
# to results/nmt/scores.json with the heat map results/nmt/scores.png.
#
#   bash scripts/evaluate_multilingual.sh                       # models zeroshot,direct (+ any bilingual_* trained)
#   bash scripts/evaluate_multilingual.sh --models direct --beam 5
#   bash scripts/evaluate_multilingual.sh --quick               # greedy search (smoke test)
#
# Options: --models M1,M2 (default: zeroshot,direct and the bilingual_* found)  --beam N (default 5)
#          --data-bin DIR (default data-bin/multi30k)  --checkpoints DIR (default checkpoints/nmt)
#          --checkpoint NAME (default checkpoint_best.pt)  --splits "test valid"  --name NAME (default scores)
# Environment: PYTHON, RUNS_DIR (default runs/nmt; generations in $RUNS_DIR/generate), RESULTS_DIR.
# A bilingual model is scored on its own directions only.
set -euo pipefail
cd "$(dirname "$0")/.."

MODELS=
BEAM=5
DATA_BIN=data-bin/multi30k
CKPT_ROOT=checkpoints/nmt
CKPT_NAME=checkpoint_best.pt
SPLITS="test valid"
NAME=scores
QUICK=${QUICK:-0}
while [[ $# -gt 0 ]]; do
  case "$1" in
    --models) MODELS=$2; shift 2 ;;
    --beam) BEAM=$2; shift 2 ;;
    --data-bin) DATA_BIN=$2; shift 2 ;;
    --checkpoints) CKPT_ROOT=$2; shift 2 ;;
    --checkpoint) CKPT_NAME=$2; shift 2 ;;
    --splits) SPLITS=$2; shift 2 ;;
    --name) NAME=$2; shift 2 ;;
    --quick) QUICK=1; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "evaluate_multilingual: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
PY=${PYTHON:-.venv/bin/python}
RUNS_DIR=${RUNS_DIR:-runs/nmt}
GEN_DIR="$RUNS_DIR/generate"
LANGS=en,de,fr   # the order used in training (language token indices)
ALL_PAIRS=en-de,de-en,en-fr,fr-en,de-fr,fr-de
if [[ -z "$MODELS" ]]; then
  MODELS=zeroshot,direct
  for dir in "$CKPT_ROOT"/bilingual_*; do [[ -d "$dir" ]] && MODELS="$MODELS,$(basename "$dir")"; done
fi
[[ "$QUICK" == 1 ]] && BEAM=${QUICK_BEAM:-1}
DEVICE=()
"$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" || DEVICE=(--cpu)
[[ -f "$DATA_BIN/spm.model" ]] || { echo "evaluate_multilingual: $DATA_BIN/spm.model missing (run scripts/prepare_multi30k.sh)" >&2; exit 1; }

IFS=, read -r -a MODEL_LIST <<< "$MODELS"
for model in "${MODEL_LIST[@]}"; do
  ckpt="$CKPT_ROOT/$model/$CKPT_NAME"
  [[ -f "$ckpt" ]] || { echo "evaluate_multilingual: no checkpoint $ckpt (train it with scripts/train_multilingual.sh $model)" >&2; exit 1; }
  case "$model" in
    bilingual_en_de) DIRECTIONS=en-de,de-en ;;
    bilingual_en_fr) DIRECTIONS=en-fr,fr-en ;;
    *) DIRECTIONS=$ALL_PAIRS ;;
  esac
  IFS=, read -r -a DIRECTION_LIST <<< "$DIRECTIONS"
  for split in $SPLITS; do
    mkdir -p "$GEN_DIR/$model/$split"
    for direction in "${DIRECTION_LIST[@]}"; do
      src=${direction%-*}; tgt=${direction#*-}
      out="$GEN_DIR/$model/$split/$direction.txt"
      echo "[evaluate_multilingual] $(date +%T) $model $split $direction"
      "$PY" -m fairseq_cli.generate "$DATA_BIN" --user-dir fairseq_ext --path "$ckpt" \
        --task mva_multilingual_translation --lang-pairs "$ALL_PAIRS" --langs "$LANGS" \
        --source-lang "$src" --target-lang "$tgt" --encoder-langtok src --decoder-langtok \
        --gen-subset "$split" --beam "$BEAM" --batch-size 128 --post-process sentencepiece \
        --scoring sacrebleu --num-workers 0 "${DEVICE[@]}" > "$out.tmp" 2> "$out.log" \
        || { echo "fairseq-generate failed for $model $split $direction, see $out.log" >&2; exit 1; }
      mv "$out.tmp" "$out"
    done
  done
done
"$PY" -m fairseq_ext.evaluation.score_directions --generations "$GEN_DIR" --references "$DATA_BIN/raw" \
  --langid "$DATA_BIN/langid.json" --models "$MODELS" --runs "$RUNS_DIR" --name "$NAME" --beam "$BEAM"
