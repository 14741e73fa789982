"""The translation experiment's fairseq commands (run as subprocesses with this project's plugin), and their
logs read back.

Nothing here imports fairseq: the commands are run by :mod:`nlp_experiments.fairseq_runs` (``python -m
fairseq_cli.<tool> ... --user-dir fairseq_ext`` in a fresh interpreter, the output in a log file next to the
run, a failure a :class:`~nlp_experiments.fairseq_runs.FairseqError` naming that log).

* :func:`prepare_data_bin`: Multi30k -> SentencePiece (:mod:`.export_multi30k`) -> ONE fairseq dictionary over
  every language's training pieces -> every language pair binarized with it (``--srcdict``/``--tgtdict``), so
  all languages share one vocabulary;
* :class:`TrainingOptions` / :func:`train_command` / :func:`train`: one multilingual model with fairseq-train
  (task ``mva_multilingual_translation``, the best checkpoint chosen on the mean validation loss over pairs),
  and :func:`training_metrics`, what its log says (updates, words/s, the validation-loss series);
* :func:`generate_command` / :func:`generate`: fairseq-generate of one model in one direction on one split;
* :func:`interactive_command`: fairseq-interactive with the SentencePiece model (``translate``).
"""
from __future__ import annotations

import logging
import re
import shutil
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mvadl.data import DataError
from mvadl.io import atomic_write_text
from mvadl.runner import ExperimentConfig, option
from nlp_experiments.fairseq_runs import (
    USER_DIR,
    FairseqError,
    device_args,
    fairseq_command,
    run_logged,
    run_to_file,
)
from nlp_experiments.translation.languages import DIRECTIONS, LANGS

logger = logging.getLogger(__name__)

#: What ``train`` echoes of fairseq-train's output (all of it is in ``train.log``).
TRAIN_ECHO = re.compile(r"train_inner|valid on|done training|Loaded checkpoint|Error")


# ------------------------------------------------------------------------------------------- data-bin
def prepare_data_bin(data_dir: str | Path | None, langs: Sequence[str], out_dir: Path, vocab_size: int,
                     max_train_lines: int | None = None, force: bool = False) -> bool:
    """Build ``out_dir`` (dictionary, binarized pairs, ``spm.model``, ``langid.json``, ``raw/``, ``spm/``).

    Built in ``<out_dir>.tmp`` and moved into place, so an interrupted run never leaves a half-made folder.
    ``out_dir/.stamp`` records the settings; with the same settings (and not ``force``) nothing is redone
    and ``False`` is returned.
    """
    from mvadl.data import data_root
    from nlp_experiments.translation.export_multi30k import export

    root = data_root(data_dir)
    if not (root / "multi30k").is_dir():
        raise DataError(f"{root / 'multi30k'}: missing (run scripts/get_data.sh or set DATA_DIR)")
    stamp = (f"langs={','.join(langs)} vocab={vocab_size} max_train_lines={max_train_lines or 'all'} "
             f"data={root.resolve()}")
    if not force and (out_dir / ".stamp").is_file() and (out_dir / ".stamp").read_text().strip() == stamp:
        logger.info("%s is up to date (%s)", out_dir, stamp)
        return False
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        logger.info("exporting text and training SentencePiece (%s)", stamp)
        export(root, list(langs), tmp, vocab_size, max_train_lines)

        # One dictionary over the training pieces of every language.
        all_pieces = tmp / "spm" / "train.all"
        all_pieces.write_text("".join((tmp / "spm" / f"train.{lang}").read_text(encoding="utf-8") for lang in langs),
                              encoding="utf-8")
        log = tmp / "preprocess.log"
        run_logged(fairseq_command("preprocess", "--only-source", "--dict-only", "--trainpref", all_pieces,
                                   "--destdir", tmp / "dict", "--workers", 2), log)
        (tmp / "dict" / "dict.txt").rename(tmp / "dict.txt")
        shutil.rmtree(tmp / "dict")
        all_pieces.unlink()

        # Each unordered pair once; fairseq's multilingual loader reads a-b files for b-a as well.
        for i, src in enumerate(langs):
            for tgt in langs[i + 1:]:
                logger.info("binarizing %s-%s", src, tgt)
                run_logged(fairseq_command(
                    "preprocess", "--source-lang", src, "--target-lang", tgt, "--trainpref", tmp / "spm" / "train",
                    "--validpref", tmp / "spm" / "valid", "--testpref", tmp / "spm" / "test",
                    "--srcdict", tmp / "dict.txt", "--tgtdict", tmp / "dict.txt", "--destdir", tmp, "--workers", 2),
                    log, append=True)
        atomic_write_text(tmp / ".stamp", stamp + "\n")
    except FairseqError:
        raise  # keep <out_dir>.tmp: its preprocess.log, named in the error, says why (the next run starts over)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # nothing half-made stays behind
        raise
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)
    entries = len((out_dir / "dict.txt").read_text(encoding="utf-8").splitlines())
    logger.info("done -> %s (%d dictionary entries)", out_dir, entries)
    return True


def require_data_bin(data_bin: Path, *files: str) -> None:
    """A :class:`DataError` unless ``data_bin`` holds ``files`` (made by scripts/prepare_multi30k.sh)."""
    for name in files:
        if not (data_bin / name).is_file():
            raise DataError(f"{data_bin / name}: missing (run scripts/prepare_multi30k.sh)")


# ------------------------------------------------------------------------------------------- training
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
    # runs stop at a fixed number of updates, so the same command gives the same model on any machine (a
    # wall-clock stop does not). results/nmt/budget.json holds the measurements behind batch size and learning
    # rate: tokens/s is flat from 2,048 to 8,192 tokens per batch, and on the same tokens 2,048-token batches
    # (twice the updates) reach a lower validation loss than 4,096-token ones at any learning rate tried.
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
    """The fairseq-train command of one model trained on ``pairs``."""
    return fairseq_command(
        "train", options.data_bin, "--user-dir", USER_DIR,
        "--task", "mva_multilingual_translation", "--lang-pairs", ",".join(pairs), "--langs", ",".join(LANGS),
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
        "--log-format", "simple", "--log-interval", options.log_interval, "--no-progress-bar", *device_args(device))


def train(options: TrainingOptions, pairs: Sequence[str], save_dir: Path, run_dir: Path, device: Any) -> Path:
    """Run fairseq-train; its whole output goes to ``run_dir/train.log`` (appended to when the run resumes
    from ``save_dir/checkpoint_last.pt``). Returns the log's path."""
    require_data_bin(Path(options.data_bin), "dict.txt")
    resuming = (save_dir / "checkpoint_last.pt").is_file()
    save_dir.mkdir(parents=True, exist_ok=True)
    log = run_dir / "train.log"
    logger.info("%s: %s, lr %g, pairs %s, %d updates, seed %d, %s%s", run_dir.name, options.arch,
                options.lr, ",".join(pairs), options.max_update, options.seed,
                " ".join(device_args(device)) or "gpu", f", resuming from {save_dir}" if resuming else "")
    run_logged(train_command(options, pairs, save_dir, run_dir, device), log, append=resuming, echo=TRAIN_ECHO)
    return log


_NUM_UPDATES = re.compile(r"num_updates[= ]+(\d+)")
_WPS = re.compile(r"\bwps[= ]+([\d.]+)")
_VALID_LINE = re.compile(r"epoch (\d+) \| valid on 'valid' subset \| loss ([\d.]+) .*?\| num_updates (\d+)")
_LOADED = re.compile(r"Loaded checkpoint \S+ \(epoch \d+ @ (\d+) updates\)")


def validation_series(lines: Iterable[str]) -> list[dict]:
    """``[{"epoch", "updates", "valid_loss"}]`` from the ``valid on 'valid' subset`` lines of a fairseq-train log.

    The loss is fairseq's (label-smoothed cross-entropy, base 2); one entry per validation.
    """
    series = []
    for line in lines:
        m = _VALID_LINE.search(line)
        if m:
            series.append({"epoch": int(m.group(1)), "updates": int(m.group(3)), "valid_loss": float(m.group(2))})
    return series


def interval_wps(log: Path) -> list[float]:
    """fairseq's ``wps`` of each ``train_inner`` log interval of a fairseq-train log."""
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    return [float(m.group(1)) for line in lines if "train_inner" in line for m in [_WPS.search(line)] if m]


def training_metrics(log: Path) -> dict:
    """What a fairseq-train log says about its run: ``updates`` (the last ``num_updates``), ``train_wps``
    (words/s of the last end-of-epoch ``| train |`` line, ``None`` before one), ``resumed_from_updates`` (0 for
    a fresh run) and the ``validation`` series. A log without updates is a :class:`DataError`."""
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    updates = [int(m.group(1)) for line in lines for m in [_NUM_UPDATES.search(line)] if m]
    if not updates:
        raise DataError(f"{log}: no 'num_updates' in the fairseq-train log")
    wps = [float(m.group(1)) for line in lines if "| train |" in line for m in [_WPS.search(line)] if m]
    loaded = [int(m.group(1)) for line in lines for m in [_LOADED.search(line)] if m]
    return {"updates": updates[-1], "train_wps": wps[-1] if wps else None,
            "resumed_from_updates": loaded[-1] if loaded else 0, "validation": validation_series(lines)}


# --------------------------------------------------------------------------------------------- records
TRAINING_RECORD = "training.json"


def training_summary(record: dict) -> dict:
    """The training block of the scores file: run settings and cost from a training results record."""
    config = record["config"]
    return {"config": record["metrics"]["model"], "lang_pairs": ",".join(record["metrics"]["lang_pairs"]),
            "arch": config["arch"], "lr": config["lr"], "seed": record["seed"], "max_update": config["max_update"],
            "updates": record["metrics"]["updates"], "wall_time_s": record["wall_time_s"],
            "train_wps": record["metrics"]["train_wps"], "device": record["device"], "quick": config["quick"],
            "git_revision": record["git_revision"], "validation": record["metrics"]["validation"],
            "averaged_updates": record["metrics"]["averaged_updates"]}


def read_training_record(run_dir: Path) -> dict:
    """The training record ``train`` saved in ``run_dir``; missing or not JSON is a :class:`DataError`."""
    import json

    path = run_dir / TRAINING_RECORD
    if not path.is_file():
        raise DataError(f"{path}: no training record (train the model with scripts/train_multilingual.sh "
                        f"{run_dir.name}, or pass --runs-dir)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise DataError(f"{path}: not JSON ({error})") from None


# ------------------------------------------------------------------------------------------- generation
def generate_command(data_bin: Path, checkpoint: Path, direction: str, split: str, beam: int, batch_size: int,
                     device: Any) -> list[str]:
    """fairseq-generate of ``checkpoint`` in ``direction`` (``src-tgt``) on ``split``, SentencePiece removed."""
    src, tgt = direction.split("-")
    return fairseq_command(
        "generate", data_bin, "--user-dir", USER_DIR, "--path", checkpoint,
        "--task", "mva_multilingual_translation", "--lang-pairs", ",".join(DIRECTIONS), "--langs", ",".join(LANGS),
        "--source-lang", src, "--target-lang", tgt, "--encoder-langtok", "src", "--decoder-langtok",
        "--gen-subset", split, "--beam", beam, "--batch-size", batch_size, "--post-process", "sentencepiece",
        "--scoring", "sacrebleu", "--num-workers", 0, *device_args(device))


def generate(command: Sequence[str], output: Path) -> None:
    """Run a fairseq-generate ``command`` into ``output`` (its log beside it, ``<output>.log``)."""
    started = time.perf_counter()
    run_to_file(command, output, output.with_name(output.name + ".log"))
    logger.info("%s (%.0f s)", output, time.perf_counter() - started)


def interactive_command(data_bin: Path, checkpoint: Path, source_lang: str, target_lang: str, beam: int,
                        input_file: Path, device: Any) -> list[str]:
    """fairseq-interactive translating ``input_file`` (one sentence a line) from ``source_lang``."""
    return fairseq_command(
        "interactive", data_bin, "--user-dir", USER_DIR, "--path", checkpoint,
        "--task", "mva_multilingual_translation", "--lang-pairs", f"{source_lang}-{target_lang}",
        "--langs", ",".join(LANGS), "--source-lang", source_lang, "--target-lang", target_lang,
        "--encoder-langtok", "src", "--decoder-langtok", "--bpe", "sentencepiece",
        "--sentencepiece-model", data_bin / "spm.model", "--beam", beam, "--buffer-size", 64, "--batch-size", 64,
        "--input", input_file, *device_args(device))



def pivot_generate(first_pass: Path, checkpoint: Path, data_bin: Path, pivot_lang: str, target_lang: str,
                   beam: int, device: Any, output: Path) -> None:
    """The second pass of pivot translation: the hypotheses of ``first_pass`` (fairseq-generate output in
    ``pivot_lang``) translated into ``target_lang`` by fairseq-interactive with ``checkpoint``. ``output`` gets
    fairseq's ``D-<id>`` lines (id = the sentence's line, as in ``first_pass``); the pivot text is kept beside
    it as ``<output>.pivot.txt``."""
    from nlp_experiments.translation.scoring import read_generate_output

    require_data_bin(data_bin, "spm.model")
    pivot_text = output.with_name(output.name + ".pivot.txt")
    atomic_write_text(pivot_text, "".join(line + "\n" for line in read_generate_output(first_pass)))
    generate(interactive_command(data_bin, checkpoint, pivot_lang, target_lang, beam, pivot_text, device), output)


def translate_sentences(sentences: Sequence[str], target_lang: str, source_lang: str | None, checkpoint: Path,
                        data_bin: Path, beam: int, device: Any) -> list[str]:
    """Translations of ``sentences`` into ``target_lang`` by fairseq-interactive, in input order.

    ``source_lang=None``: the language the identifier in ``data_bin/langid.json`` finds most often.
    """
    import tempfile
    from collections import Counter

    from nlp_experiments.translation.langid import CharNgramLanguageIdentifier
    from nlp_experiments.translation.scoring import detokenized_by_id

    if not checkpoint.is_file():
        raise DataError(f"{checkpoint}: no checkpoint (scripts/train_multilingual.sh MODEL)")
    require_data_bin(data_bin, "spm.model")
    sentences = [s for s in sentences if s.strip()]
    if not sentences:
        return []
    if source_lang is None:
        identifier = CharNgramLanguageIdentifier.load(data_bin / "langid.json")
        source_lang = Counter(identifier.predict_many(sentences)).most_common(1)[0][0]
        logger.info("source language identified as '%s'", source_lang)
    with tempfile.TemporaryDirectory() as tmp:
        input_file = Path(tmp) / "input.txt"
        input_file.write_text("".join(s + "\n" for s in sentences), encoding="utf-8")
        proc = subprocess.run(interactive_command(data_bin, checkpoint, source_lang, target_lang, beam, input_file,
                                                  device), capture_output=True, text=True, encoding="utf-8")
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise FairseqError(f"{checkpoint}: fairseq_cli.interactive failed (exit {proc.returncode}): {last}")
    by_id = detokenized_by_id(proc.stdout)
    return [by_id[i] for i in sorted(by_id)]
