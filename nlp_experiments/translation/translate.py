"""Translate sentences into a chosen language with a multilingual model (fairseq-interactive with this
project's plugin and the SentencePiece model of prepare): by default the shipped model
(``artifacts/nmt_direct/v3``: all six directions between en, de and fr; no training or data needed), checked
against its SHA256SUMS and the sha256 of its weights pinned in
:data:`~nlp_experiments.translation.artifacts.SHIPPED_MODELS` before it is loaded.

    python -m nlp_experiments.translation.translate --to fr "Ein Hund rennt über die Wiese."   # source identified
    python -m nlp_experiments.translation.translate --to de < sentences.en.txt   # many lines, one process
    echo "A dog runs." | python -m nlp_experiments.translation.translate --from en --to de --model zeroshot

(``bash scripts/translate.sh ...`` runs this with the same options.) The sentences are the bare words of the
command line, else standard input, one a line, all translated by one fairseq-interactive process;
the source language, unless --from is given, is the one the language identifier (langid.json) finds most often
among them. Prints one translation per input sentence. --model MODEL uses a model you trained
(checkpoints/nmt/MODEL/checkpoint_best.pt with data-bin/multi30k). --to and --from take any language of the
model (the list stored with it, languages.txt). Another folder (--shipped) is checked the same way: against
its SHA256SUMS, and, when it is the folder of another model of SHIPPED_MODELS, against that model's pin.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import tyro
from tyro.conf import Positional

from mvadl import REPO_ROOT
from mvadl.runner import REQUIRED, Context, ExperimentConfig, main, option
from nlp_experiments.translation.artifacts import (
    SHIPPED_MODELS,
    WEIGHTS,
    pinned_sha256,
    shipped_dir,
    verify_shipped,
)
from nlp_experiments.translation.generation import translate_sentences
from nlp_experiments.translation.languages import ModelName

#: The model translate uses unless told otherwise (its pin is SHIPPED_MODELS[DEFAULT_MODEL].sha256).
DEFAULT_MODEL = "direct"
DEFAULT_SHIPPED = shipped_dir(DEFAULT_MODEL, SHIPPED_MODELS[DEFAULT_MODEL].version).relative_to(REPO_ROOT)


@dataclass
class TranslateConfig(ExperimentConfig):
    """Translate sentences with fairseq-interactive."""

    to: str = option(REQUIRED, "target language (one of the model's languages)")
    from_lang: Annotated[str | None, tyro.conf.arg(aliases=("--from",))] = option(
        None, "source language (None: the one the language identifier finds)")
    shipped: str = option(str(DEFAULT_SHIPPED), "shipped model folder (model.pt, dict.txt, spm.model, "
                                                "langid.json), used unless --model or --checkpoint is given")
    model: ModelName | None = option(None, "a trained model instead: checkpoints/nmt/MODEL/checkpoint_best.pt")
    checkpoint: str | None = option(None, "a checkpoint file instead (with --data-bin)")
    data_bin: str | None = option(None, "folder with dict.txt, spm.model and langid.json (None: the shipped "
                                        "folder, or data-bin/multi30k with --model/--checkpoint)")
    beam: int = option(5, "beam size")
    text: Positional[list[str]] = option([], "sentences to translate, the bare words (without any: standard input)")

    def __post_init__(self):
        if self.from_lang is not None and self.from_lang == self.to:
            raise ValueError(f"--from and --to are both '{self.to}'")

    def checkpoint_and_data(self) -> tuple[Path, Path]:
        """The checkpoint to load and the folder of its dictionary, SentencePiece model and language identifier."""
        if self.checkpoint or self.model:
            checkpoint = Path(self.checkpoint or f"checkpoints/nmt/{self.model}/checkpoint_best.pt")
            return checkpoint, Path(self.data_bin or "data-bin/multi30k")
        shipped = REPO_ROOT / self.shipped if self.shipped == str(DEFAULT_SHIPPED) else Path(self.shipped)
        return shipped / WEIGHTS, Path(self.data_bin) if self.data_bin else shipped

    def verified(self) -> tuple[Path, Path]:
        """:meth:`checkpoint_and_data`, a shipped folder first checked against its SHA256SUMS, and a folder of
        SHIPPED_MODELS (the default one among them) also against the pinned sha256 of its weights."""
        checkpoint, data = self.checkpoint_and_data()
        if not (self.checkpoint or self.model):
            verify_shipped(checkpoint.parent, pinned_sha256(checkpoint.parent))
        return checkpoint, data


def run(config: TranslateConfig, ctx: Context) -> None:
    sentences = config.text or [line.rstrip("\n") for line in sys.stdin]
    checkpoint, data = config.verified()
    for translation in translate_sentences(sentences, config.to, config.from_lang, checkpoint, data, config.beam,
                                           ctx.device):
        print(translation)


if __name__ == "__main__":
    sys.exit(main(run, TranslateConfig, prog="python -m nlp_experiments.translation.translate", doc=__doc__))
