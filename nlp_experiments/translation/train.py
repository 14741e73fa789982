"""Train one multilingual translation model on Multi30k (assignment section 3) with fairseq and this project's
plugin: one mva_transformer_multi30k model (all embeddings shared), target-language tokens, every pair sampled
into one iterator, per-pair validation (task mva_multilingual_translation); the best checkpoint is chosen on
the mean validation loss over pairs.

    python -m nlp_experiments.translation.train zeroshot          # en-de,de-en,en-fr,fr-en (de<->fr never seen)
    python -m nlp_experiments.translation.train direct            # the same + de-fr,fr-de
    python -m nlp_experiments.translation.train bilingual_en_de   # same architecture, one pair (or bilingual_en_fr)
    python -m nlp_experiments.translation.train direct --quick    # a few updates of a tiny model, same code path

(``bash scripts/train_multilingual.sh MODEL ...`` runs this with the same options; the model is the first word.)
fairseq-train runs as a subprocess, its output in RUNS_DIR/NAME/train.log (the progress lines echoed),
TensorBoard in RUNS_DIR/NAME/tb, checkpoints in SAVE_DIR (default CHECKPOINTS/NAME); a second call
continues from SAVE_DIR/checkpoint_last.pt. NAME is MODEL for the reference seed 1 and MODEL_seedS for another
--seed S, so a second seed never overwrites the reference run. The run is recorded with mvadl.results (config,
updates, resumptions, wall time summed across them, words/s, validation-loss series, device, seed, git revision)
in results/nmt/training_NAME.json (runs/quick/results/nmt/ with --quick) and, for evaluate, in
RUNS_DIR/NAME/training.json. Uses the GPU when torch sees one (--device). Run prepare first.
OMP_NUM_THREADS=1 trains two models side by side on a 2-core machine.
"""
from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from tyro.conf import Positional

from mvadl.io import atomic_write_text
from mvadl.runner import REQUIRED, Context, main, option
from nlp_experiments.translation.averaging import AVERAGED, average_last
from nlp_experiments.translation.data_bin import QUICK_FOLDERS
from nlp_experiments.translation.languages import MODEL_PAIRS, ModelName, run_name
from nlp_experiments.translation.train_log import training_metrics
from nlp_experiments.translation.training import TRAINING_RECORD, TrainingOptions, train

logger = logging.getLogger(__name__)


@dataclass
class TrainConfig(TrainingOptions):
    """Train one multilingual translation model with fairseq-train."""

    model: Positional[ModelName] = option(REQUIRED, "configuration to train (the first word)")
    checkpoints: str = option("checkpoints/nmt", "folder of the runs' checkpoint folders: the run saves to "
                                                 "CHECKPOINTS/NAME, where NAME is MODEL, or MODEL_seedS for a --seed "
                                                 "S other than 1")
    save_dir: str | None = option(None, "checkpoint folder (None: CHECKPOINTS/NAME)")
    runs_dir: str = option("runs/nmt", "RUNS_DIR: NAME/train.log, NAME/tb (TensorBoard), NAME/training.json")
    QUICK: ClassVar[dict] = {
        "max_update": 20, "warmup_updates": 5, "validate_interval_updates": 10, "save_interval_updates": 5,
        "average_last": 2, "max_valid_steps": 2,
        "log_interval": 5, "arch": "mva_transformer_multi30k", "layers": 1, "embed_dim": 64, "ffn_embed_dim": 128,
        "attention_heads": 2, **QUICK_FOLDERS}

    def __post_init__(self) -> None:
        super().__post_init__()
        saved = self.max_update // self.save_interval_updates if self.save_interval_updates > 0 else 0
        if saved < self.average_last:
            raise ValueError(f"--average-last {self.average_last} is more than the {saved} interval checkpoints "
                             f"that --max-update {self.max_update} with --save-interval-updates "
                             f"{self.save_interval_updates} writes")


def run(config: TrainConfig, ctx: Context) -> Path:
    name = run_name(config.model, config.seed)  # another seed never overwrites the reference run
    run_dir = Path(config.runs_dir) / name
    save_dir = Path(config.save_dir) if config.save_dir else Path(config.checkpoints) / name
    pairs = MODEL_PAIRS[config.model]
    log = train(config, pairs, save_dir, run_dir, ctx.device)
    averaged = average_last(save_dir, config.average_last)
    logger.info("averaged the checkpoints of updates %s -> %s", averaged, save_dir / AVERAGED)
    metrics = {"model": config.model, "run": name, "lang_pairs": list(pairs), "save_dir": str(save_dir),
               **training_metrics(log), "averaged_updates": averaged}
    # a resumed run's cost is fairseq's training clock, which its checkpoints carry across the resumptions
    wall = metrics["training_wall_s"] if metrics["resumes"] and metrics["training_wall_s"] else ctx.elapsed()
    path = ctx.record("nmt", f"training_{name}", metrics, wall_time_s=wall)
    atomic_write_text(run_dir / TRAINING_RECORD, path.read_text(encoding="utf-8"))  # what evaluate reads
    logger.info("%s done: %d updates in %.0f s -> %s, %s", config.model, metrics["updates"], ctx.elapsed(),
                save_dir, path)
    return path


if __name__ == "__main__":
    sys.exit(main(run, TrainConfig, prog="python -m nlp_experiments.translation.train", doc=__doc__))
