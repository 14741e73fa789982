"""Redraw the pre-norm vs post-norm study's summary and figures from its committed records (no training).

    python -m nlp_experiments.prenorm.redraw            # results/prenorm/{summary.json, *.png}
    python -m nlp_experiments.prenorm.redraw --quick    # the --quick study's (runs/quick/results/prenorm)

Reads results/prenorm/runs/<name>.json, results/prenorm/series/<name>.json and results/prenorm/jacobian_depth.json
($RESULTS_DIR/prenorm when RESULTS_DIR is set) for the runs of the study that --lrs, --warmups, --seeds,
--grid-skip and --grid-late describe (give the options the study ran with), and DATA_BIN/dict.txt for the
unigram baseline. The main setting is chosen from the grid's records as the study chooses it. A missing or broken
file stops it with one line naming the file.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from mvadl.results import results_dir
from mvadl.runner import Context, ToolConfig, main, option
from nlp_experiments.prenorm.plan import GRID_QUICK, GridOptions, grid_runs, names, study_runs
from nlp_experiments.prenorm.records import load_run
from nlp_experiments.prenorm.report import write_outputs
from nlp_experiments.prenorm.summary import choose_main_setting


@dataclass
class RedrawConfig(GridOptions, ToolConfig):
    """Summary and figures of the study from its records."""

    quick: bool = option(False, "the --quick study's records and figures (runs/quick/results, its grid)")
    QUICK: ClassVar[dict] = dict(GRID_QUICK)


def run(config: RedrawConfig, ctx: Context) -> Path:
    root = results_dir()
    main_setting = choose_main_setting([load_run(spec.name, root) for spec in grid_runs(config)])
    return write_outputs(ctx, names(study_runs(config, main_setting)), main_setting, root,
                         Path(config.data_bin) / "dict.txt", config.target_ppl)


if __name__ == "__main__":
    sys.exit(main(run, RedrawConfig, prog="python -m nlp_experiments.prenorm.redraw", doc=__doc__))
