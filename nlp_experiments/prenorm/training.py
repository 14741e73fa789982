"""The study's fairseq runs: WikiText-2 binarized once, one fairseq-train run per :class:`RunSpec`, JOBS at a time.

Each run is ``python -m fairseq_cli.train ... --user-dir fairseq_ext`` (:func:`train_command`) in a fresh
interpreter on one thread, with its whole output in ``RUNS_DIR/<name>/train.log`` and the per-layer gradient
records of the ``mva_cross_entropy_gradnorm`` criterion in ``RUNS_DIR/<name>/gradnorm.jsonl``; when it ends,
``meta.json`` says what ran and how it ended, and the run records itself
(:func:`nlp_experiments.prenorm.records.record_run`). A run that diverges (a non-finite loss, or fairseq-train
stopping it for non-finite gradients) is recorded as diverged; any other failure stops the study with the log's
tail (:func:`nlp_experiments.prenorm.records.diverged`). A run whose record exists is skipped, so the study
resumes run by run.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from mvadl.data import DataError, wikitext2_path
from mvadl.io import atomic_write_text
from mvadl.results import results_dir
from mvadl.runner import ExperimentConfig, option
from nlp_experiments.fairseq_runs import USER_DIR, device_args, fairseq_command, run_logged
from nlp_experiments.prenorm.plan import GridOptions, RunSpec
from nlp_experiments.prenorm.records import GRADNORM, META, TRAIN_LOG, record_path, record_run

if TYPE_CHECKING:
    from mvadl.runner import Context

logger = logging.getLogger(__name__)

#: Adaptive input + adaptive softmax (tied, Baevski & Auli 2019): the exact full-vocabulary likelihood, but the
#: 33,280-way softmax no longer dominates the cost (measured: 3.2k -> 12k tokens/s for the 12-layer d=64 model).
ADAPTIVE_CUTOFF = "2000,10000"
MODEL_ARGS = ("--adaptive-softmax-cutoff", ADAPTIVE_CUTOFF, "--adaptive-input", "--adaptive-input-cutoff",
              ADAPTIVE_CUTOFF, "--tie-adaptive-weights", "--tie-adaptive-proj", "--dropout", "0.0")
#: One thread per run: on 2 shared cores two single-thread runs give more tokens/s than one 2-thread run
#: (measured 2 x 9.4k vs 14.5k tokens/s), and a 2-thread run slows down ~15x whenever another process takes
#: one core (its threads wait for each other at every operation). A value set in the environment wins.
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@dataclass
class TrainingOptions(GridOptions, ExperimentConfig):
    """fairseq-train settings shared by every run of the study (the reference values)."""

    # 3,000 updates of 8 x 128 tokens = 3.07M tokens (1.5 epochs of WikiText-2's 2.05M training tokens)
    max_update: int = option(3000, "updates per run (also the length of the polynomial LR decay)")
    tokens_per_sample: int = option(128, "tokens per sequence")
    batch_size: int = option(8, "sequences per batch")
    # gradient norms every 20 updates (+0.3% time), Jacobian probe every 500, full validation set every 1000
    log_interval: int = option(20, "log training statistics and per-layer gradient norms every N updates")
    probe_interval: int = option(500, "Jacobian probe of d x_L / d x_l every N updates")
    validate_interval_updates: int = option(1000, "validate every N updates")
    validate_interval: int | None = option(1000, "validate every N epochs (1000: not at the end of an epoch, "
                                                 "only every --validate-interval-updates; --quick: fairseq's "
                                                 "default)")
    max_valid_steps: int | None = option(None, "validate on the first N batches only (None: the full set)")
    jobs: int = option(2, "runs at a time (each on one thread, see ONE_THREAD)")


def train_command(options: TrainingOptions, run: RunSpec, run_dir: Path, device: Any) -> list[str]:
    """The fairseq-train command of one run (``run_dir``: where its gradient records go)."""
    return fairseq_command(
        "train", options.data_bin, "--user-dir", USER_DIR, "--task", "language_modeling",
        "--arch", run.arch, *MODEL_ARGS,
        "--criterion", "mva_cross_entropy_gradnorm", "--gradnorm-log-interval", options.log_interval,
        "--gradnorm-jsonl", run_dir / GRADNORM, "--jacobian-probe-interval", options.probe_interval,
        "--jacobian-probe-samples", 2,
        "--tokens-per-sample", options.tokens_per_sample, "--sample-break-mode", "none",
        "--batch-size", options.batch_size,
        "--optimizer", "adam", "--adam-betas", "(0.9, 0.98)", "--lr", run.lr,
        "--lr-scheduler", "polynomial_decay", "--warmup-updates", run.warmup, "--total-num-update", options.max_update,
        "--max-update", options.max_update, "--validate-interval-updates", options.validate_interval_updates,
        *(["--validate-interval", options.validate_interval] if options.validate_interval is not None else []),
        *(["--max-valid-steps", options.max_valid_steps] if options.max_valid_steps is not None else []),
        # --no-save writes no checkpoint, but fairseq-train still probes its --save-dir by creating and deleting
        # a file "dummy" there: a folder per run keeps parallel runs from racing on ./checkpoints/dummy.
        "--no-save", "--save-dir", run_dir / "checkpoints", "--seed", run.seed,
        *device_args(device), "--num-workers", 0, "--no-progress-bar", "--log-format", "json",
        "--log-interval", options.log_interval)


def one_thread_env() -> dict[str, str]:
    """This process's environment with :data:`ONE_THREAD` where it sets no value itself."""
    return {**ONE_THREAD, **os.environ}


def binarize_wikitext2(data_dir: str | None, data_bin: Path, log: Path) -> bool:
    """fairseq-preprocess of WikiText-2 (``$DATA_DIR/wikitext-2/{train,valid,test}.txt``) into ``data_bin``,
    unless it holds ``dict.txt`` and ``test.bin`` already. Built in ``<data_bin>.tmp`` and moved into place;
    the tool's output goes to ``log``. Returns whether it binarized."""
    splits = {split: wikitext2_path(split, data_dir) for split in ("train", "valid", "test")}
    if (data_bin / "dict.txt").is_file() and (data_bin / "test.bin").is_file():
        logger.info("%s is complete", data_bin)
        return False
    tmp = data_bin.with_name(data_bin.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    logger.info("binarizing WikiText-2 into %s (log: %s)", data_bin, log)
    run_logged(fairseq_command("preprocess", "--only-source", "--trainpref", splits["train"], "--validpref",
                               splits["valid"], "--testpref", splits["test"], "--destdir", tmp, "--workers", 2),
               log, env=one_thread_env())
    shutil.rmtree(data_bin, ignore_errors=True)
    tmp.rename(data_bin)
    return True


class InterruptedRun(DataError):
    """fairseq-train was stopped by a signal (Ctrl-C, kill): the run is not recorded and runs again next time."""


def train_run(options: TrainingOptions, run: RunSpec, device: Any) -> Path:
    """One fresh fairseq-train run into ``RUNS_DIR/<name>/`` (emptied first), then its ``meta.json``.

    Returns the run folder. A run stopped by a signal raises :class:`InterruptedRun`; any other exit status goes
    into ``meta.json``, and the log says whether the run diverged or failed
    (:func:`nlp_experiments.prenorm.records.diverged`).
    """
    run_dir = Path(options.runs_dir) / run.name
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    started = time.monotonic()
    status = run_logged(train_command(options, run, run_dir, device), run_dir / TRAIN_LOG, env=one_thread_env(),
                        check=False)
    wall_time = round(time.monotonic() - started, 1)
    if status < 0:
        raise InterruptedRun(f"{run_dir / TRAIN_LOG}: fairseq-train stopped by signal {-status}")
    meta = {"name": run.name, "norm": run.norm, "depth": run.depth, "warmup_updates": run.warmup,
            "exit_code": status, "wall_time_s": wall_time, "seed": run.seed, "lr": float(run.lr),
            "max_update": options.max_update, "tokens_per_sample": options.tokens_per_sample,
            "batch_size": options.batch_size}
    atomic_write_text(run_dir / META, json.dumps(meta) + "\n")
    return run_dir


def train_and_record(options: TrainingOptions, run: RunSpec, ctx: Context) -> Path:
    """Train ``run`` on ``ctx.device`` and write its record (through ``ctx``) and series under the results root,
    unless its record exists (then nothing is done). Returns the record's path."""
    path = record_path(results_dir(), run.name)
    if path.is_file():
        logger.info("%s: done before, skipped (delete %s to redo it)", run.name, path)
        return path
    logger.info("training %s", run.name)
    run_dir = train_run(options, run, ctx.device)
    meta = json.loads((run_dir / META).read_text(encoding="utf-8"))
    path = record_run(run_dir, ctx)
    logger.info("%s: exit %d (%.0f s) -> %s", run.name, meta["exit_code"], meta["wall_time_s"], path)
    return path


Result = TypeVar("Result")


def run_parallel(runs: Sequence[RunSpec], jobs: int, one: Callable[[RunSpec], Result]) -> list[Result]:
    """``one(run)`` for every run, ``jobs`` at a time, started in the order given; returns the results in that
    order. When one fails, no further run starts; the ones going finish (and record themselves), then the
    first error is raised."""
    stop = threading.Event()

    def guarded(run: RunSpec) -> Result:
        if stop.is_set():
            raise _NotStarted
        try:
            return one(run)
        except BaseException:
            stop.set()
            raise

    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="run") as pool:
        futures: list[Future] = [pool.submit(guarded, run) for run in runs]
        try:
            wait(futures, return_when=FIRST_EXCEPTION)
        except BaseException:  # Ctrl-C: the runs going get the signal too; start nothing more
            stop.set()
            raise
        finally:
            wait(futures)
    errors = [f.exception() for f in futures if f.exception() is not None
              and not isinstance(f.exception(), _NotStarted)]
    if errors:
        raise errors[0]
    return [f.result() for f in futures]


class _NotStarted(Exception):
    """A run left out because an earlier one failed."""


def train_all(options: TrainingOptions, runs: Sequence[RunSpec], ctx: Context) -> list[Path]:
    """:func:`train_and_record` of every run, ``options.jobs`` at a time (see :func:`run_parallel`)."""
    return run_parallel(runs, options.jobs, lambda run: train_and_record(options, run, ctx))
