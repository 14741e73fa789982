"""Measure how to spend a CPU budget on the translation models: training throughput of thread layouts and batch
sizes, and the validation loss that learning rates and batch sizes reach on the same number of tokens.

    python -m nlp_experiments.translation.budget                    # both parts (~45 min on 2 cores)
    python -m nlp_experiments.translation.budget --recipes          # throughput only (~6 min)
    python -m nlp_experiments.translation.budget --quick            # a tiny model, a few updates (tests)

Throughput: for each layout PxT (P fairseq-train processes side by side, OMP_NUM_THREADS=T each) and each
``--max-tokens`` of ``--batch-sizes`` (in the 2x1 layout), every process trains MODEL for --throughput-updates
updates; the target tokens/s of each process is the mean of fairseq's ``wps`` over its log intervals after the
first (start-up; six intervals per run), and a layout's throughput is the sum over its processes.

Recipes: MODEL is trained with each ``LR@MAX_TOKENS`` of ``--recipes`` (all side by side, one thread each:
only their losses are compared; the other settings are the reference runs') on the same number of tokens:
--recipe-updates updates at the reference --max-tokens, proportionally more at a smaller batch, with the
warm-up and the validation interval scaled alike, so that the learning rate is the same function of the
tokens seen. Each run's validation-loss series is kept. Everything goes to results/nmt/budget.json; the
runs' logs to WORK_DIR (their checkpoints are removed when they end).
"""
from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import statistics
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from mvadl.data import DataError
from mvadl.runner import Context, main, option
from nlp_experiments.fairseq_runs import run_logged
from nlp_experiments.translation.data_bin import QUICK_FOLDERS, require_data_bin
from nlp_experiments.translation.languages import MODEL_PAIRS, ModelName
from nlp_experiments.translation.train_log import interval_wps, training_metrics
from nlp_experiments.translation.training import TrainingOptions, train_command

logger = logging.getLogger(__name__)


@dataclass
class BudgetConfig(TrainingOptions):
    """Throughput of thread layouts and batch sizes, and learning rates, of one translation model."""

    model: ModelName = option("direct", "configuration measured")
    # The recipe the measurements start from (results/nmt/budget.json was made with these).
    max_tokens: int = option(4096, "target tokens per batch of the throughput layouts and the reference recipe")
    warmup_updates: int = option(400, "warm-up updates at --max-tokens (scaled for other batch sizes)")
    save_interval_updates: int = option(200, "validate (and save) every N updates at --max-tokens")
    validate_interval_updates: int = option(200, "validate every N updates at --max-tokens")
    layouts: list[str] = option(["1x2", "2x1"], "PxT layouts: P processes side by side with T threads each")
    batch_sizes: list[int] = option([2048, 4096, 8192], "--max-tokens measured in the 2x1 layout")
    throughput_updates: int = option(60, "updates per throughput measurement")
    recipes: list[str] = option(["1e-3@4096", "2e-3@4096", "4e-3@4096", "2e-3@2048"],
                                "LR@MAX_TOKENS recipes trained side by side on the same tokens (--recipes alone: "
                                "none)")
    recipe_updates: int = option(800, "updates of a recipe at --max-tokens (at half of it: twice as many)")
    work_dir: str = option("runs/nmt/budget", "logs and checkpoints of the measurement runs")
    QUICK: ClassVar[dict] = {
        "throughput_updates": 12, "batch_sizes": [1024], "recipes": ["1e-3@4096"], "recipe_updates": 10,
        "warmup_updates": 5,
        "save_interval_updates": 5, "validate_interval_updates": 5, "max_valid_steps": 2, "log_interval": 3,
        "arch": "mva_transformer_multi30k", "layers": 1, "embed_dim": 64, "ffn_embed_dim": 128,
        "attention_heads": 2, "work_dir": "runs/quick/nmt/budget", "data_bin": QUICK_FOLDERS["data_bin"]}

    def __post_init__(self) -> None:
        super().__post_init__()
        for layout in self.layouts:
            parse_layout(layout)
        for recipe in self.recipes:
            parse_recipe(recipe)
        if any(tokens < 1 for tokens in self.batch_sizes):
            raise ValueError(f"--batch-sizes: positive token counts, got {self.batch_sizes}")


def parse_layout(text: str) -> tuple[int, int]:
    """``"2x1"`` -> ``(2, 1)`` (processes, threads each)."""
    try:
        processes, threads = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"layout {text!r}: expected PxT, e.g. 2x1") from None
    if processes < 1 or threads < 1:
        raise ValueError(f"layout {text!r}: processes and threads must be at least 1")
    return processes, threads


def steady_wps(log: Path) -> float:
    """The mean ``wps`` over the log intervals after the first; a log with fewer than two is a DataError."""
    values = interval_wps(log)
    if len(values) < 2:
        raise DataError(f"{log}: {len(values)} log interval(s) with wps, need at least 2 (raise "
                        f"--throughput-updates or lower --log-interval)")
    return statistics.fmean(values[1:])


def _train(options: TrainingOptions, model: str, run_dir: Path, threads: int, device) -> Path:
    """One fairseq-train run from scratch in ``run_dir`` with ``threads`` threads; returns its log."""
    shutil.rmtree(run_dir, ignore_errors=True)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    log = run_dir / "train.log"
    run_logged(train_command(options, MODEL_PAIRS[model], run_dir / "checkpoints", run_dir, device), log, env=env)
    shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
    return log


def _side_by_side(jobs: list[tuple[TrainingOptions, Path, int]], model: str, device) -> list[Path]:
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(lambda job: _train(job[0], model, job[1], job[2], device), jobs))


def measure_throughput(config: BudgetConfig, ctx: Context) -> list[dict]:
    """Target tokens/s of each layout and batch size (see the module docstring)."""
    base = dataclasses.replace(config, max_update=config.throughput_updates, validate_interval_updates=10**9,
                               save_interval_updates=10**9, log_interval=max(1, config.throughput_updates // 6))
    cases = [(layout, config.max_tokens) for layout in config.layouts]
    cases += [("2x1", tokens) for tokens in config.batch_sizes if ("2x1", tokens) not in cases]
    rows = []
    for layout, max_tokens in cases:
        processes, threads = parse_layout(layout)
        options = dataclasses.replace(base, max_tokens=max_tokens)
        work = Path(config.work_dir) / f"throughput_{layout}_{max_tokens}"
        logs = _side_by_side([(options, work / f"process{i}", threads) for i in range(processes)], config.model,
                             ctx.device)
        per_process = [round(steady_wps(log), 1) for log in logs]
        rows.append({"layout": layout, "processes": processes, "threads_each": threads, "max_tokens": max_tokens,
                     "tokens_per_s_each": per_process, "tokens_per_s_total": round(sum(per_process), 1)})
        logger.info("%s, max-tokens %d: %s tokens/s (total %.0f)", layout, max_tokens, per_process,
                    sum(per_process))
    return rows


def parse_recipe(text: str) -> tuple[float, int]:
    """``"2e-3@4096"`` -> ``(0.002, 4096)`` (peak learning rate, --max-tokens)."""
    try:
        lr, max_tokens = text.split("@")
        return float(lr), int(max_tokens)
    except ValueError:
        raise ValueError(f"recipe {text!r}: expected LR@MAX_TOKENS, e.g. 2e-3@4096") from None


def measure_recipes(config: BudgetConfig, ctx: Context) -> list[dict]:
    """The validation-loss series of MODEL trained with each recipe of ``--recipes`` on the same number of
    tokens (see the module docstring)."""
    jobs = []
    for text in config.recipes:
        lr, max_tokens = parse_recipe(text)
        scale = config.max_tokens / max_tokens  # a smaller batch: proportionally more updates, same tokens
        options = dataclasses.replace(
            config, lr=lr, max_tokens=max_tokens, max_update=round(config.recipe_updates * scale),
            warmup_updates=round(config.warmup_updates * scale),
            save_interval_updates=round(config.save_interval_updates * scale),
            validate_interval_updates=round(config.validate_interval_updates * scale))
        jobs.append((options, Path(config.work_dir) / f"recipe_{lr:g}_{max_tokens}", 1))
    rows = []
    for (options, _, _), log in zip(jobs, _side_by_side(jobs, config.model, ctx.device) if jobs else []):
        metrics = training_metrics(log)
        rows.append({"lr": options.lr, "max_tokens": options.max_tokens, "warmup_updates": options.warmup_updates,
                     "updates": metrics["updates"], "validation": metrics["validation"]})
        logger.info("lr %g, max-tokens %d: validation loss %s", options.lr, options.max_tokens,
                    [round(v["valid_loss"], 3) for v in metrics["validation"]])
    return rows


def run(config: BudgetConfig, ctx: Context) -> Path:
    require_data_bin(Path(config.data_bin), "dict.txt")
    metrics = {"model": config.model, "lang_pairs": list(MODEL_PAIRS[config.model]),
               "cpu_count": os.cpu_count(), "throughput": measure_throughput(config, ctx),
               "recipes": measure_recipes(config, ctx)}
    path = ctx.record("nmt", "budget", metrics)
    logger.info("wrote %s", path)
    return path


if __name__ == "__main__":
    sys.exit(main(run, BudgetConfig, prog="python -m nlp_experiments.translation.budget", doc=__doc__))
