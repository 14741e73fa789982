"""What the report's text tests share: a copy of results/ without its large binaries, in which a test edits a
record so that the data say otherwise, and a template rendered on such a copy."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from mvadl import REPO_ROOT
from mvadl.report.build import TEMPLATE_DIR, make_meta
from mvadl.report.render import render

RESULTS = REPO_ROOT / "results"


def copy_results(tmp_path: Path) -> Path:
    """``tmp_path/results``: a copy of the committed results without figures, arrays and weights."""
    dst = tmp_path / "results"
    shutil.copytree(RESULTS, dst, ignore=shutil.ignore_patterns("*.png", "*.npz", "*.safetensors"))
    return dst


def edit_record(path: Path, change) -> None:
    """Rewrite the JSON record ``path`` with ``change`` applied to it (in place)."""
    record = json.loads(path.read_text())
    change(record)
    path.write_text(json.dumps(record))


def edit_both(record: dict, change) -> None:
    """Apply ``change`` to the record's ``metrics`` and to its top-level copy of them (records keep both)."""
    change(record["metrics"])
    change(record)


def render_flat(results: Path, template: str) -> str:
    """``template`` rendered on ``results`` for the author "A. Student", its whitespace runs made single spaces."""
    return " ".join(render(TEMPLATE_DIR, results, make_meta(results, "A. Student"), template).split())
