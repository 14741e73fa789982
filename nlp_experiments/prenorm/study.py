"""The pre-norm vs post-norm study (assignment Q20-Q22): 12-layer and 2-layer post-/pre-norm language models on
WikiText-2 with per-layer gradient norms, trained long enough to learn, then the summary and the figures.

    python -m nlp_experiments.prenorm.study           # 28 runs, 2 at a time: about 2-3 h on 2 CPU cores
    python -m nlp_experiments.prenorm.study --quick   # the same code path, 20 updates per run, 10-14 runs (~4-7 min)
    python -m nlp_experiments.prenorm.study --grid-late 3e-3:200 --jobs 1
    python -m nlp_experiments.prenorm.study --collapse-setting None   # without the collapse runs: 18 runs

(``bash scripts/prenorm_study.sh`` runs this with the same options.) Steps: WikiText-2 ($DATA_DIR/wikitext-2, or
--data-dir) binarized once into DATA_BIN; the deep grid --lrs x --warmups (seed 1; 12 runs); the main setting,
the grid cell where the worse of deep post-norm and deep pre-norm has the lowest final validation loss; there the
shallow pair and the deep pairs of the other --seeds (6 runs); at --collapse-setting (3e-3 without warm-up, where
deep post-norm collapses) the shallow pair with every --seeds and the deep pairs of the other seeds (10 runs),
so that deep and shallow also meet where the collapse happens; then the --grid-late cells (see
nlp_experiments.prenorm.plan). Only the grid chooses the main setting.
Every run is fairseq-train with the plugin's mva_lm_* presets and the mva_cross_entropy_gradnorm criterion, one
thread each, --jobs at a time, its folder RUNS_DIR/<name>/ (train.log, gradnorm.jsonl, meta.json); when it ends
it records itself (mvadl.results) in results/prenorm/runs/<name>.json with its per-update series in
results/prenorm/series/<name>.json. A run is recorded when it finished or diverged (a non-finite loss, or
fairseq-train stopping it for non-finite gradients); any other failure (out of memory, a bug) stops the study
with the end of the run's log. Resumable run by run: a run whose record exists is skipped (delete the record
to redo the run; likewise results/prenorm/jacobian_depth.json, the Jacobian-vs-depth analysis). Finally
results/prenorm/summary.json and the figures are made from those files only (python -m
nlp_experiments.prenorm.redraw redoes just that). Records go to $RESULTS_DIR/prenorm when RESULTS_DIR is set;
--quick writes them, like every --quick run, under runs/quick/results and leaves results/ alone.
"""
from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from mvadl.results import results_dir
from mvadl.runner import Context, main, option
from nlp_experiments.prenorm.plan import GRID_QUICK, collapse_cell, grid_runs, later_runs, names, study_runs
from nlp_experiments.prenorm.records import load_run
from nlp_experiments.prenorm.report import write_jacobian_depth, write_outputs
from nlp_experiments.prenorm.summary import choose_main_setting
from nlp_experiments.prenorm.training import TrainingOptions, binarize_wikitext2, train_all

logger = logging.getLogger(__name__)


@dataclass
class StudyConfig(TrainingOptions):
    """Pre-norm vs post-norm: the runs, their records, the summary and the figures."""

    seed: int = option(0, "base seed of the Jacobian-vs-depth analysis (the fairseq runs' seeds are the study's: "
                          "1 for the grid and the shallow pair at the main setting, --seeds for the main contrast "
                          "and the collapse runs)")
    data_dir: str | None = option(None, "root folder of the datasets (None: $DATA_DIR, else ./data); it holds "
                                        "wikitext-2/ as written by scripts/get_data.sh")
    jacobian_depths: list[int] = option([1, 2, 4, 8, 12, 16, 24], "numbers of blocks of the Jacobian-vs-depth "
                                                                   "analysis")
    jacobian_seeds: list[int] = option([0, 1, 2], "random stacks per depth of the Jacobian-vs-depth analysis")
    QUICK: ClassVar[dict] = {
        **GRID_QUICK, "max_update": 20, "log_interval": 2, "probe_interval": 10, "validate_interval_updates": 10,
        "validate_interval": None, "max_valid_steps": 2, "jacobian_depths": [1, 3], "jacobian_seeds": [0]}


def run(config: StudyConfig, ctx: Context) -> Path:
    root = results_dir()  # where ctx.record writes: the records are read back from there
    binarize_wikitext2(config.data_dir, Path(config.data_bin), Path(config.runs_dir) / "preprocess.log")
    grid = grid_runs(config)
    logger.info("deep grid: %d runs (%d at a time); left out: %s; last: %s", len(grid), config.jobs,
                " ".join(config.grid_skip) or "none", " ".join(config.grid_late) or "none")
    train_all(config, grid, ctx)
    main_setting = choose_main_setting([load_run(spec.name, root) for spec in grid])
    logger.info("main setting: LR %s, warm-up %d", *main_setting)
    later = later_runs(config, main_setting)
    logger.info("then %d runs: main contrast, collapse setting (%s), late cells", len(later),
                config.collapse_setting or "none")
    train_all(config, later, ctx)
    logger.info("all runs done (%.0f s this invocation)", ctx.elapsed())
    write_jacobian_depth(ctx, root, config.jacobian_depths, config.jacobian_seeds, config.seed)
    return write_outputs(ctx, names(study_runs(config, main_setting)), main_setting, root,
                         Path(config.data_bin) / "dict.txt", config.target_ppl, collapse=collapse_cell(config),
                         seeds=config.seeds)


if __name__ == "__main__":
    sys.exit(main(run, StudyConfig, prog="python -m nlp_experiments.prenorm.study", doc=__doc__))
