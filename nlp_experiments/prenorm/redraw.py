"""Redraw the pre-norm vs post-norm study's summary and figures from its committed records (no training).

    python -m nlp_experiments.prenorm.redraw            # results/prenorm/{summary.json, *.png}
    python -m nlp_experiments.prenorm.redraw --quick    # the --quick study's (runs/quick/results/prenorm)
    python -m nlp_experiments.prenorm.redraw --figures-only  # the figures only, from the committed summary.json
    python -m nlp_experiments.prenorm.redraw --summary-only  # summary.json only, no figure

Reads results/prenorm/runs/<name>.json, results/prenorm/series/<name>.json and results/prenorm/jacobian_depth.json
($RESULTS_DIR/prenorm when RESULTS_DIR is set) for the runs of the study that --lrs, --warmups, --seeds,
--grid-skip and --grid-late describe (give the options the study ran with), and DATA_BIN/dict.txt for the
unigram baseline (--figures-only: summary.json instead, which it leaves as it is; no dict.txt needed). The
figures' unigram level is results/prenorm/unigram.json's. The main setting is chosen from the grid's records as
the study chooses it. A missing or broken file stops it with one line naming the file.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from mvadl.data import DataError
from mvadl.results import results_dir
from mvadl.runner import Context, ToolConfig, main, option
from nlp_experiments.prenorm.plan import GRID_QUICK, GridOptions, grid_runs, names, study_runs
from nlp_experiments.prenorm.records import load_run
from nlp_experiments.prenorm.report import redraw_figures, write_outputs
from nlp_experiments.prenorm.summary import choose_main_setting


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
    if config.figures_only:
        paths = redraw_figures(names(study_runs(config, main_setting)), main_setting, root)
        return paths[0].parent
    return write_outputs(ctx, names(study_runs(config, main_setting)), main_setting, root,
                         Path(config.data_bin) / "dict.txt", config.target_ppl, figures=not config.summary_only)


if __name__ == "__main__":
    sys.exit(main(run, RedrawConfig, prog="python -m nlp_experiments.prenorm.redraw", doc=__doc__))
