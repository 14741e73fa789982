"""fairseq-generate and fairseq-interactive with a trained translation model (subprocesses with this project's
plugin), with the languages of the data folder checked against the model's.

* :func:`model_languages` / :func:`check_languages`: the languages a checkpoint was trained with (its
  ``--langs``), which must be those of the data folder (prepared data-bin or shipped folder), in the same order:
  the language tokens' indices depend on it;
* :func:`generate_command` / :func:`generate`: fairseq-generate of one model in one direction on one split;
* :func:`interactive_command` / :func:`translate_sentences`: fairseq-interactive with the SentencePiece model
  (``translate``); :func:`pivot_generate`: the second pass of translation through English.
"""
from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mvadl.data import DataError
from mvadl.io import atomic_write_text
from nlp_experiments.fairseq_runs import USER_DIR, FairseqError, device_args, fairseq_command, run_to_file
from nlp_experiments.translation.artifacts import read_languages
from nlp_experiments.translation.data_bin import require_data_bin

logger = logging.getLogger(__name__)


def model_languages(checkpoint: Path) -> tuple[str, ...]:
    """The ``--langs`` a fairseq checkpoint was trained with (its task config)."""
    from nlp_experiments.translation.averaging import load_checkpoint

    cfg = load_checkpoint(checkpoint)["cfg"]
    task = cfg["task"] if isinstance(cfg["task"], dict) else vars(cfg["task"])
    langs = task.get("langs")
    return tuple(langs.split(",") if isinstance(langs, str) else langs or ())


def check_languages(checkpoint: Path, data: Path) -> tuple[str, ...]:
    """The languages of ``data`` (:func:`~nlp_experiments.translation.artifacts.read_languages`), once they are
    known to be the model's; a mismatch is one line naming both lists."""
    languages = read_languages(data)
    trained = model_languages(checkpoint)
    if trained != languages:
        raise DataError(f"{checkpoint}: trained with languages {','.join(trained) or '(none recorded)'}, but "
                        f"{data} has {','.join(languages)} (use the data folder the model was trained on)")
    return languages


def directions_between(languages: Sequence[str]) -> list[str]:
    """Every ``src-tgt`` between two different languages of ``languages``."""
    return [f"{src}-{tgt}" for src in languages for tgt in languages if src != tgt]


def generate_command(data_bin: Path, checkpoint: Path, direction: str, split: str, beam: int, batch_size: int,
                     device: Any) -> list[str]:
    """fairseq-generate of ``checkpoint`` in ``direction`` (``src-tgt``) on ``split``, SentencePiece removed;
    the languages are those of ``data_bin``, checked against the model's (:func:`check_languages`)."""
    src, tgt = direction.split("-")
    languages = check_languages(checkpoint, data_bin)
    if src not in languages or tgt not in languages:
        raise DataError(f"{direction}: not a direction of the model's languages ({','.join(languages)})")
    return fairseq_command(
        "generate", data_bin, "--user-dir", USER_DIR, "--path", checkpoint, "--task", "mva_multilingual_translation",
        "--lang-pairs", ",".join(directions_between(languages)), "--langs", ",".join(languages),
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
    """fairseq-interactive translating ``input_file`` (one sentence a line) from ``source_lang``; the languages
    are those of ``data_bin``, checked against the model's (:func:`check_languages`)."""
    return fairseq_command(
        "interactive", data_bin, "--user-dir", USER_DIR, "--path", checkpoint,
        "--task", "mva_multilingual_translation", "--lang-pairs", f"{source_lang}-{target_lang}",
        "--langs", ",".join(check_languages(checkpoint, data_bin)), "--source-lang", source_lang,
        "--target-lang", target_lang,
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

    ``source_lang=None``: the language the identifier in ``data_bin/langid.json`` finds most often. Either
    language must be one of the model's (``data_bin/languages.txt``): else a :class:`DataError` naming them.
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
    languages = check_languages(checkpoint, data_bin)
    for role, lang in (("source", source_lang), ("target", target_lang)):
        if lang not in languages:
            raise DataError(f"{role} language '{lang}' is not one of the model's: {', '.join(languages)}")
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
