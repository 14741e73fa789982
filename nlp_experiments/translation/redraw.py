"""Redraw the learning-curve and gap figures of the translation study from its committed records (no scoring,
no bootstrap): results/nmt/curves.json and comparisons.json -> results/nmt/{curves, curves_compute, gaps}.png.

    python -m nlp_experiments.translation.redraw

($RESULTS_DIR/nmt when RESULTS_DIR is set.) A missing or broken record stops it with one line naming the file.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from mvadl.data import DataError
from mvadl.results import results_dir
from mvadl.runner import Context, ToolConfig, main
from nlp_experiments.translation.curve_figures import save_curve_figures


@dataclass
class RedrawConfig(ToolConfig):
    """The figures of the translation curves from their records."""


def _read(path: Path, *keys: str) -> dict:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: missing (python -m nlp_experiments.translation.comparisons writes it)") from None
    except json.JSONDecodeError as error:
        raise DataError(f"{path}: not JSON ({error})") from None
    missing = [key for key in keys if key not in record.get("metrics", {})]
    if missing:
        raise DataError(f"{path}: broken record (no metrics {missing})")
    return record["metrics"]


def run(config: RedrawConfig, ctx: Context) -> list[Path]:
    folder = results_dir() / "nmt"
    curves = _read(folder / "curves.json", "scores", "split_names")
    compared = _read(folder / "comparisons.json", "comparisons", "kinds", "split")
    split = next((key for key, name in curves["split_names"].items() if name == compared["split"]), None)
    if split is None:
        raise DataError(f"{folder / 'comparisons.json'}: split {compared['split']!r} is none of the curves' "
                        f"{curves['split_names']}")
    paths = save_curve_figures(curves["scores"], compared["comparisons"], compared["kinds"], split, folder)
    for path in paths:
        print(path)
    return paths


if __name__ == "__main__":
    sys.exit(main(run, RedrawConfig, prog="python -m nlp_experiments.translation.redraw", doc=__doc__))
