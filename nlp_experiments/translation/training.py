"""fairseq-train of one translation model (run as a subprocess with this project's plugin) and the record
of the run that ``train`` writes beside it.

* :class:`TrainingOptions` / :func:`train_command` / :func:`train`: one multilingual model with fairseq-train
  (task ``mva_multilingual_translation``, the languages of the data-bin, the best checkpoint chosen on the mean
  validation loss over pairs, fairseq's JSON log);
* :func:`read_training_record` / :func:`training_summary`: the run's record, as later commands read it.
"""
from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mvadl.data import DataError
from mvadl.runner import ExperimentConfig, option
from nlp_experiments.fairseq_runs import USER_DIR, device_args, fairseq_command, run_logged
from nlp_experiments.translation.artifacts import LANGUAGES_FILE, read_languages
from nlp_experiments.translation.data_bin import require_data_bin

logger = logging.getLogger(__name__)

#: What ``train`` echoes of fairseq-train's output (all of it is in ``train.log``).
TRAIN_ECHO = re.compile(r"train_inner|\| valid \||done training|Loaded checkpoint|Error")


@dataclass
class TrainingOptions(ExperimentConfig):
    """fairseq-train settings of one multilingual model (the reference runs' values)."""

    seed: int = option(1, "fairseq-train --seed")
    data_bin: str = option("data-bin/multi30k", "binarized data (scripts/prepare_multi30k.sh)")
    arch: str = option("mva_transformer_multi30k_cpu", "model architecture (mva_transformer_multi30k_cpu: d=128; "
                                                       "mva_transformer_multi30k: d=256)")
    layers: int | None = option(None, "encoder and decoder layers (None: the architecture's)")
    embed_dim: int | None = option(None, "embedding dimension (None: the architecture's)")
    ffn_embed_dim: int | None = option(None, "feed-forward dimension (None: the architecture's)")
    attention_heads: int | None = option(None, "attention heads (None: the architecture's)")
    lr: float = option(2e-3, "peak learning rate (Adam, inverse square-root schedule)")
    warmup_updates: int = option(800, "linear warm-up updates")
    max_tokens: int = option(2048, "target tokens per batch")
    # One epoch of `zeroshot` is ~1,150 updates of ~1,800 target tokens, one of `direct` ~1,700. The reference
    # runs stop at a fixed number of updates, so on a CPU the same command with the same number of threads gives
    # the same model (a wall-clock stop does not; another thread count changes the order of floating-point
    # sums). results/nmt/budget.json holds the measurements behind batch size and learning rate: tokens/s is
    # flat from 2,048 to 8,192 tokens per batch, and on the same tokens 2,048-token batches (twice the updates)
    # reach a lower validation loss than 4,096-token ones at any learning rate tried.
    max_update: int = option(6400, "stop after this many updates")
    stop_time_hours: float | None = option(None, "also stop after this much training time (None: updates only)")
    save_interval_updates: int = option(400, "save a checkpoint every N updates (the ones averaged; fairseq "
                                             "validates at each save too)")
    keep_interval_updates: int = option(16, "keep the last N of those checkpoints (16: all of a 6,400-update run, "
                                            "for the learning curves)")
    average_last: int = option(3, "average the last N of those checkpoints into checkpoint_averaged.pt")
    validate_interval_updates: int = option(400, "validate every N updates (and at each epoch's end)")
    max_valid_steps: int | None = option(None, "validate on the first N batches only (None: all)")
    eval_bleu: bool = option(False, "also translate the validation set at each validation: per-pair "
                                    "BLEU/chrF/off-target (slow on CPU)")
    log_interval: int = option(50, "log training statistics every N updates")

    def __post_init__(self) -> None:
        if self.average_last < 1:
            raise ValueError(f"--average-last must be at least 1, got {self.average_last}")
        # fairseq keeps every interval checkpoint when --keep-interval-updates is 0 or less
        if 0 < self.keep_interval_updates < self.average_last:
            raise ValueError(f"--average-last {self.average_last} is more than the {self.keep_interval_updates} "
                             f"checkpoints --keep-interval-updates keeps")


def architecture_args(options: TrainingOptions) -> list[str]:
    """``--arch`` and the size options that override the architecture's defaults."""
    args = ["--arch", options.arch]
    if options.layers is not None:
        args += ["--encoder-layers", options.layers, "--decoder-layers", options.layers]
    if options.embed_dim is not None:
        args += ["--encoder-embed-dim", options.embed_dim]
    if options.ffn_embed_dim is not None:
        args += ["--encoder-ffn-embed-dim", options.ffn_embed_dim]
    if options.attention_heads is not None:
        args += ["--encoder-attention-heads", options.attention_heads,
                 "--decoder-attention-heads", options.attention_heads]
    return [str(a) for a in args]


def train_command(options: TrainingOptions, pairs: Sequence[str], save_dir: Path, run_dir: Path,
                  device: Any) -> list[str]:
    """The fairseq-train command of one model trained on ``pairs``, with the languages of the data-bin
    (``--langs``) and fairseq's JSON log (:mod:`~nlp_experiments.translation.train_log` reads it)."""
    return fairseq_command(
        "train", options.data_bin, "--user-dir", USER_DIR,
        "--task", "mva_multilingual_translation", "--lang-pairs", ",".join(pairs),
        "--langs", ",".join(read_languages(options.data_bin)),
        "--encoder-langtok", "src", "--decoder-langtok", "--sampling-method", "temperature",
        "--sampling-temperature", 1.5, *architecture_args(options), "--share-all-embeddings",
        "--criterion", "label_smoothed_cross_entropy", "--label-smoothing", 0.1,
        "--optimizer", "adam", "--adam-betas", "(0.9, 0.98)", "--lr", options.lr, "--lr-scheduler", "inverse_sqrt",
        "--warmup-updates", options.warmup_updates, "--warmup-init-lr", 1e-7, "--weight-decay", 0.0001,
        "--clip-norm", 1.0, "--max-tokens", options.max_tokens, "--max-update", options.max_update,
        *(["--stop-time-hours", options.stop_time_hours] if options.stop_time_hours is not None else []),
        "--validate-interval-updates", options.validate_interval_updates,
        *(["--max-valid-steps", options.max_valid_steps] if options.max_valid_steps is not None else []),
        *(["--eval-pair-bleu"] if options.eval_bleu else []), "--best-checkpoint-metric", "loss_mean",
        "--save-dir", save_dir, "--keep-last-epochs", 1, "--no-epoch-checkpoints",
        "--save-interval-updates", options.save_interval_updates,
        "--keep-interval-updates", options.keep_interval_updates,
        "--tensorboard-logdir", run_dir / "tb", "--seed", options.seed, "--num-workers", 0,
        "--log-format", "json", "--log-interval", options.log_interval, "--no-progress-bar", *device_args(device))


def train(options: TrainingOptions, pairs: Sequence[str], save_dir: Path, run_dir: Path, device: Any) -> Path:
    """Run fairseq-train; its whole output goes to ``run_dir/train.log`` (appended to when the run resumes
    from ``save_dir/checkpoint_last.pt``). Returns the log's path."""
    require_data_bin(Path(options.data_bin), "dict.txt", LANGUAGES_FILE)
    resuming = (save_dir / "checkpoint_last.pt").is_file()
    save_dir.mkdir(parents=True, exist_ok=True)
    log = run_dir / "train.log"
    logger.info("%s: %s, lr %g, pairs %s, %d updates, seed %d, %s%s", run_dir.name, options.arch,
                options.lr, ",".join(pairs), options.max_update, options.seed,
                " ".join(device_args(device)) or "gpu", f", resuming from {save_dir}" if resuming else "")
    run_logged(train_command(options, pairs, save_dir, run_dir, device), log, append=resuming, echo=TRAIN_ECHO)
    return log


TRAINING_RECORD = "training.json"


def training_summary(record: dict) -> dict:
    """The training block of the scores file: run settings and cost from a training results record."""
    config = record["config"]
    return {"config": record["metrics"]["model"], "lang_pairs": ",".join(record["metrics"]["lang_pairs"]),
            "arch": config["arch"], "lr": config["lr"], "seed": record["seed"], "max_update": config["max_update"],
            "updates": record["metrics"]["updates"], "wall_time_s": record["wall_time_s"],
            "resumes": record["metrics"].get("resumes", 1 if record["metrics"]["resumed_from_updates"] else 0),
            "train_wps": record["metrics"]["train_wps"], "device": record["device"], "quick": config["quick"],
            "git_revision": record["git_revision"], "validation": record["metrics"]["validation"],
            "averaged_updates": record["metrics"]["averaged_updates"]}


def read_training_record(run_dir: Path) -> dict:
    """The training record ``train`` saved in ``run_dir``; missing or not JSON is a :class:`DataError`."""
    path = run_dir / TRAINING_RECORD
    if not path.is_file():
        raise DataError(f"{path}: no training record (train the model with scripts/train_multilingual.sh "
                        f"{run_dir.name}, or pass --runs-dir)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise DataError(f"{path}: not JSON ({error})") from None
