"""Shared layer of the project: data access (``mvadl.data``), results files (``mvadl.results``),
figure style (``mvadl.plotting``), the one experiment runner (``mvadl.runner``) with its seed derivation
(``mvadl.seeding``), and the report builder (``mvadl.report``)."""
from pathlib import Path

#: Repository root (the package is installed in editable mode, so this is the checkout).
REPO_ROOT = Path(__file__).resolve().parent.parent
