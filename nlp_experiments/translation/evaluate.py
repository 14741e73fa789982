"""Evaluate one checkpoint of each trained multilingual model on all 6 directions between en, de and fr:
fairseq-generate (with this project's plugin) on test_2016_flickr and val, SentencePiece removed by fairseq's
--post-process sentencepiece, then sacreBLEU BLEU/chrF (signatures kept) and the off-target rate ->
<results>/nmt/<name>.json, <name>.png and <name>_validation.png (the models' validation loss over training;
--name evaluation by default). The report's translation numbers come from the learning curves instead
(``curves`` and ``comparisons``: every model at several update counts, outputs kept); this command checks one
checkpoint (the averaged one, or checkpoint_best.pt) on its own, and no reproduce script runs it.
de->fr and fr->de are also translated through English with the zeroshot model (its de->en / fr->en output
translated again by fairseq-interactive), scored as ``zeroshot_pivot_en``.

    python -m nlp_experiments.translation.evaluate                   # zeroshot,direct (+ any bilingual_* trained),
                                                                     # each model's averaged checkpoint
    python -m nlp_experiments.translation.evaluate --checkpoint checkpoint_best.pt --name evaluation_best
    python -m nlp_experiments.translation.evaluate --models direct --beam 5 --pivot   # --pivot alone: none
    python -m nlp_experiments.translation.evaluate --quick           # greedy search -> runs/quick/results/nmt/
    python -m nlp_experiments.translation.evaluate --no-generate     # re-score the generations already there

(``bash scripts/evaluate_multilingual.sh ...`` runs this with the same options.) Each model's checkpoint is
CHECKPOINTS/MODEL/CHECKPOINT and its training record RUNS_DIR/MODEL/training.json (written by train; its
settings, cost and validation-loss series go into the record); the generations are written to
RUNS_DIR/generate/CHECKPOINT/MODEL/SPLIT/SRC-TGT.txt (CHECKPOINT: the file name without .pt). A bilingual
model is scored on its own directions only. A missing checkpoint, training record, generation or reference
file stops the evaluation with one line naming it.
"""
from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from mvadl.data import DataError
from mvadl.plotting import save_figure
from mvadl.results import results_dir
from mvadl.runner import Context, ExperimentConfig, main, option
from nlp_experiments.translation.data_bin import QUICK_FOLDERS, require_data_bin
from nlp_experiments.translation.generation import generate, generate_command, pivot_generate
from nlp_experiments.translation.langid import CharNgramLanguageIdentifier
from nlp_experiments.translation.languages import (
    DIRECTIONS,
    PIVOT_DIRECTIONS,
    PIVOT_LANG,
    ModelName,
    evaluation_directions,
    models_to_evaluate,
    pivot_name,
)
from nlp_experiments.translation.metrics import METRIC_NAMES, signature
from nlp_experiments.translation.scoring import generation_path, plot_scores, plot_validation, score_models
from nlp_experiments.translation.training import read_training_record, training_summary

logger = logging.getLogger(__name__)


@dataclass
class EvaluateConfig(ExperimentConfig):
    """fairseq-generate every model in every direction, then score."""

    models: list[ModelName] = option([], "models (none given: zeroshot, direct and the bilingual_* of seed 1 found)")
    beam: int = option(5, "beam size")
    data_bin: str = option("data-bin/multi30k", "binarized data with spm.model, langid.json and raw/")
    checkpoints: str = option("checkpoints/nmt", "folder of the models' checkpoint folders")
    checkpoint: str = option("checkpoint_averaged.pt", "checkpoint file of each model (checkpoint_averaged.pt: "
                                                       "the last interval checkpoints averaged; checkpoint_best.pt)")
    pivot: list[ModelName] = option(["zeroshot"], "models (among those evaluated) that also translate de<->fr "
                                                  "through English: two passes, scored as MODEL_pivot_en (--pivot "
                                                  "alone: none)")
    splits: list[str] = option(["test", "valid"], "fairseq splits to generate and score (test: test_2016_flickr)")
    batch_size: int = option(128, "sentences per generation batch")
    runs_dir: str = option("runs/nmt", "RUNS_DIR: the training records, and generate/ for the outputs")
    generate: bool = option(True, "run fairseq-generate (--no-generate: score the outputs already there)")
    name: str = option("evaluation", "record <results>/nmt/<name>.json and figures <name>.png, <name>_validation.png")
    QUICK: ClassVar[dict] = {"beam": 1, **QUICK_FOLDERS}

    def __post_init__(self):
        # "--splits 'test valid'" (one word, as the bash script took it) and "--splits test valid" both work
        self.splits = [s for item in self.splits for s in item.replace(",", " ").split()]
        unknown = sorted(set(self.splits) - {"test", "valid"})
        if unknown or not self.splits:
            raise ValueError(f"--splits takes test and/or valid, got {' '.join(self.splits) or 'nothing'}")


def run(config: EvaluateConfig, ctx: Context) -> Path:
    data_bin, runs = Path(config.data_bin), Path(config.runs_dir)
    require_data_bin(data_bin, "spm.model", "langid.json")
    models = models_to_evaluate(config.models, config.checkpoints)
    checkpoints = {model: Path(config.checkpoints) / model / config.checkpoint for model in models}
    for model, checkpoint in checkpoints.items():
        if not checkpoint.is_file():
            raise DataError(f"{checkpoint}: no checkpoint (train it with scripts/train_multilingual.sh {model})")
    training = {model: training_summary(read_training_record(runs / model)) for model in models}
    identifier = CharNgramLanguageIdentifier.load(data_bin / "langid.json")
    directions = {model: evaluation_directions(model) for model in models}
    pivots = [model for model in config.pivot if model in models]
    generations = runs / "generate" / Path(config.checkpoint).stem
    if config.generate:
        for model in models:
            for split in config.splits:
                for direction in directions[model]:
                    generate(generate_command(data_bin, checkpoints[model], direction, split, config.beam,
                                              config.batch_size, ctx.device),
                             generation_path(generations, model, split, direction))
        for model in pivots:
            for split in config.splits:
                for direction in PIVOT_DIRECTIONS:
                    src, tgt = direction.split("-")
                    pivot_generate(generation_path(generations, model, split, f"{src}-{PIVOT_LANG}"),
                                   checkpoints[model], data_bin, PIVOT_LANG, tgt, config.beam, ctx.device,
                                   generation_path(generations, pivot_name(model), split, direction))
    # Scored (and drawn) in the order of --models, each pivot right after the model it uses.
    directions = {name: dirs for model in models
                  for name, dirs in [(model, directions[model])]
                  + ([(pivot_name(model), PIVOT_DIRECTIONS)] if model in pivots else [])}
    scores = score_models(generations, data_bin / "raw", directions, identifier, config.splits)
    metrics = {**scores, "signatures": {name: signature(name) for name in METRIC_NAMES}, "training": training}
    seeds = {summary["seed"] for summary in training.values()}
    devices = sorted({summary["device"] for summary in training.values()})
    # The seed and device of the scores are the training runs' (generation is deterministic).
    path = ctx.record(
        "nmt", config.name, metrics, seed=seeds.pop() if len(seeds) == 1 else None, device=", ".join(devices),
        config={"models": models, "pivot": pivots, "directions": list(DIRECTIONS), "test_split": "test_2016_flickr",
                "val_split": "val", "splits": config.splits, "beam": config.beam, "checkpoint": config.checkpoint,
                "generations": str(generations), "references": str(data_bin / "raw")})
    save_figure(plot_scores(scores, directions=DIRECTIONS), results_dir() / "nmt" / f"{config.name}.png")
    save_figure(plot_validation(training), results_dir() / "nmt" / f"{config.name}_validation.png")
    logger.info("wrote %s and %s.png", path, path.with_suffix(""))
    return path


if __name__ == "__main__":
    sys.exit(main(run, EvaluateConfig, prog="python -m nlp_experiments.translation.evaluate", doc=__doc__))
