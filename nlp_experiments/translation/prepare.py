"""Prepare Multi30k for multilingual translation: one SentencePiece model, one fairseq dictionary, every pair
binarized with it (so all languages share one vocabulary).

    python -m nlp_experiments.translation.prepare                 # en,de,fr, 8000 pieces -> data-bin/multi30k (~1 min)
    python -m nlp_experiments.translation.prepare --quick         # first 2000 training lines, 1000 pieces (tests)
    python -m nlp_experiments.translation.prepare --langs en de fr --vocab-size 8000 --out-dir data-bin/multi30k

(``bash scripts/prepare_multi30k.sh`` runs this with the same options.) Reads the raw captions of
``$DATA_DIR/multi30k`` through the project's data layer (alignment and empty lines checked), trains ONE joint
SentencePiece model over the training text of all languages, encodes every split, builds ONE fairseq dictionary
from all languages' training pieces and binarizes every language pair with it (``--srcdict``/``--tgtdict``).
Output: OUT_DIR/{dict.txt, dict.<lang>.txt, {train,valid,test}.<a>-<b>.<lang>.{bin,idx}, spm.model, langid.json,
raw/, spm/} and OUT_DIR/.stamp; a second run with the same options does nothing (--force redoes it).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from mvadl.runner import Context, ExperimentConfig, main, option
from nlp_experiments.translation.data_bin import QUICK_FOLDERS, prepare_data_bin
from nlp_experiments.translation.export_multi30k import parse_langs
from nlp_experiments.translation.languages import LANGS


@dataclass
class PrepareConfig(ExperimentConfig):
    """Export, SentencePiece and fairseq-preprocess of Multi30k."""

    data_dir: str | None = option(None, "root folder of the datasets (None: $DATA_DIR, else ./data); it holds "
                                        "multi30k/ as written by scripts/get_data.sh")
    langs: list[str] = option(list(LANGS), "languages, in the order fairseq gets them (stored with the data as "
                                           "languages.txt)")
    vocab_size: int = option(8000, "SentencePiece vocabulary size")
    out_dir: str = option("data-bin/multi30k", "output folder")
    max_train_lines: int | None = option(None, "use only the first N training lines (None: all)")
    force: bool = option(False, "redo the output even if its .stamp says it is up to date")
    QUICK: ClassVar[dict] = {"max_train_lines": 2000, "vocab_size": 1000, "out_dir": QUICK_FOLDERS["data_bin"]}


def run(config: PrepareConfig, ctx: Context) -> None:
    prepare_data_bin(config.data_dir, parse_langs(",".join(config.langs)), Path(config.out_dir), config.vocab_size,
                     config.max_train_lines, force=config.force)


if __name__ == "__main__":
    sys.exit(main(run, PrepareConfig, prog="python -m nlp_experiments.translation.prepare", doc=__doc__))
