"""Redraw the pre-norm vs post-norm study's summary and figures from its committed records (no training).

    python -m nlp_experiments.prenorm.redraw            # results/prenorm/{summary.json, *.png}
    python -m nlp_experiments.prenorm.redraw --quick    # the --quick study's (runs/quick/results/prenorm)
    python -m nlp_experiments.prenorm.redraw --figures-only  # the figures only, from the committed summary.json
    python -m nlp_experiments.prenorm.redraw --summary-only  # summary.json only, no figure

Reads results/prenorm/runs/<name>.json, results/prenorm/series/<name>.json and results/prenorm/jacobian_depth.json
($RESULTS_DIR/prenorm when RESULTS_DIR is set) for the runs of the study that --lrs, --warmups, --seeds,
--grid-skip, --grid-late and --collapse-setting describe (give the options the study ran with), and
DATA_BIN/dict.txt for the unigram baseline (--figures-only: summary.json instead, which it leaves as it is; no
dict.txt needed). The figures' unigram level is results/prenorm/unigram.json's. The main setting is chosen from
the grid's records as the study chooses it. A missing or broken file stops it with one line naming the file,
except the record of a collapse run (a study from before --collapse-setting): such runs are left out with a log
line, the summary's collapse_contrast lists their seeds as missing, and collapse_deep_vs_shallow.png is drawn only
when both depths ran there.
"""
from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from mvadl.data import DataError
from mvadl.results import results_dir
from mvadl.runner import Context, ToolConfig, main, option
from nlp_experiments.prenorm.plan import (
    GRID_QUICK,
    GridOptions,
    collapse_cell,
    collapse_runs,
    grid_runs,
    names,
    study_runs,
)
from nlp_experiments.prenorm.records import load_run, record_path
from nlp_experiments.prenorm.report import redraw_figures, write_outputs
from nlp_experiments.prenorm.summary import choose_main_setting

logger = logging.getLogger(__name__)


@dataclass
class RedrawConfig(GridOptions, ToolConfig):
    """Summary and figures of the study from its records."""

    quick: bool = option(False, "the --quick study's records and figures (runs/quick/results, its grid)")
    figures_only: bool = option(False, "redraw the figures only, from the runs' records and summary.json (no record "
                                       "written, no dict.txt read)")
    summary_only: bool = option(False, "write summary.json only, no figure")
    QUICK: ClassVar[dict] = dict(GRID_QUICK)


def run(config: RedrawConfig, ctx: Context) -> Path:
    root = results_dir()
    if config.figures_only and config.summary_only:
        raise DataError("--figures-only and --summary-only exclude each other")
    main_setting = choose_main_setting([load_run(spec.name, root) for spec in grid_runs(config)])
    absent = [name for name in names(collapse_runs(config, main_setting))
              if not record_path(root, name).is_file()]
    if absent:
        logger.info("no record of %d of the collapse runs (%s), left out: %s", len(absent),
                    config.collapse_setting, " ".join(absent))
    run_names = [name for name in names(study_runs(config, main_setting)) if name not in absent]
    collapse = collapse_cell(config)
    if config.figures_only:
        paths = redraw_figures(run_names, main_setting, root, collapse)
        return paths[0].parent
    return write_outputs(ctx, run_names, main_setting, root, Path(config.data_bin) / "dict.txt", config.target_ppl,
                         figures=not config.summary_only, collapse=collapse, seeds=config.seeds)


if __name__ == "__main__":
    sys.exit(main(run, RedrawConfig, prog="python -m nlp_experiments.prenorm.redraw", doc=__doc__))
