"""Example translations for section 3: a few test sentences translated from German into French by the
English-centric model directly (zero-shot), by the same model through English (pivot), and by the model trained
with de-fr data, each output with the language the identifier finds in it.

    python -m nlp_experiments.translation.examples                # results/nmt/examples.json
    python -m nlp_experiments.translation.examples --count 2 --updates 3200

Input: the kept system outputs (``results/nmt/hyps/SYSTEM/UPDATES/test/de-fr.txt.gz``, written by
:mod:`~nlp_experiments.translation.curves`), the source and reference sentences of test_2016_flickr and the
language identifier (``DATA_BIN/raw/test.{de,fr}``, ``DATA_BIN/langid.json``, written by prepare). A fresh clone
has the outputs but not the sentences, so the record keeps source and reference beside each output.

The sentences are chosen by a stated rule, not by eye: in corpus order, the first ``--count`` test sentences
whose zero-shot output the identifier does not find to be French while it finds both the pivot's and the de-fr
model's outputs French (the typical zero-shot failure: a fluent answer in the wrong language).
"""
from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from mvadl.data import DataError
from mvadl.results import results_dir
from mvadl.runner import NO_SEED, Context, ExperimentConfig, main, option
from nlp_experiments.translation.curves import hypotheses_path, read_hypotheses
from nlp_experiments.translation.data_bin import QUICK_FOLDERS, require_data_bin
from nlp_experiments.translation.langid import CharNgramLanguageIdentifier
from nlp_experiments.translation.languages import pivot_name
from nlp_experiments.translation.scoring import read_references

logger = logging.getLogger(__name__)

SOURCE, TARGET = "de", "fr"
#: The three systems shown, in the order of the record: what each is, in words.
SYSTEMS = {"zeroshot": "English-centric model, zero-shot", pivot_name("zeroshot"): "English-centric model, "
           "through English", "direct": "model trained with de-fr data"}
RULE = ("in corpus order, the first test sentences whose zero-shot output is not identified as French while the "
        "outputs through English and of the model with de-fr data both are")


@dataclass
class ExamplesConfig(ExperimentConfig):
    """Pick example de->fr translations by a stated rule and record them with source and reference."""

    count: int = option(3, "number of example sentences")
    updates: int = option(6400, "the update count of the outputs (a point of the learning curves)")
    data_bin: str = option("data-bin/multi30k", "prepared data: raw/test.de, raw/test.fr and langid.json")
    hyps: str | None = option(None, "the system outputs (none: results/nmt/hyps)")
    QUICK: ClassVar[dict] = {"count": 1, "data_bin": QUICK_FOLDERS["data_bin"]}

    def __post_init__(self):
        if self.count < 1:
            raise ValueError(f"--count must be at least 1, got {self.count}")


def choose(outputs: dict[str, list[str]], languages: dict[str, list[str]], count: int) -> list[int]:
    """The line indices :data:`RULE` picks (``outputs``/``languages``: per system, one entry a sentence)."""
    picked = []
    for i, zero_shot_language in enumerate(languages["zeroshot"]):
        others = [languages[system][i] for system in SYSTEMS if system != "zeroshot"]
        if zero_shot_language != TARGET and all(lang == TARGET for lang in others):
            picked.append(i)
            if len(picked) == count:
                break
    return picked


def run(config: ExamplesConfig, ctx: Context) -> Path:
    data_bin = Path(config.data_bin)
    require_data_bin(data_bin, "langid.json", f"raw/test.{SOURCE}", f"raw/test.{TARGET}")
    root = Path(config.hyps) if config.hyps else results_dir() / "nmt" / "hyps"
    sources = read_references(data_bin / "raw", "test", SOURCE)
    references = read_references(data_bin / "raw", "test", TARGET)
    outputs = {system: read_hypotheses(hypotheses_path(root, system, config.updates, "test", f"{SOURCE}-{TARGET}"))
               for system in SYSTEMS}
    for system, lines in outputs.items():
        if len(lines) != len(references):
            raise DataError(f"{hypotheses_path(root, system, config.updates, 'test', f'{SOURCE}-{TARGET}')}: "
                            f"{len(lines)} lines for {len(references)} references")
    identifier = CharNgramLanguageIdentifier.load(data_bin / "langid.json")
    languages = {system: identifier.predict_many(lines) for system, lines in outputs.items()}
    picked = choose(outputs, languages, config.count)
    if len(picked) < config.count:
        raise DataError(f"only {len(picked)} of the {len(references)} test sentences fit the rule ({RULE})")
    examples = [{"line": i + 1, "source": sources[i], "reference": references[i],
                 "outputs": {system: {"text": outputs[system][i], "language": languages[system][i]}
                             for system in SYSTEMS}}
                for i in picked]
    off_target = sum(lang != TARGET for lang in languages["zeroshot"])
    logger.info("lines %s of %d; zero-shot off target on %d", [i + 1 for i in picked], len(references), off_target)
    return ctx.record("nmt", "examples", {
        "direction": f"{SOURCE}-{TARGET}", "split": "test_2016_flickr", "updates": config.updates,
        "systems": SYSTEMS, "rule": RULE, "sentences": len(references),
        "zero_shot_off_target": off_target, "examples": examples}, seed=NO_SEED)


if __name__ == "__main__":
    sys.exit(main(run, ExamplesConfig, prog="python -m nlp_experiments.translation.examples", doc=__doc__))
