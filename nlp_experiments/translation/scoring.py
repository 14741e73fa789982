"""Score fairseq-generate outputs: BLEU, chrF and off-target rate per model, direction and split; heat map.

Reads the ``fairseq-generate --post-process sentencepiece`` outputs laid out as
``<generations>/<model>/<split>/<src>-<tgt>.txt`` (:mod:`nlp_experiments.translation.evaluate` writes them),
takes the detokenized hypotheses (``D-`` lines, put back in corpus order by their id) and scores them against
the original sentences ``<references>/<split>.<tgt>`` with sacreBLEU (BLEU 13a and chrF2, cased,
:mod:`~nlp_experiments.translation.metrics`) and with the off-target rate (share of hypotheses that the
language identifier of :mod:`~nlp_experiments.translation.langid` assigns to another language than ``tgt``).

Every input must be there: a missing or malformed generation or reference file is a :class:`DataError` naming
it, never a silently smaller table.
"""
from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

from mvadl.data import DataError
from nlp_experiments.translation.languages import DIRECTIONS, model_label
from nlp_experiments.translation.metrics import METRIC_NAMES, corpus_score

logger = logging.getLogger(__name__)

#: fairseq split name -> key in the results (``None``: the top level of a direction's entry).
SPLITS = {"test": None, "valid": "val"}
_DETOKENIZED = re.compile(r"^D-(\d+)\t[^\t]*\t(.*)$")


def generation_path(generations: str | Path, model: str, split: str, direction: str) -> Path:
    """Where the fairseq-generate output of ``model`` on ``split`` in ``direction`` lives."""
    return Path(generations) / model / split / f"{direction}.txt"


def detokenized_by_id(output: str) -> dict[int, str]:
    """``{id: text}`` of the ``D-<id>\\t<score>\\t<text>`` lines of fairseq-generate/-interactive output."""
    return {int(m.group(1)): m.group(2).strip() for line in output.splitlines()
            for m in [_DETOKENIZED.match(line)] if m}


def read_generate_output(path: str | Path) -> list[str]:
    """Detokenized hypotheses (``D-<id>\\t<score>\\t<text>`` lines) of a fairseq-generate log, in id order."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no fairseq-generate output (run the evaluation's generation step)")
    by_id = detokenized_by_id(path.read_text(encoding="utf-8"))
    if not by_id:
        raise DataError(f"{path}: no 'D-' lines (was fairseq-generate run with --post-process sentencepiece?)")
    missing = sorted(set(range(len(by_id))) - set(by_id))
    if missing or max(by_id) != len(by_id) - 1:
        raise DataError(f"{path}: hypothesis ids are not 0..{len(by_id) - 1} (first missing: {missing[:5]})")
    return [by_id[i] for i in range(len(by_id))]


def read_references(references: str | Path, split: str, lang: str) -> list[str]:
    path = Path(references) / f"{split}.{lang}"
    if not path.is_file():
        raise DataError(f"{path}: reference sentences not found (written by scripts/prepare_multi30k.sh)")
    return path.read_text(encoding="utf-8").splitlines()


def score_direction(hypotheses: Sequence[str], references: Sequence[str], target_lang: str,
                    identifier=None) -> dict:
    """sacreBLEU BLEU and chrF of ``hypotheses`` against ``references``, the off-target rate, and the share of
    the hypotheses identified as each language (``output_languages``: which language the off-target ones are);
    every number to 4 decimals (a report rounds once, from these)."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    scores: dict = {name: round(corpus_score(name, hypotheses, references), 4) for name in METRIC_NAMES}
    if identifier is not None:
        predicted = identifier.predict_many(list(hypotheses))
        counts = Counter(predicted)
        scores["off_target"] = round(identifier.off_target_rate(hypotheses, target_lang), 4)
        scores["output_languages"] = {lang: round(counts[lang] / max(len(hypotheses), 1), 4)
                                      for lang in identifier.languages}
    return scores


def score_models(generations: Path, references: Path, directions: Mapping[str, Sequence[str]],
                 identifier=None, splits: Sequence[str] = tuple(SPLITS)) -> dict[str, dict[str, dict]]:
    """``{model: {direction: {bleu, chrf, off_target, output_languages, val: {...}}}}`` for every model and
    direction of ``directions`` (``{model: [direction, ...]}``) and every split of ``splits``."""
    scores: dict[str, dict[str, dict]] = {}
    for model, model_directions in directions.items():
        scores[model] = {}
        for direction in model_directions:
            target_lang = direction.split("-")[1]
            entry: dict = {}
            for split in splits:
                path = generation_path(generations, model, split, direction)
                hypotheses = read_generate_output(path)
                refs = read_references(references, split, target_lang)
                if len(hypotheses) != len(refs):
                    raise DataError(f"{path}: {len(hypotheses)} hypotheses for the {len(refs)} sentences of "
                                    f"{Path(references) / f'{split}.{target_lang}'}")
                result = score_direction(hypotheses, refs, target_lang, identifier)
                key = SPLITS.get(split, split)
                if key is None:
                    entry.update(result)
                else:
                    entry[key] = result
            scores[model][direction] = entry
            logger.info("%s %s: %s", model, direction, {k: v for k, v in entry.items() if k in METRIC_NAMES})
    return scores


def plot_scores(scores: Mapping[str, Mapping[str, Mapping]], metrics: Sequence[str] = ("bleu", "off_target"),
                directions: Sequence[str] = DIRECTIONS):
    """Heat maps (directions x models), one panel per metric, each cell annotated; returns the Figure."""
    import numpy as np

    from mvadl.plotting import new_figure

    models = list(scores)
    titles = {"bleu": "BLEU (test 2016 flickr)", "chrf": "chrF (test 2016 flickr)",
              "off_target": "off-target rate (share of outputs)"}
    width = max(3.6, 1.0 * len(models) + 2.4)
    fig, axes = new_figure(1, len(metrics), size=(width * len(metrics), 0.5 * len(directions) + 1.6),
                           layout="constrained")
    axes = np.atleast_1d(axes)
    for ax, metric in zip(axes, metrics):
        values = np.array([[scores[m].get(d, {}).get(metric, np.nan) for m in models] for d in directions], float)
        vmax = 1.0 if metric == "off_target" else 100.0
        image = ax.imshow(values, cmap="magma_r" if metric == "off_target" else "viridis", vmin=0, vmax=vmax,
                          aspect="auto")
        ax.set_xticks(range(len(models)), [model_label(m) for m in models])
        ax.set_yticks(range(len(directions)), directions)
        ax.set_xlabel("model")
        if ax is axes[0]:
            ax.set_ylabel("direction (source-target)")
        ax.set_title(titles.get(metric, metric))
        ax.grid(False)
        for (i, j), value in np.ndenumerate(values):
            text = "n/a" if np.isnan(value) else (f"{value:.2f}" if metric == "off_target" else f"{value:.1f}")
            dark = not np.isnan(value) and (value / vmax > 0.55 if metric == "off_target" else value / vmax < 0.45)
            ax.text(j, i, text, ha="center", va="center", color="white" if dark else "black", fontsize=9)
        fig.colorbar(image, ax=ax)
    return fig


def plot_validation(training: Mapping[str, Mapping]):
    """Validation loss against updates of each trained model (``training``: the scores file's training block,
    ``{model: {"validation": [{"updates", "valid_loss"}], "averaged_updates": [...]}}``), the averaged
    checkpoints marked; returns the Figure."""
    from mvadl.plotting import new_figure

    fig, ax = new_figure(size=(6.0, 3.8), layout="constrained")
    for model, run in training.items():
        points = sorted((v["updates"], v["valid_loss"]) for v in run["validation"])
        line, = ax.plot([u for u, _ in points], [v for _, v in points], marker="o", markersize=3,
                        label=model_label(model).replace("\n", " "))
        averaged = set(run["averaged_updates"])
        ax.plot([u for u, _ in points if u in averaged], [v for u, v in points if u in averaged], "o",
                markersize=7, markerfacecolor="none", color=line.get_color())
    ax.set_xlabel("updates")
    ax.set_ylabel("validation loss (label-smoothed, base 2)")
    ax.set_title("Validation loss (open circles: the averaged checkpoints)")
    ax.legend(fontsize=8)
    return fig
