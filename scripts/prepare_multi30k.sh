#!/usr/bin/env bash
# Prepare Multi30k for multilingual translation: read the raw captions through the project's data layer
# (alignment and empty lines checked), train ONE joint SentencePiece model over the training text of all
# languages, encode every split, build ONE fairseq dictionary from all languages' training pieces and
# binarize every language pair with it (--srcdict/--tgtdict), so all languages share one vocabulary.
#
#   bash scripts/prepare_multi30k.sh                        # en,de,fr, 8000 pieces -> data-bin/multi30k (~1 min)
#   bash scripts/prepare_multi30k.sh --quick                # first 2000 training lines, 1000 pieces (tests)
#   bash scripts/prepare_multi30k.sh --langs en,de,fr --vocab-size 8000 --out-dir data-bin/multi30k
#
# Options: --langs L1,L2,..  --vocab-size N  --out-dir DIR  --max-train-lines N  --quick  --force
# Environment: DATA_DIR (default data; Multi30k in $DATA_DIR/multi30k), PYTHON (default .venv/bin/python).
# Output: DIR/{dict.txt, dict.<lang>.txt, {train,valid,test}.<a>-<b>.<lang>.{bin,idx}, spm.model, langid.json,
# raw/, spm/} and DIR/.stamp; a second run with the same options does nothing (--force redoes it).
set -euo pipefail
cd "$(dirname "$0")/.."

LANGS=en,de,fr
VOCAB_SIZE=8000
OUT_DIR=data-bin/multi30k
MAX_TRAIN_LINES=
FORCE=0
QUICK=${QUICK:-0}
usage() { sed -n '2,14p' "$0"; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --langs) LANGS=$2; shift 2 ;;
    --vocab-size) VOCAB_SIZE=$2; shift 2 ;;
    --out-dir) OUT_DIR=$2; shift 2 ;;
    --max-train-lines) MAX_TRAIN_LINES=$2; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --force) FORCE=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "prepare_multi30k: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
if [[ "$QUICK" == 1 ]]; then
  MAX_TRAIN_LINES=${MAX_TRAIN_LINES:-2000}
  [[ "$VOCAB_SIZE" == 8000 ]] && VOCAB_SIZE=1000
fi

PY=${PYTHON:-.venv/bin/python}
FAIRSEQ_PREPROCESS=(-m fairseq_cli.preprocess)
DATA_DIR=${DATA_DIR:-data}
if [[ ! -d "$DATA_DIR/multi30k" ]]; then
  echo "prepare_multi30k: missing $DATA_DIR/multi30k (run scripts/get_data.sh or set DATA_DIR)" >&2
  exit 1
fi
IFS=, read -r -a LANG_LIST <<< "$LANGS"

STAMP_TEXT="langs=$LANGS vocab=$VOCAB_SIZE max_train_lines=${MAX_TRAIN_LINES:-all} data=$(cd "$DATA_DIR" && pwd)"
if [[ "$FORCE" != 1 && -f "$OUT_DIR/.stamp" && "$(cat "$OUT_DIR/.stamp")" == "$STAMP_TEXT" ]]; then
  echo "prepare_multi30k: $OUT_DIR is up to date ($STAMP_TEXT)"
  exit 0
fi

# Build in a temporary folder, then move into place: an interrupted run never leaves a half-made OUT_DIR.
TMP="$OUT_DIR.tmp"
rm -rf "$TMP"
mkdir -p "$TMP"
echo "prepare_multi30k: $(date +%T) exporting text and training SentencePiece ($STAMP_TEXT)"
"$PY" -m fairseq_ext.preprocessing.export_multi30k --data-dir "$DATA_DIR" --langs "$LANGS" \
  --out-dir "$TMP" --vocab-size "$VOCAB_SIZE" ${MAX_TRAIN_LINES:+--max-train-lines "$MAX_TRAIN_LINES"}

# One dictionary over the training pieces of every language.
for lang in "${LANG_LIST[@]}"; do cat "$TMP/spm/train.$lang"; done > "$TMP/spm/train.all"
"$PY" "${FAIRSEQ_PREPROCESS[@]}" --only-source --dict-only --trainpref "$TMP/spm/train.all" \
  --destdir "$TMP/dict" --workers 2 > "$TMP/preprocess.log" 2>&1
mv "$TMP/dict/dict.txt" "$TMP/dict.txt"
rm -rf "$TMP/dict" "$TMP/spm/train.all"

# Binarize each unordered pair once; fairseq's multilingual loader reads a-b files for b-a as well.
n=${#LANG_LIST[@]}
for ((i = 0; i < n; i++)); do
  for ((j = i + 1; j < n; j++)); do
    src=${LANG_LIST[$i]}; tgt=${LANG_LIST[$j]}
    echo "prepare_multi30k: $(date +%T) binarizing $src-$tgt"
    "$PY" "${FAIRSEQ_PREPROCESS[@]}" --source-lang "$src" --target-lang "$tgt" \
      --trainpref "$TMP/spm/train" --validpref "$TMP/spm/valid" --testpref "$TMP/spm/test" \
      --srcdict "$TMP/dict.txt" --tgtdict "$TMP/dict.txt" --destdir "$TMP" --workers 2 \
      >> "$TMP/preprocess.log" 2>&1
  done
done
echo "$STAMP_TEXT" > "$TMP/.stamp"
rm -rf "$OUT_DIR"
mv "$TMP" "$OUT_DIR"
echo "prepare_multi30k: $(date +%T) done -> $OUT_DIR ($(wc -l < "$OUT_DIR/dict.txt") dictionary entries)"
