"""Versioned artefacts: files the experiments read that no experiment of this checkout writes.

They live under ``artifacts/<name>/v<N>/`` (committed, never overwritten: a retrained file becomes ``v<N+1>``),
and every results record of an experiment that reads one stores its sha256, so a number can be traced to the
exact bytes it was measured with. ``results/`` holds outputs only.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from mvadl import REPO_ROOT

ARTIFACTS_DIR = REPO_ROOT / "artifacts"


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
