"""Translate sentences into a chosen language with a trained multilingual model (fairseq-interactive with this
project's plugin and the SentencePiece model of prepare).

    python -m nlp_experiments.translation.translate --to fr "Ein Hund rennt über die Wiese."   # source identified
    echo "A dog runs." | python -m nlp_experiments.translation.translate --from en --to de --model zeroshot

(``bash scripts/translate.sh ...`` runs this with the same options.) The sentences are the bare words of the
command line (or --text), else standard input, one a line; the source language, unless --from is given, is
the one the language identifier (data-bin's langid.json) finds most often among them. Prints one translation
per input sentence.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from mvadl.runner import Context, ExperimentConfig, main, option
from nlp_experiments.translation.commandline import bare_words_as
from nlp_experiments.translation.fairseq_runs import translate_sentences
from nlp_experiments.translation.languages import LANGS


@dataclass
class TranslateConfig(ExperimentConfig):
    """Translate sentences with fairseq-interactive."""

    to: str | None = option(None, "target language (required)", choices=list(LANGS))
    from_lang: str | None = option(None, "source language, also --from (none: identified by the language "
                                         "identifier)", choices=list(LANGS))
    model: str = option("direct", "model: checkpoints/nmt/MODEL/checkpoint_best.pt")
    checkpoint: str | None = option(None, "checkpoint file (overrides --model)")
    data_bin: str = option("data-bin/multi30k", "binarized data with spm.model and langid.json")
    beam: int = option(5, "beam size")
    text: list[str] = option([], "sentences to translate (also the bare words; none: standard input)")

    def __post_init__(self):
        if self.to is None:
            raise ValueError(f"--to LANG is required (one of {', '.join(LANGS)})")


def run(config: TranslateConfig, ctx: Context) -> None:
    sentences = config.text or [line.rstrip("\n") for line in sys.stdin]
    checkpoint = Path(config.checkpoint or f"checkpoints/nmt/{config.model}/checkpoint_best.pt")
    for translation in translate_sentences(sentences, config.to, config.from_lang, checkpoint,
                                           Path(config.data_bin), config.beam, ctx.device):
        print(translation)


if __name__ == "__main__":
    sys.exit(main(run, TranslateConfig, bare_words_as("--text", TranslateConfig, sys.argv[1:]),
                  prog="python -m nlp_experiments.translation.translate", doc=__doc__))
