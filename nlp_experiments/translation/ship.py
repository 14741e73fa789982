"""Ship a trained translation model as a versioned artefact that translates on a fresh clone, without training
or prepared data: ``artifacts/nmt_MODEL/vN/`` (the default of ``scripts/translate.sh``).

    python -m nlp_experiments.translation.ship --model direct --updates 6400 --version v1
    python -m nlp_experiments.translation.ship --model direct --version v3 --from-version v2   # same weights

The folder holds what fairseq-interactive needs and nothing else: ``model.pt`` (the averaged checkpoint of
:mod:`~nlp_experiments.translation.curves` at UPDATES, its weights in fp16 when that costs at most
--fp16-tolerance BLEU in every direction of test_2016_flickr, else in fp32; no optimizer state), the shared
dictionary (``dict.txt``, and ``dict.LANG.txt`` links to it, as the task looks them up), the SentencePiece
model, the language identifier, ``languages.txt`` (the model's languages, in fairseq's order),
``training.json`` (the record of the run that made the weights), ``ship.json`` (this run's record: BLEU of
both precisions, start-up and per-sentence time of translation; its seed is null, nothing here is random) and
``SHA256SUMS`` over every other file, ``ship.json`` included
(:func:`~nlp_experiments.translation.artifacts.verify_shipped` checks it before use). The folder is built
beside its place and moved there whole; an existing version is never overwritten. Only then does the same
record go to ``results/nmt/shipped_MODEL.json`` for the report.

``--from-version vN`` ships the weights of an earlier version again, with a record of this code (after the
record's fields changed): the same ``model.pt``, dictionary and SentencePiece model (refused unless the data-bin's
are the same bytes), that version's ``training.json``; the BLEU of the stored precision is measured again, the
other precision's is taken from vN's ``ship.json`` and said so (``reshipped_from``).
"""
from __future__ import annotations

import json
import logging
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from mvadl.data import DataError
from mvadl.io import atomic_write_text
from mvadl.results import describe_device, results_dir, write_results
from mvadl.runner import Context, ExperimentConfig, main, option
from nlp_experiments.translation.artifacts import (
    ARTIFACTS_DIR,
    LANGUAGES_FILE,
    SUMS_FILE,
    WEIGHTS,
    read_languages,
    shipped_dir,
    verify_shipped,
)
from nlp_experiments.translation.averaging import load_checkpoint, tie_equal_tensors
from nlp_experiments.translation.data_bin import QUICK_FOLDERS, require_data_bin
from nlp_experiments.translation.generation import generate, generate_command, translate_sentences
from nlp_experiments.translation.languages import ModelName, evaluation_directions
from nlp_experiments.translation.metrics import corpus_score
from nlp_experiments.translation.scoring import generation_path, read_generate_output, read_references
from nlp_experiments.translation.training import TRAINING_RECORD, read_training_record

logger = logging.getLogger(__name__)

#: The files of a shipped model besides the weights, copied from the data-bin.
DATA_FILES = ("dict.txt", "spm.model", "langid.json", LANGUAGES_FILE)


def inference_checkpoint(source: Path, output: Path, fp16: bool) -> None:
    """``source`` (a fairseq checkpoint) without its optimizer state, its floating weights in fp16 if ``fp16``:
    what fairseq-generate/-interactive load."""
    import torch

    state = load_checkpoint(source)
    weights = tie_equal_tensors({name: tensor.half() if fp16 and tensor.is_floating_point() else tensor
                                 for name, tensor in state["model"].items()})
    # everything but the optimizer's moments (two thirds of the file); fairseq's loader reads the small rest
    torch.save({**{key: value for key, value in state.items() if key != "last_optimizer_state"}, "model": weights},
               output)


@dataclass
class ShipConfig(ExperimentConfig):
    """Copy a trained model and what it needs to translate into artifacts/nmt_MODEL/VERSION."""

    model: ModelName = option("direct", "the model to ship")
    updates: int = option(6400, "ship CHECKPOINTS/MODEL/checkpoint_avg<UPDATES>.pt (written by curves)")
    version: str = option("v1", "artefact version (a new folder: versions are never overwritten)")
    checkpoints: str = option("checkpoints/nmt", "folder of the models' checkpoint folders")
    runs_dir: str = option("runs/nmt", "RUNS_DIR: the training record, and ship/ for the test translations")
    data_bin: str = option("data-bin/multi30k", "prepared data: dictionary, spm.model, langid.json, test set")
    fp16_tolerance: float = option(0.1, "largest BLEU drop of the fp16 copy in any direction that still ships fp16")
    beam: int = option(5, "beam size of the BLEU check and of the timing")
    timing_sentences: int = option(100, "test sentences translated in one call to time the translation")
    out: str | None = option(None, "artefacts folder (none: the repository's artifacts/)")
    from_version: str | None = option(None, "ship the weights of this earlier version of --model again (no "
                                            "checkpoint needed), with a record of this code")
    QUICK: ClassVar[dict] = {"beam": 1, "timing_sentences": 5, **QUICK_FOLDERS}

    def __post_init__(self):
        for name, version in (("--version", self.version), ("--from-version", self.from_version or "v1")):
            if not version.startswith("v") or not version[1:].isdigit():
                raise ValueError(f"{name}: v<N>, got '{version}'")
        if self.from_version == self.version:
            raise ValueError("--from-version: an earlier version than --version")
        if self.fp16_tolerance < 0 or self.timing_sentences < 2:
            raise ValueError("--fp16-tolerance must be >= 0 and --timing-sentences >= 2")


def directions_bleu(checkpoint: Path, config: ShipConfig, name: str, device) -> dict[str, float]:
    """BLEU of ``checkpoint`` on test_2016_flickr in every direction of the model."""
    data_bin, outputs = Path(config.data_bin), Path(config.runs_dir) / "ship" / name
    scores = {}
    for direction in evaluation_directions(config.model):
        output = generation_path(outputs, config.model, "test", direction)
        generate(generate_command(data_bin, checkpoint, direction, "test", config.beam, 128, device), output)
        scores[direction] = round(corpus_score("bleu", read_generate_output(output),
                                               read_references(data_bin / "raw", "test", direction.split("-")[1])), 2)
    return scores


def time_translation(folder: Path, config: ShipConfig, device) -> dict:
    """Seconds of one call translating one sentence (start-up, mostly) and of one translating
    ``timing_sentences`` German test sentences into French: start-up and time per sentence after it."""
    sentences = read_references(Path(config.data_bin) / "raw", "test", "de")[:config.timing_sentences]
    seconds = {}
    for n in (1, len(sentences)):
        started = time.perf_counter()
        out = translate_sentences(sentences[:n], "fr", None, folder / WEIGHTS, folder, config.beam, device)
        seconds[n] = time.perf_counter() - started
        if len(out) != n:
            raise DataError(f"{folder}: {len(out)} translations for {n} sentences")
    n = len(sentences)
    return {"one_sentence_s": round(seconds[1], 2), "sentences": n, "all_sentences_s": round(seconds[n], 2),
            "per_sentence_s": round((seconds[n] - seconds[1]) / (n - 1), 3)}


def weights_from_checkpoint(source: Path, staging: Path, config: ShipConfig, device) -> dict:
    """``model.pt`` in ``staging`` from the averaged checkpoint ``source``: fp16 if that costs at most
    ``--fp16-tolerance`` BLEU in every direction, else fp32; the BLEU of both."""
    inference_checkpoint(source, staging / "model.fp32.pt", fp16=False)
    inference_checkpoint(source, staging / WEIGHTS, fp16=True)
    bleu_fp32 = directions_bleu(staging / "model.fp32.pt", config, "fp32", device)
    bleu_fp16 = directions_bleu(staging / WEIGHTS, config, "fp16", device)
    fp16 = max(bleu_fp32[d] - bleu_fp16[d] for d in bleu_fp32) <= config.fp16_tolerance
    if fp16:
        (staging / "model.fp32.pt").unlink()
    else:
        (staging / "model.fp32.pt").replace(staging / WEIGHTS)
    return {"source_checkpoint": str(source), "weights_dtype": "float16" if fp16 else "float32",
            "test_bleu_fp32": bleu_fp32, "test_bleu_fp16": bleu_fp16}


def weights_from_version(source: Path, staging: Path, config: ShipConfig, device) -> dict:
    """``model.pt`` in ``staging``: the weights of the (verified) shipped folder ``source``, whose dictionary and
    SentencePiece model must be the data-bin's; the BLEU of its precision measured again, the other precision's
    from its ``ship.json``."""
    from vae_diffusion.core.artifacts import sha256_file

    for name in ("dict.txt", "spm.model"):
        if sha256_file(source / name) != sha256_file(Path(config.data_bin) / name):
            raise DataError(f"{source / name}: differs from {Path(config.data_bin) / name} (the weights need the "
                            f"vocabulary they were trained with)")
    try:
        previous = json.loads((source / "ship.json").read_text(encoding="utf-8"))
        metrics = previous["metrics"]
        stored = {"float16": "fp16", "float32": "fp32"}[metrics["weights_dtype"]]
        other = "fp32" if stored == "fp16" else "fp16"
        kept = {key: metrics[key] for key in ("source_checkpoint", "updates", "weights_dtype", f"test_bleu_{other}")}
        kept["reshipped_from"] = {"folder": f"{source.parent.name}/{source.name}",
                                  "git_revision": previous["git_revision"], "measured_again": f"test_bleu_{stored}",
                                  "from_its_record": f"test_bleu_{other}"}
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as error:
        raise DataError(f"{source / 'ship.json'}: not a ship record ({error})") from None
    shutil.copy2(source / WEIGHTS, staging / WEIGHTS)
    return {**kept, f"test_bleu_{stored}": directions_bleu(staging / WEIGHTS, config, stored, device)}


def run(config: ShipConfig, ctx: Context) -> Path:
    from vae_diffusion.core.artifacts import sha256_file

    data_bin = Path(config.data_bin)
    require_data_bin(data_bin, *DATA_FILES)
    # --quick ships into RUNS_DIR/artifacts, never into the repository's artifacts/
    root = Path(config.out) if config.out else Path(config.runs_dir) / "artifacts" if config.quick else ARTIFACTS_DIR
    if config.from_version:
        source = training_dir = verify_shipped(shipped_dir(config.model, config.from_version, root))
    else:
        source = Path(config.checkpoints) / config.model / f"checkpoint_avg{config.updates}.pt"
        if not source.is_file():
            raise DataError(f"{source}: no averaged checkpoint (python -m nlp_experiments.translation.curves "
                            f"--models {config.model} --points ... {config.updates})")
        training_dir = Path(config.runs_dir) / config.model
    training = read_training_record(training_dir)
    folder = shipped_dir(config.model, config.version, root)
    if folder.exists():
        raise DataError(f"{folder}: exists (a shipped version is never overwritten; give --version v<N+1>)")
    staging = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        for name in DATA_FILES:
            shutil.copy2(data_bin / name, staging / name)
        for lang in read_languages(data_bin):
            (staging / f"dict.{lang}.txt").symlink_to("dict.txt")
        make_weights = weights_from_version if config.from_version else weights_from_checkpoint
        weights = make_weights(source, staging, config, ctx.device)
        bleu_fp32, bleu_fp16 = weights["test_bleu_fp32"], weights["test_bleu_fp16"]
        shutil.copyfile(training_dir / TRAINING_RECORD, staging / TRAINING_RECORD)
        timing = time_translation(staging, config, ctx.device)
        files = sorted(p.name for p in staging.iterdir() if p.is_file() and not p.is_symlink())
        sums = {name: sha256_file(staging / name) for name in files}
        sizes = {name: (staging / name).stat().st_size for name in files}
        metrics = {"model": config.model, "version": config.version, "folder": f"{folder.parent.name}/{folder.name}",
                   "updates": config.updates, "languages": list(read_languages(data_bin)), **weights,
                   "largest_fp16_drop": round(max(bleu_fp32[d] - bleu_fp16[d] for d in bleu_fp32), 2),
                   "largest_fp16_difference": round(max(abs(bleu_fp32[d] - bleu_fp16[d]) for d in bleu_fp32), 2),
                   "size_bytes": sizes, "total_bytes": sum(sizes.values()), "sha256": sums,
                   "translation_timing": timing, "training_seed": training["seed"],
                   "training_git_revision": training["git_revision"]}
        # The record is written into the folder (and covered by its SHA256SUMS) before the folder moves into
        # place, and into results/ only after. Nothing here draws at random: the record's seed is null.
        made = write_results("nmt", "ship", config=config.as_dict(), metrics=metrics, seed=None,
                             wall_time_s=ctx.elapsed(), device=describe_device(ctx.device), quick=config.quick,
                             root=staging / ".record", revision=ctx.revision)
        made.replace(staging / "ship.json")
        shutil.rmtree(staging / ".record")
        listed = sorted(p.name for p in staging.iterdir() if p.is_file() and not p.is_symlink())
        atomic_write_text(staging / SUMS_FILE, "".join(f"{sha256_file(staging / name)}  {name}\n"
                                                       for name in listed))
        staging.rename(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    record = results_dir() / "nmt" / f"shipped_{config.model}.json"
    record.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(record, (folder / "ship.json").read_text(encoding="utf-8"))
    logger.info("shipped %s (%s weights, %.1f MB) -> %s; translation: %.1f s start-up, %.2f s a sentence",
                config.model, metrics["weights_dtype"], metrics["total_bytes"] / 1e6, folder,
                timing["one_sentence_s"], timing["per_sentence_s"])
    return folder


if __name__ == "__main__":
    sys.exit(main(run, ShipConfig, prog="python -m nlp_experiments.translation.ship", doc=__doc__))
