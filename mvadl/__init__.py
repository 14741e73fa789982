"""Shared layer of the project: data access (``mvadl.data``), results files (``mvadl.results``),
figure style (``mvadl.plotting``) and command-line helpers (``mvadl.cli``)."""
from pathlib import Path

#: Repository root (the package is installed in editable mode, so this is the checkout).
REPO_ROOT = Path(__file__).resolve().parent.parent
