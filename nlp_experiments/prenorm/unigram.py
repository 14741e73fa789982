"""Unigram levels of WikiText-2 for the pre/post-norm study: the loss a model reaches by knowing word frequencies
only, on the training text and on the validation text the study's validation loss is measured on.

    python -m nlp_experiments.prenorm.unigram            # -> results/prenorm/unigram.json

Tokens are those the language models see: each line split on whitespace, plus one end-of-line token ``</s>``
(fairseq-preprocess appends it to every line, empty ones included); WikiText-2's own ``<unk>`` is a token.
With ``c(w)`` the training counts and ``N`` their sum, ``p(w) = c(w) / N`` and

* training entropy ``H_train = -sum_w p(w) log2 p(w)``;
* validation cross-entropy ``H_valid = -(1/|V|) sum_{w in V} log2 p(w)`` over the validation tokens ``V``: the
  validation loss (bits/token) of the unigram model fitted on the training text, comparable with the study's
  validation losses. A validation word never seen in training counts as ``<unk>``, as in fairseq.
"""
from __future__ import annotations

import math
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from mvadl.data.wikitext import wikitext2_path
from mvadl.runner import Context, ExperimentConfig, main, option

END_OF_LINE = "</s>"
UNKNOWN = "<unk>"


def tokens(path: Path, limit: int | None = None) -> list[str]:
    """The file's tokens as the language models see them: whitespace-split words and ``</s>`` after each line."""
    out: list[str] = []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            if limit is not None and i >= limit:
                break
            out.extend(line.split())
            out.append(END_OF_LINE)
    return out


def unigram_levels(train: list[str], valid: list[str]) -> dict:
    """Training entropy and validation cross-entropy (bits/token) of the training-set unigram model."""
    counts = Counter(train)
    total = sum(counts.values())
    entropy = -sum(c / total * math.log2(c / total) for c in counts.values())
    unseen = sum(1 for w in valid if w not in counts)
    if unseen and UNKNOWN not in counts:
        raise ValueError(f"{unseen} validation tokens are not in the training text, which has no {UNKNOWN}")
    cross = -sum(math.log2(counts.get(w, counts.get(UNKNOWN, 0)) / total) for w in valid) / len(valid)
    return {"train_tokens": total, "vocabulary": len(counts), "valid_tokens": len(valid),
            "valid_tokens_unseen_in_train": unseen,
            "train_entropy_bits": entropy, "train_ppl": 2 ** entropy,
            "valid_cross_entropy_bits": cross, "valid_ppl": 2 ** cross}


@dataclass
class UnigramConfig(ExperimentConfig):
    data_dir: str | None = option(None, "data folder holding wikitext-2/{train,valid}.txt (default: $DATA_DIR)")
    line_limit: int | None = option(None, "read only the first N lines of each file (smoke tests)")

    QUICK: ClassVar[dict] = {"line_limit": 2000}


def run(config: UnigramConfig, ctx: Context) -> Path:
    train = tokens(wikitext2_path("train", config.data_dir), config.line_limit)
    valid = tokens(wikitext2_path("valid", config.data_dir), config.line_limit)
    return ctx.record("prenorm", "unigram", unigram_levels(train, valid))


if __name__ == "__main__":
    sys.exit(main(run, UnigramConfig, prog="python -m nlp_experiments.prenorm.unigram", doc=__doc__))
