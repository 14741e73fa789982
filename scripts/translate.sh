#!/usr/bin/env bash
# Translate sentences into a chosen language with a trained multilingual model (fairseq-interactive with
# this project's plugins and the SentencePiece model of scripts/prepare_multi30k.sh).
#
#   bash scripts/translate.sh --to fr "Ein Hund rennt über die Wiese."       # source language identified
#   echo "A dog runs." | bash scripts/translate.sh --from en --to de --model zeroshot
#
# Options: --to LANG (required)  --from LANG (default: identified by fairseq_ext.langid)
#          --model NAME (default direct: checkpoints/nmt/NAME/checkpoint_best.pt)  --checkpoint FILE
#          --data-bin DIR (default data-bin/multi30k)  --beam N (default 5)
# Prints one translation per input line. Environment: PYTHON (default .venv/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."

TO= FROM= MODEL=direct CHECKPOINT= DATA_BIN=data-bin/multi30k BEAM=5 TEXT=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --to) TO=$2; shift 2 ;;
    --from) FROM=$2; shift 2 ;;
    --model) MODEL=$2; shift 2 ;;
    --checkpoint) CHECKPOINT=$2; shift 2 ;;
    --data-bin) DATA_BIN=$2; shift 2 ;;
    --beam) BEAM=$2; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    -*) echo "translate: unknown option '$1' (see --help)" >&2; exit 2 ;;
    *) TEXT+=("$1"); shift ;;
  esac
done
PY=${PYTHON:-.venv/bin/python}
LANGS=en,de,fr
[[ -n "$TO" ]] || { echo "translate: --to LANG is required (one of $LANGS)" >&2; exit 2; }
CHECKPOINT=${CHECKPOINT:-checkpoints/nmt/$MODEL/checkpoint_best.pt}
[[ -f "$CHECKPOINT" ]] || { echo "translate: no checkpoint $CHECKPOINT (scripts/train_multilingual.sh $MODEL)" >&2; exit 1; }
[[ -f "$DATA_BIN/spm.model" ]] || { echo "translate: $DATA_BIN/spm.model missing (scripts/prepare_multi30k.sh)" >&2; exit 1; }

INPUT=$(mktemp); trap 'rm -f "$INPUT"' EXIT
if [[ ${#TEXT[@]} -gt 0 ]]; then printf '%s\n' "${TEXT[@]}" > "$INPUT"; else cat > "$INPUT"; fi
if [[ -z "$FROM" ]]; then
  FROM=$("$PY" -c "import sys; from fairseq_ext.langid import CharNgramLanguageIdentifier as L; \
from collections import Counter; i = L.load(sys.argv[1]); \
print(Counter(i.predict(s) for s in open(sys.argv[2], encoding='utf-8') if s.strip()).most_common(1)[0][0])" \
    "$DATA_BIN/langid.json" "$INPUT")
  echo "translate: source language identified as '$FROM'" >&2
fi
DEVICE=()
"$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" || DEVICE=(--cpu)
"$PY" -m fairseq_cli.interactive "$DATA_BIN" --user-dir fairseq_ext --path "$CHECKPOINT" \
  --task mva_multilingual_translation --lang-pairs "$FROM-$TO" --langs "$LANGS" \
  --source-lang "$FROM" --target-lang "$TO" --encoder-langtok src --decoder-langtok \
  --bpe sentencepiece --sentencepiece-model "$DATA_BIN/spm.model" --beam "$BEAM" \
  --buffer-size 64 --batch-size 64 --input "$INPUT" "${DEVICE[@]}" 2>/dev/null \
  | grep -E "^D-" | sort -t- -k2 -n | cut -f3
