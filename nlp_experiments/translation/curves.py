"""Learning curves of the translation models: at several update counts, each model's last interval checkpoints
averaged (as the reference models are), translated in every direction on test_2016_flickr and val, scored, and
the system outputs kept for the significance tests of :mod:`~nlp_experiments.translation.comparisons`.

    python -m nlp_experiments.translation.curves --models zeroshot,direct      # points 1600,3200,4800,6400
    python -m nlp_experiments.translation.curves --models bilingual_en_de,bilingual_en_fr --points 1600 3200
    python -m nlp_experiments.translation.curves --models zeroshot --training-seed 2   # the run zeroshot_seed2
    python -m nlp_experiments.translation.curves --quick                       # greedy, tiny points (smoke test)

Each model is scored as the run that trained it with ``--training-seed``, NAME: MODEL for the reference seed 1,
MODEL_seedS for another seed S (``languages.run_name``, as ``train`` names it). For each run NAME and point N
the last ``--average-last`` interval checkpoints up to update N (``checkpoint_<epoch>_<N>.pt`` and the ones
before it, kept by training with a large --keep-interval-updates) are averaged into
CHECKPOINTS/NAME/checkpoint_avg<N>.pt and translated like the evaluation does
(:mod:`~nlp_experiments.translation.evaluate`; de<->fr through English too for --pivot models). Writes, per
run, ``results/nmt/curve_NAME.json`` (the scores at every point, the checkpoints averaged, the model's
settings read from its checkpoint, the run's training record) and the detokenized outputs, one sentence a
line, gzipped: ``results/nmt/hyps/NAME/N/SPLIT/SRC-TGT.txt.gz`` (SPLIT: test, valid). The generations
themselves stay in RUNS_DIR/generate/avg<N>/.
"""
from __future__ import annotations

import gzip
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from mvadl.data import DataError
from mvadl.io import atomic_path
from mvadl.results import results_dir
from mvadl.runner import Context, ExperimentConfig, main, option
from nlp_experiments.translation.averaging import average_checkpoints, last_checkpoints, load_checkpoint
from nlp_experiments.translation.fairseq_runs import (
    generate,
    generate_command,
    pivot_generate,
    read_training_record,
    require_data_bin,
    training_summary,
)
from nlp_experiments.translation.langid import CharNgramLanguageIdentifier
from nlp_experiments.translation.languages import (
    MODEL_PAIRS,
    PIVOT_DIRECTIONS,
    PIVOT_LANG,
    REFERENCE_SEED,
    evaluation_directions,
    pivot_name,
    run_name,
    split_run_name,
)
from nlp_experiments.translation.scoring import generation_path, read_generate_output, score_models

logger = logging.getLogger(__name__)


def hypotheses_path(root: Path, system: str, updates: int, split: str, direction: str) -> Path:
    """Where the kept outputs of ``system`` (a model, or ``MODEL_pivot_en``) at ``updates`` live."""
    return Path(root) / system / str(updates) / split / f"{direction}.txt.gz"


def write_hypotheses(path: Path, hypotheses: list[str]) -> None:
    """``hypotheses``, one a line, gzipped (no timestamp in the header: the same text gives the same bytes)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as raw, \
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as out:
        out.write("".join(h + "\n" for h in hypotheses).encode("utf-8"))


def read_hypotheses(path: Path) -> list[str]:
    """The lines written by :func:`write_hypotheses`; a missing file is a :class:`DataError` naming it."""
    if not Path(path).is_file():
        raise DataError(f"{path}: no system outputs (run python -m nlp_experiments.translation.curves)")
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return f.read().splitlines()


def model_settings(checkpoint: Path) -> dict:
    """The architecture and data settings stored in a fairseq checkpoint's config (what the report states)."""
    cfg = load_checkpoint(checkpoint)["cfg"]

    def read(section: str, *keys: str) -> dict:  # fairseq keeps a section as a dict or as an argparse.Namespace
        values = cfg[section] if isinstance(cfg[section], dict) else vars(cfg[section])
        return {key: values[key] for key in keys}

    return {**read("model", "arch", "encoder_layers", "decoder_layers", "encoder_embed_dim", "encoder_ffn_embed_dim",
                   "encoder_attention_heads", "dropout", "share_all_embeddings"),
            **read("task", "sampling_method", "sampling_temperature")}


@dataclass
class CurvesConfig(ExperimentConfig):
    """Average, translate and score each model at several update counts."""

    models: str = option("zeroshot,direct", "comma-separated models (each trained to the last point)")
    training_seed: int = option(REFERENCE_SEED, "the seed the models were trained with: another seed S scores "
                                                "the runs MODEL_seedS")
    points: list[int] = option([1600, 3200, 4800, 6400], "update counts at which to average and score")
    average_last: int = option(3, "interval checkpoints averaged at each point (the last N up to it)")
    beam: int = option(5, "beam size")
    data_bin: str = option("data-bin/multi30k", "binarized data with spm.model, langid.json and raw/")
    checkpoints: str = option("checkpoints/nmt", "folder of the models' checkpoint folders")
    runs_dir: str = option("runs/nmt", "RUNS_DIR: the training records, and generate/ for the outputs")
    pivot: str = option("zeroshot", "comma-separated models that also translate de<->fr through English")
    splits: list[str] = option(["test", "valid"], "fairseq splits to translate (test: test_2016_flickr)")
    batch_size: int = option(128, "sentences per generation batch")
    QUICK: ClassVar[dict] = {"beam": 1, "points": [10, 20], "average_last": 2}

    def __post_init__(self):
        models = [m for m in self.models.split(",") if m]
        unknown = [m for m in models if m not in MODEL_PAIRS]
        if unknown or not models:
            raise ValueError(f"--models: unknown {', '.join(unknown) or '(none given)'} "
                             f"(known: {', '.join(MODEL_PAIRS)})")
        pivots = [m for m in self.pivot.split(",") if m]
        if any(m not in MODEL_PAIRS for m in pivots):
            raise ValueError(f"--pivot: unknown model in '{self.pivot}' (known: {', '.join(MODEL_PAIRS)})")
        if self.average_last < 1:
            raise ValueError(f"--average-last must be at least 1, got {self.average_last}")
        if not self.points or sorted(set(self.points)) != list(self.points) or self.points[0] < 1:
            raise ValueError(f"--points: increasing positive update counts, got {self.points}")
        unknown_splits = sorted(set(self.splits) - {"test", "valid"})
        if unknown_splits or not self.splits:
            raise ValueError(f"--splits takes test and/or valid, got {' '.join(self.splits) or 'nothing'}")


def is_newer(path: Path, *inputs: Path) -> bool:
    """``path`` exists and was written after every one of ``inputs`` (what a resumed run may reuse)."""
    return path.is_file() and all(path.stat().st_mtime > Path(i).stat().st_mtime for i in inputs)


def translate_point(config: CurvesConfig, model: str, updates: int, pivot: bool, device) -> tuple[Path, list[int]]:
    """Average the checkpoints of the run ``model`` (a :func:`~nlp_experiments.translation.languages.run_name`)
    up to ``updates`` and translate every split and direction; returns the
    generations folder and the updates averaged. An averaged checkpoint newer than its inputs, and a
    generation newer than its checkpoint, are reused: an interrupted run resumes where it stopped."""
    data_bin = Path(config.data_bin)
    checkpoint = Path(config.checkpoints) / model / f"checkpoint_avg{updates}.pt"
    last = last_checkpoints(checkpoint.parent, config.average_last, until=updates)
    if not is_newer(checkpoint, *(path for _, path in last)):
        average_checkpoints([path for _, path in last], checkpoint)
    generations = Path(config.runs_dir) / "generate" / f"avg{updates}"
    for split in config.splits:
        for direction in evaluation_directions(model):
            output = generation_path(generations, model, split, direction)
            if not is_newer(output, checkpoint):
                generate(generate_command(data_bin, checkpoint, direction, split, config.beam, config.batch_size,
                                          device), output)
        for direction in PIVOT_DIRECTIONS if pivot else ():
            src, tgt = direction.split("-")
            first_pass = generation_path(generations, model, split, f"{src}-{PIVOT_LANG}")
            output = generation_path(generations, pivot_name(model), split, direction)
            if not is_newer(output, first_pass):
                pivot_generate(first_pass, checkpoint, data_bin, PIVOT_LANG, tgt, config.beam, device, output)
    return generations, [u for u, _ in last]


def run(config: CurvesConfig, ctx: Context) -> list[Path]:
    data_bin = Path(config.data_bin)
    require_data_bin(data_bin, "spm.model", "langid.json")
    identifier = CharNgramLanguageIdentifier.load(data_bin / "langid.json")
    models = [run_name(m, config.training_seed) for m in config.models.split(",") if m]
    pivots = {run_name(m, config.training_seed) for m in config.pivot.split(",") if m}
    hyps_root = results_dir() / "nmt" / "hyps"
    # Everything a point needs is checked before the first (long) translation.
    records = {model: read_training_record(Path(config.runs_dir) / model) for model in models}
    for model, record in records.items():
        if record["metrics"]["updates"] < config.points[-1]:
            raise DataError(f"{Path(config.runs_dir) / model}: trained for {record['metrics']['updates']} updates, "
                            f"fewer than the last point {config.points[-1]}")
    written = []
    for model in models:
        started = ctx.elapsed()
        systems = {model: evaluation_directions(model)}
        if model in pivots:
            systems[pivot_name(model)] = PIVOT_DIRECTIONS
        points = {}
        for updates in config.points:
            generations, averaged = translate_point(config, model, updates, model in pivots, ctx.device)
            scores = score_models(generations, data_bin / "raw", systems, identifier, config.splits)
            for system, directions in systems.items():
                for split in config.splits:
                    for direction in directions:
                        write_hypotheses(hypotheses_path(hyps_root, system, updates, split, direction),
                                         read_generate_output(generation_path(generations, system, split,
                                                                              direction)))
            points[str(updates)] = {"averaged_updates": averaged, "scores": scores}
            logger.info("%s at %d updates: %s", model, updates,
                        {d: s["bleu"] for d, s in scores[model].items()})
        settings = model_settings(Path(config.checkpoints) / model / f"checkpoint_avg{config.points[-1]}.pt")
        metrics = {"model": split_run_name(model)[0], "run": model, "systems": list(systems), "points": config.points,
                   "curve": points, "model_settings": settings, "training": training_summary(records[model])}
        written.append(ctx.record("nmt", f"curve_{model}", metrics,
                                  wall_time_s=ctx.elapsed() - started))
    return written


if __name__ == "__main__":
    sys.exit(main(run, CurvesConfig, prog="python -m nlp_experiments.translation.curves", doc=__doc__))
