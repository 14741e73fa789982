"""Which runs the study has, what they are called, in which order they run, and where their files go.

The study (``python -m nlp_experiments.prenorm.study``):

1. the deep (12-layer) post- and pre-norm LMs on the peak-LR x warm-up grid (``--lrs`` x ``--warmups``), seed
   :data:`GRID_SEED`, post-norm and pre-norm of a cell side by side (:func:`grid_runs`); cells in
   ``--grid-skip`` do not run, cells in ``--grid-late`` run last and take no part in step 2;
2. the main setting: the grid cell where the worse of deep post-norm and deep pre-norm has the lowest final
   validation loss (:func:`nlp_experiments.prenorm.summary.choose_main_setting`);
3. at the main setting: the shallow (2-layer) pair (seed :data:`GRID_SEED`) and the deep pair with the other
   ``--seeds`` (:func:`main_contrast_runs`);
4. at the collapse setting (``--collapse-setting``, by default 3e-3 without warm-up, where deep post-norm
   collapses): the shallow pair with every ``--seeds`` and the deep pair with the seeds no earlier step runs there
   (the grid's seed :data:`GRID_SEED` is there already), so that deep and shallow are compared where the
   collapse happens (:func:`collapse_runs`);
5. the ``--grid-late`` cells. Steps 3-5 are :func:`later_runs`; steps 4 and 5 take no part in step 2.

A run is named ``<norm>_<depth>_lr<LR>_wu<WARMUP>_s<SEED>`` (:class:`RunSpec`), its LR written as given on the
command line (``1e-3``). The summary lists the runs in the order above (:func:`study_runs`); a run that two steps
share (the collapse setting may be the main setting, or a late cell) runs once, in the first of them.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from mvadl.runner import option

NORMS = ("postnorm", "prenorm")
DEPTHS = ("shallow", "deep")
#: fairseq-train --seed of the grid and the shallow runs (the run names say it: ``_s1``); the main contrast
#: adds the other --seeds. A definition of the study, not a derived seed.
GRID_SEED = 1
NAME_RE = re.compile(r"^(?P<norm>postnorm|prenorm)_(?P<depth>shallow|deep)_lr(?P<lr>[^_]+)_wu(?P<warmup>\d+)"
                     r"_s(?P<seed>\d+)$")


@dataclass(frozen=True)
class RunSpec:
    """One fairseq-train run of the study: norm placement, depth, peak LR (as written), warm-up, seed."""

    norm: str
    depth: str
    lr: str
    warmup: int
    seed: int

    @property
    def name(self) -> str:
        return f"{self.norm}_{self.depth}_lr{self.lr}_wu{self.warmup}_s{self.seed}"

    @property
    def arch(self) -> str:
        """The plugin's preset (``fairseq_ext/models/transformer_lm_norms.py``)."""
        return f"mva_lm_{self.norm}_{self.depth}"


def cell_text(lr: str, warmup: int) -> str:
    """A grid cell as ``--grid-skip`` / ``--grid-late`` write it: ``LR:WARMUP``, e.g. ``1e-3:200``."""
    return f"{lr}:{warmup}"


def parse_cell(text: str) -> tuple[str, int]:
    """``"1e-3:200"`` -> ``("1e-3", 200)``; a ValueError (a usage error for the runner) if malformed."""
    lr, sep, warmup = text.partition(":")
    try:
        float(lr)
        if not sep or int(warmup) < 0:
            raise ValueError
    except ValueError:
        raise ValueError(f"grid cell '{text}' is not LR:WARMUP (e.g. 1e-3:200)") from None
    return lr, int(warmup)


@dataclass
class GridOptions:
    """The runs of a study and where their run folders are: the options the study and the redraw share (a mixin
    of their configs, which add ``quick``). Records go where every experiment's go
    (:func:`mvadl.results.results_dir`)."""

    lrs: list[str] = option(["1e-3", "3e-3"], "peak learning rates of the deep grid (as written in run names)")
    warmups: list[int] = option([0, 200, 1000], "warm-up lengths (updates) of the deep grid")
    seeds: list[int] = option([1, 2, 3], f"seeds of the main contrast (seed {GRID_SEED} is the grid's run)")
    grid_skip: list[str] = option([], "grid cells LR:WARMUP left out, e.g. --grid-skip 1e-3:200 3e-3:0")
    grid_late: list[str] = option([], "grid cells LR:WARMUP run last, after the main contrast, and not used "
                                      "to choose its setting")
    collapse_setting: str | None = option(
        "3e-3:0", "LR:WARMUP where deep post-norm collapses: after the main contrast the study runs there the "
                  f"shallow pair with every --seeds and the deep pair with the seeds other than {GRID_SEED} (the "
                  "grid's); not used to choose the main setting (None: no such runs)")
    runs_dir: str = option("runs/prenorm", "one folder per run: train.log, gradnorm.jsonl, meta.json")
    data_bin: str = option("data-bin/wikitext-2", "binarized WikiText-2 (its dict.txt gives the unigram baseline)")
    target_ppl: float = option(300.0, "validation perplexity a trained model reaches (summary.json)")

    def __post_init__(self):
        for lr in self.lrs:
            parse_cell(f"{lr}:0")
        for cell in (*self.grid_skip, *self.grid_late):
            parse_cell(cell)
        collapse_cell(self)


#: What ``--quick`` changes in the grid (the study and the redraw declare it in their QUICK); the collapse setting
#: is one of its cells.
GRID_QUICK: dict = {"lrs": ["3e-3"], "warmups": [0, 5], "seeds": [1, 2], "runs_dir": "runs/prenorm_quick",
                    "collapse_setting": "3e-3:0"}


def collapse_cell(options: GridOptions) -> tuple[str, int] | None:
    """``--collapse-setting`` as ``(lr_text, warmup)``; None when it is None or empty (no collapse runs)."""
    text = options.collapse_setting
    return parse_cell(text) if text and text.strip().lower() != "none" else None


def grid_runs(options: GridOptions) -> list[RunSpec]:
    """Step 1: the deep seed-1 grid without the skipped and the late cells, in launch order."""
    left_out = set(options.grid_skip) | set(options.grid_late)
    return [RunSpec(norm, "deep", lr, warmup, GRID_SEED) for lr in options.lrs for warmup in options.warmups
            if cell_text(lr, warmup) not in left_out for norm in NORMS]


def main_contrast_runs(options: GridOptions, main: tuple[str, int]) -> list[RunSpec]:
    """Step 3, at the main setting ``(lr, warmup)``: the shallow pair, then the deep pairs of the other seeds."""
    lr, warmup = main
    runs = [RunSpec(norm, "shallow", lr, warmup, GRID_SEED) for norm in NORMS]
    return runs + [RunSpec(norm, "deep", lr, warmup, seed) for seed in options.seeds if seed != GRID_SEED
                   for norm in NORMS]


def late_runs(options: GridOptions) -> list[RunSpec]:
    """Step 5: the deep seed-1 pairs of the ``--grid-late`` cells that are not skipped."""
    runs = []
    for cell in options.grid_late:
        if cell not in options.grid_skip:
            late_lr, late_warmup = parse_cell(cell)
            runs += [RunSpec(norm, "deep", late_lr, late_warmup, GRID_SEED) for norm in NORMS]
    return runs


def collapse_runs(options: GridOptions, main: tuple[str, int]) -> list[RunSpec]:
    """Step 4, at the collapse setting: the shallow pair for each of ``--seeds``, then the deep pair for each, in
    the order of ``--seeds`` (post-norm first), less the runs that steps 1, 3 and 5 run anyway (the grid's deep
    pair of seed :data:`GRID_SEED`; everything at the main setting when the two settings coincide). Empty
    without a collapse setting."""
    cell = collapse_cell(options)
    if cell is None:
        return []
    lr, warmup = cell
    elsewhere = set(grid_runs(options) + main_contrast_runs(options, main) + late_runs(options))
    wanted = [RunSpec(norm, depth, lr, warmup, seed) for depth in ("shallow", "deep") for seed in options.seeds
              for norm in NORMS]
    return [run for run in dict.fromkeys(wanted) if run not in elsewhere]


def later_runs(options: GridOptions, main: tuple[str, int]) -> list[RunSpec]:
    """Steps 3-5, after the grid: the main contrast at ``main`` ``(lr, warmup)``, the collapse runs, the late
    cells (each run once)."""
    runs = main_contrast_runs(options, main) + collapse_runs(options, main) + late_runs(options)
    return list(dict.fromkeys(runs))


def study_runs(options: GridOptions, main: tuple[str, int]) -> list[RunSpec]:
    """Every run of the study, in the order they are launched (and listed in the summary)."""
    return grid_runs(options) + later_runs(options, main)


def names(runs: Sequence[RunSpec]) -> list[str]:
    return [run.name for run in runs]
