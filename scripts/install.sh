#!/usr/bin/env bash
# Creates or updates the project's virtual environment in .venv (idempotent).
#
#   bash scripts/install.sh            # first run: ~5 min (torch from disk, fairseq build)
#   bash scripts/install.sh            # later runs: a few seconds (stamp check)
#
# Environment overrides:
#   PYTHON       interpreter used to create the venv          (default: python3.11, else python3)
#   VENV         where the venv lives                          (default: .venv)
#   TORCH_SPEC   pip requirement(s) for torch + torchvision    (default: "torch>=2.1 torchvision>=0.16")
#                e.g. TORCH_SPEC="torch==2.14.1 torchvision==0.29.1" to reproduce the reference machine,
#                or add --index-url for a specific CUDA build.
#   FORCE=1      ignore the stamp and re-run every step.
set -euo pipefail

cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
TORCH_SPEC=${TORCH_SPEC:-"torch>=2.1 torchvision>=0.16"}
FAIRSEQ_SPEC="fairseq-fixed==0.12.3.1"

# The stamp records everything that decides what gets installed; a matching stamp means nothing to do.
stamp_inputs() { cat setup.py scripts/install.sh; echo "$TORCH_SPEC $FAIRSEQ_SPEC $PYTHON"; }
want_stamp=$(stamp_inputs | sha256sum | cut -d' ' -f1)
stamp_file="$VENV/.install-stamp"

if [[ "${FORCE:-0}" != 1 && -f "$stamp_file" && "$(cat "$stamp_file")" == "$want_stamp" ]] \
   && "$VENV/bin/python" -c "import torch, torchvision, fairseq, diffusers, mvadl" 2>/dev/null; then
  echo "[install] $VENV is up to date ($("$VENV/bin/python" -c 'import torch; print("torch", torch.__version__)'))"
  exit 0
fi

if [[ ! -x "$VENV/bin/python" ]]; then
  echo "[install] creating $VENV with $PYTHON"
  "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
pip_install() { "$PY" -m pip install --disable-pip-version-check -q "$@"; }

# fairseq's setup.py (via --no-build-isolation) needs these in the venv; pip<24.1 accepts its metadata.
echo "[install] build tools"
pip_install "pip<24.1" "setuptools<81" wheel cython numpy

# torch: a range, so users elsewhere get the newest build for their platform. On a machine whose pip is
# capped by a constraint file (the reference machine caps at torch 2.14.1 / torchvision 0.29.1), the
# same range resolves to the capped pair.
if ! "$PY" -c "import torch, torchvision" 2>/dev/null; then
  echo "[install] $TORCH_SPEC (large download on first install)"
  # shellcheck disable=SC2086
  pip_install $TORCH_SPEC
fi

# fairseq: upstream 0.12.2 does not import on Python >= 3.11; fairseq-fixed does. Its metadata
# hard-requires torchaudio, which text tasks never import, so it is built without dependencies and
# without build isolation (which would download another torch), and its real needs come from
# setup.py (FAIRSEQ_NEEDS).
if ! "$PY" -c "import fairseq" 2>/dev/null; then
  echo "[install] building $FAIRSEQ_SPEC (C/Cython extensions, ~3 min)"
  pip_install --no-deps --no-build-isolation "$FAIRSEQ_SPEC"
fi

# setup.py is the one dependency list: the project (editable, as the fairseq plugin must be) with its runtime,
# test and report dependencies.
echo "[install] this project and setup.py's dependencies (pip may note that fairseq-fixed wants torchaudio: expected)"
pip_install --no-build-isolation -e ".[test,report]"

"$PY" - <<'PY'
import fairseq, torch, torchvision, diffusers, sentencepiece, sacrebleu
print(f"[install] ok: torch {torch.__version__}, torchvision {torchvision.__version__}, "
      f"fairseq {fairseq.__version__}, diffusers {diffusers.__version__}, "
      f"cuda available: {torch.cuda.is_available()}")
PY
echo "$want_stamp" > "$stamp_file"
