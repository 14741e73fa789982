"""Shared layer of the project: data access (``mvadl.data``), where runs record and how (``mvadl.results``),
figure style (``mvadl.plotting``), the one experiment runner (``mvadl.runner``) with its seed derivation
(``mvadl.seeding``), the statistics of comparisons (``mvadl.verdicts``), the report builder (``mvadl.report``) and
the check of the report's numbers from the shipped models (``mvadl.verify``).

Entry points: ``python -m mvadl.data.fetch`` (download and verify the data), ``python -m mvadl.report``
(build the report from ``results/``) and ``python -m mvadl.verify`` (``make verify``)."""
from pathlib import Path

#: Repository root (the package is installed in editable mode, so this is the checkout).
REPO_ROOT = Path(__file__).resolve().parent.parent
