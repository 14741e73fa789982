"""Learning curves of the translation models: at several update counts, each model's last interval checkpoints
averaged (as the reference models are), translated in every direction on test_2016_flickr and val, scored, and
the system outputs kept for the significance tests of :mod:`~nlp_experiments.translation.comparisons`.

    python -m nlp_experiments.translation.curves --models zeroshot direct       # points 1600,3200,4800,6400
    python -m nlp_experiments.translation.curves --models bilingual_en_de bilingual_en_fr --points 1600 3200
    python -m nlp_experiments.translation.curves --models zeroshot --training-seed 2   # the run zeroshot_seed2
    python -m nlp_experiments.translation.curves --score-only --models direct   # re-score the kept outputs
    python -m nlp_experiments.translation.curves --quick                        # greedy, tiny points (smoke test)

Each model is scored as the run that trained it with ``--training-seed``, NAME: MODEL for the reference seed 1,
MODEL_seedS for another seed S (``languages.run_name``, as ``train`` names it). For each run NAME and point N
the last ``--average-last`` interval checkpoints up to update N (``checkpoint_<epoch>_<N>.pt`` and the ones
before it, kept by training with a large --keep-interval-updates) are averaged into
CHECKPOINTS/NAME/checkpoint_avg<N>.pt and translated like the evaluation does
(:mod:`~nlp_experiments.translation.evaluate`; de<->fr through English too for --pivot models). Writes, per
run, ``results/nmt/curve_NAME.json`` (the scores at every point, unrounded to 4 decimals, the checkpoints
averaged, the model's settings read from its checkpoint, the run's training record; the record's seed is the
training seed) and the detokenized outputs, one sentence a line, gzipped:
``results/nmt/hyps/NAME/N/SPLIT/SRC-TGT.txt.gz`` (SPLIT: test, valid). The generations themselves stay in
RUNS_DIR/generate/avg<N>/.

What an interrupted run may reuse is keyed on its settings, as prepare's ``.stamp`` is: the averaged
checkpoint only when ``checkpoint_avg<N>.pt.stamp`` names the same averaged updates, the generations of a
system only when ``RUNS_DIR/generate/avg<N>/SYSTEM/.stamp`` names the same checkpoint, averaged updates, beam
and batch size (anything else is redone), and either only when newer than its inputs.

``--score-only`` needs no checkpoint: it re-scores the kept outputs of each run's existing record (its points,
splits and systems) and rewrites the record with the new scores, keeping what the translation run recorded
(settings, averaged updates, model settings, training summary, its revision and wall time under
``translated``).
"""
from __future__ import annotations

import gzip
import json
import logging
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from mvadl.data import DataError
from mvadl.io import atomic_path, atomic_write_text
from mvadl.results import results_dir
from mvadl.runner import Context, ExperimentConfig, main, option
from nlp_experiments.translation.averaging import average_checkpoints, last_checkpoints, load_checkpoint
from nlp_experiments.translation.data_bin import QUICK_FOLDERS, require_data_bin
from nlp_experiments.translation.generation import generate, generate_command, pivot_generate
from nlp_experiments.translation.langid import CharNgramLanguageIdentifier
from nlp_experiments.translation.languages import (
    MODEL_PAIRS,
    PIVOT_DIRECTIONS,
    PIVOT_LANG,
    REFERENCE_SEED,
    ModelName,
    evaluation_directions,
    pivot_name,
    run_name,
    run_of,
    split_run_name,
)
from nlp_experiments.translation.scoring import (
    SPLITS,
    generation_path,
    read_generate_output,
    read_references,
    score_direction,
    score_models,
)
from nlp_experiments.translation.training import read_training_record, training_summary

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


def still_rising(scores: Mapping[str, Mapping[str, Mapping]], seed: int = REFERENCE_SEED,
                 split: str = "test") -> dict:
    """Whether the curves still rise (point estimates, no test): over the training runs of ``seed`` in
    ``scores`` (the curves record's ``{system: {updates: {split: {direction: scores}}}}``; a pivot system is no
    run), ``to`` is the last point that every run reached and ``from`` the point before it that they share;
    ``rose`` counts the directions a run trains on (:data:`~nlp_experiments.translation.languages.MODEL_PAIRS`)
    whose BLEU on ``split`` is higher at ``to`` than at ``from``, out of ``of``. With fewer than two shared
    points ``from`` and ``to`` are None and both counts 0."""
    runs = {system: by_updates for system, by_updates in scores.items()
            if run_of(system) == system and split_run_name(system)[1] == seed}
    shared = sorted(set.intersection(*({int(u) for u in by_updates} for by_updates in runs.values()))) if runs else []
    if len(shared) < 2:
        return {"seed": seed, "from": None, "to": None, "rose": 0, "of": 0}
    before, last = shared[-2:]
    rose = [runs[system][str(last)][split][direction]["bleu"] > runs[system][str(before)][split][direction]["bleu"]
            for system in runs for direction in MODEL_PAIRS[split_run_name(system)[0]]]
    return {"seed": seed, "from": before, "to": last, "rose": sum(rose), "of": len(rose)}


def zero_shot_best(scores: Mapping[str, Mapping[str, Mapping]], split: str = "test") -> dict:
    """For each model scored on directions it never trains on (zero-shot: ``zeroshot`` on de<->fr), the highest
    BLEU on ``split`` in each such direction at any point of any of its runs in ``scores`` (every training seed;
    averaged checkpoints): ``{model: {"runs", "directions", "best_bleu": {direction: BLEU}}}``."""
    best: dict = {}
    for system, by_updates in sorted(scores.items()):
        model = split_run_name(system)[0]
        untrained = [d for d in evaluation_directions(model) if d not in MODEL_PAIRS.get(model, ())]
        if run_of(system) != system or model not in MODEL_PAIRS or not untrained:
            continue
        entry = best.setdefault(model, {"runs": [], "directions": untrained, "best_bleu": {}})
        entry["runs"].append(system)
        for by_split in by_updates.values():
            for direction in untrained:
                if direction in by_split.get(split, {}):
                    bleu = by_split[split][direction]["bleu"]
                    entry["best_bleu"][direction] = max(bleu, entry["best_bleu"].get(direction, bleu))
    return best


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

    models: list[ModelName] = option(["zeroshot", "direct"], "models (each trained to the last point)")
    training_seed: int = option(REFERENCE_SEED, "the seed the models were trained with: another seed S scores "
                                                "the runs MODEL_seedS")
    points: list[int] = option([1600, 3200, 4800, 6400], "update counts at which to average and score")
    average_last: int = option(3, "interval checkpoints averaged at each point (the last N up to it)")
    beam: int = option(5, "beam size")
    data_bin: str = option("data-bin/multi30k", "binarized data with spm.model, langid.json and raw/")
    checkpoints: str = option("checkpoints/nmt", "folder of the models' checkpoint folders")
    runs_dir: str = option("runs/nmt", "RUNS_DIR: the training records, and generate/ for the outputs")
    pivot: list[ModelName] = option(["zeroshot"], "models that also translate de<->fr through English "
                                                  "(--pivot alone: none)")
    splits: list[str] = option(["test", "valid"], "fairseq splits to translate (test: test_2016_flickr)")
    batch_size: int = option(128, "sentences per generation batch")
    score_only: bool = option(False, "re-score the kept outputs of each run's existing record, without "
                                     "checkpoints (its points, splits and settings; the options above are unused)")
    QUICK: ClassVar[dict] = {"beam": 1, "points": [10, 20], "average_last": 2, **QUICK_FOLDERS}

    def __post_init__(self):
        if not self.models:
            raise ValueError("--models: give at least one model")
        if self.average_last < 1:
            raise ValueError(f"--average-last must be at least 1, got {self.average_last}")
        if not self.points or sorted(set(self.points)) != list(self.points) or self.points[0] < 1:
            raise ValueError(f"--points: increasing positive update counts, got {self.points}")
        unknown_splits = sorted(set(self.splits) - {"test", "valid"})
        if unknown_splits or not self.splits:
            raise ValueError(f"--splits takes test and/or valid, got {' '.join(self.splits) or 'nothing'}")


def is_newer(path: Path, *inputs: Path) -> bool:
    """``path`` exists and was written after every one of ``inputs``."""
    return path.is_file() and all(path.stat().st_mtime > Path(i).stat().st_mtime for i in inputs)


def stamp_matches(stamp: Path, settings: Mapping) -> bool:
    """``stamp`` holds exactly ``settings`` (as :func:`write_stamp` writes them): what may be reused."""
    return stamp.is_file() and stamp.read_text(encoding="utf-8") == json.dumps(settings, sort_keys=True) + "\n"


def write_stamp(stamp: Path, settings: Mapping) -> None:
    stamp.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(stamp, json.dumps(settings, sort_keys=True) + "\n")


def translate_point(config: CurvesConfig, model: str, updates: int, pivot: bool, device) -> tuple[Path, list[int]]:
    """Average the checkpoints of the run ``model`` (a :func:`~nlp_experiments.translation.languages.run_name`)
    up to ``updates`` and translate every split and direction; returns the generations folder and the updates
    averaged. An interrupted run resumes where it stopped, but only with the same settings: the averaged
    checkpoint is reused when its stamp names the same averaged updates, a system's generations when their
    folder's stamp names the same checkpoint, averaged updates, beam and batch size (else the folder is
    emptied), each only when newer than its inputs."""
    data_bin = Path(config.data_bin)
    checkpoint = Path(config.checkpoints) / model / f"checkpoint_avg{updates}.pt"
    last = last_checkpoints(checkpoint.parent, config.average_last, until=updates)
    averaged = [u for u, _ in last]
    averaging = {"averaged_updates": averaged, "checkpoints": [path.name for _, path in last]}
    checkpoint_stamp = checkpoint.with_name(checkpoint.name + ".stamp")
    if not (stamp_matches(checkpoint_stamp, averaging) and is_newer(checkpoint, *(path for _, path in last))):
        checkpoint_stamp.unlink(missing_ok=True)
        average_checkpoints([path for _, path in last], checkpoint)
        write_stamp(checkpoint_stamp, averaging)
    generations = Path(config.runs_dir) / "generate" / f"avg{updates}"
    settings = {"checkpoint": str(checkpoint), "averaged_updates": averaged, "beam": config.beam,
                "batch_size": config.batch_size}
    for system in (model, pivot_name(model)) if pivot else (model,):
        stamp = generations / system / ".stamp"
        if not stamp_matches(stamp, settings):
            shutil.rmtree(stamp.parent, ignore_errors=True)  # outputs of other settings are never reused
            write_stamp(stamp, settings)
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
    return generations, averaged


def score_kept_outputs(hyps_root: Path, references: Path, systems: Mapping[str, tuple[str, ...]], updates: int,
                       splits: list[str], identifier) -> dict:
    """The scores of :func:`~nlp_experiments.translation.scoring.score_models` (same layout), from the kept
    outputs ``hyps_root/SYSTEM/UPDATES/SPLIT/SRC-TGT.txt.gz`` instead of fairseq-generate's."""
    scores: dict = {}
    for system, directions in systems.items():
        for direction in directions:
            target_lang = direction.split("-")[1]
            entry: dict = {}
            for split in splits:
                path = hypotheses_path(hyps_root, system, updates, split, direction)
                hypotheses, refs = read_hypotheses(path), read_references(references, split, target_lang)
                if len(hypotheses) != len(refs):
                    raise DataError(f"{path}: {len(hypotheses)} lines for {len(refs)} references")
                result = score_direction(hypotheses, refs, target_lang, identifier)
                key = SPLITS.get(split, split)
                if key is None:
                    entry.update(result)
                else:
                    entry[key] = result
            scores.setdefault(system, {})[direction] = entry
    return scores


def rescore(config: CurvesConfig, ctx: Context, model: str, identifier) -> Path:
    """``--score-only``: the record ``curve_MODEL.json`` rewritten with the scores of its kept outputs."""
    path = results_dir() / "nmt" / f"curve_{model}.json"
    if not path.is_file():
        raise DataError(f"{path}: no curves record to re-score (run python -m nlp_experiments.translation.curves "
                        f"--models {split_run_name(model)[0]})")
    old = json.loads(path.read_text(encoding="utf-8"))
    metrics, splits = old["metrics"], old["config"]["splits"]
    systems = {system: PIVOT_DIRECTIONS if system == pivot_name(model) else evaluation_directions(model)
               for system in metrics["systems"]}
    hyps_root = results_dir() / "nmt" / "hyps"
    curve = {str(updates): {**metrics["curve"][str(updates)],
                            "scores": score_kept_outputs(hyps_root, Path(config.data_bin) / "raw", systems, updates,
                                                         splits, identifier)}
             for updates in metrics["points"]}
    # the run that translated: the record's own, or (a record re-scored before) the one it kept
    translated = metrics.get("translated") or {"git_revision": old["git_revision"], "wall_time_s": old["wall_time_s"],
                                               "created_utc": old["created_utc"], "device": old["device"]}
    training = results_dir() / "nmt" / f"training_{model}.json"  # the training block, in this code's form
    if not training.is_file():
        raise DataError(f"{training}: no training record of {model} to re-score with")
    summary = training_summary(json.loads(training.read_text(encoding="utf-8")))
    return ctx.record("nmt", f"curve_{model}", {**metrics, "curve": curve, "translated": translated,
                                                "training": summary},
                      config={**old["config"], "score_only": True}, seed=split_run_name(model)[1])


def run(config: CurvesConfig, ctx: Context) -> list[Path]:
    data_bin = Path(config.data_bin)
    require_data_bin(data_bin, "spm.model", "langid.json")
    identifier = CharNgramLanguageIdentifier.load(data_bin / "langid.json")
    models = [run_name(m, config.training_seed) for m in config.models]
    pivots = {run_name(m, config.training_seed) for m in config.pivot}
    if config.score_only:
        return [rescore(config, ctx, model, identifier) for model in models]
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
        written.append(ctx.record("nmt", f"curve_{model}", metrics, wall_time_s=ctx.elapsed() - started,
                                  seed=config.training_seed))
    return written


if __name__ == "__main__":
    sys.exit(main(run, CurvesConfig, prog="python -m nlp_experiments.translation.curves", doc=__doc__))
