"""Score every model on every translation direction and write ``results/nmt/scores.json`` and ``scores.png``.

    python -m fairseq_ext.evaluation.score_directions --generations runs/nmt/generate \\
        --references data-bin/multi30k/raw --langid data-bin/multi30k/langid.json --models zeroshot,direct

Reads the ``fairseq-generate --post-process sentencepiece`` outputs laid out as
``<generations>/<model>/<split>/<src>-<tgt>.txt`` (``scripts/evaluate_multilingual.sh`` writes them), takes
the detokenized hypotheses (``D-`` lines, put back in corpus order by their id) and scores them against the
original sentences ``<references>/<split>.<tgt>`` with sacreBLEU (BLEU 13a and chrF2, cased, signatures
kept) and with the off-target rate (share of hypotheses that the character n-gram identifier of
:mod:`fairseq_ext.langid` assigns to another language than ``tgt``).

The results file holds, for each model, ``{"en-de": {"bleu", "chrf", "off_target", "val": {...}}, ...}``
(top level: test_2016_flickr, ``val``: the validation split), plus ``signatures`` and ``training`` (updates,
wall time, device of each model, from the ``meta.json`` that ``scripts/train_multilingual.sh`` writes, and the
validation-loss series of the run read from its ``train.log``, so the learning curves quoted in the report
are committed with the scores).
"""
from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Mapping, Sequence

from fairseq_ext.evaluation.translation_metrics import METRIC_NAMES, sacrebleu_metric, signature
from mvadl.cli import run_cli

logger = logging.getLogger(__name__)

DIRECTIONS = ("en-de", "de-en", "en-fr", "fr-en", "de-fr", "fr-de")
#: fairseq split name -> name in the results file (``None``: the top level).
SPLITS = {"test": None, "valid": "val"}
_DETOKENIZED = re.compile(r"^D-(\d+)\t[^\t]*\t(.*)$")


def read_generate_output(path: str | Path) -> list[str]:
    """Detokenized hypotheses (``D-<id>\\t<score>\\t<text>`` lines) of a fairseq-generate log, in id order."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no fairseq-generate output {path}")
    by_id = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _DETOKENIZED.match(line)
        if match:
            by_id[int(match.group(1))] = match.group(2).strip()
    if not by_id:
        raise ValueError(f"{path}: no 'D-' lines (was fairseq-generate run with --post-process sentencepiece?)")
    missing = sorted(set(range(len(by_id))) - set(by_id))
    if missing or max(by_id) != len(by_id) - 1:
        raise ValueError(f"{path}: hypothesis ids are not 0..{len(by_id) - 1} (first missing: {missing[:5]})")
    return [by_id[i] for i in range(len(by_id))]


def score_direction(hypotheses: Sequence[str], references: Sequence[str], target_lang: str,
                    identifier=None) -> dict[str, float]:
    """sacreBLEU BLEU and chrF of ``hypotheses`` against ``references``, the off-target rate, and the share of
    the hypotheses identified as each language (``output_languages``: which language the off-target ones are)."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    scores = {name: round(float(sacrebleu_metric(name).corpus_score(list(hypotheses), [list(references)]).score), 2)
              for name in METRIC_NAMES}
    if identifier is not None:
        scores["off_target"] = round(identifier.off_target_rate(hypotheses, target_lang), 4)
        predicted = Counter(identifier.predict(h) for h in hypotheses)
        scores["output_languages"] = {lang: round(predicted[lang] / max(len(hypotheses), 1), 4)
                                      for lang in identifier.languages}
    return scores


def score_models(generations: Path, references: Path, models: Sequence[str], directions: Sequence[str],
                 identifier=None) -> dict[str, dict[str, dict]]:
    """``{model: {direction: {bleu, chrf, off_target, val: {...}}}}`` from the generate outputs."""
    scores: dict[str, dict[str, dict]] = {}
    for model in models:
        scores[model] = {}
        for direction in directions:
            target_lang = direction.split("-")[1]
            entry: dict = {}
            for split, key in SPLITS.items():
                output = generations / model / split / f"{direction}.txt"
                if not output.is_file():
                    logger.warning("missing %s: %s %s not scored", output, model, direction)
                    continue
                reference_file = references / f"{split}.{target_lang}"
                refs = reference_file.read_text(encoding="utf-8").splitlines()
                result = score_direction(read_generate_output(output), refs, target_lang, identifier)
                if key is None:
                    entry.update(result)
                else:
                    entry[key] = result
            scores[model][direction] = entry
            logger.info("%s %s: %s", model, direction, entry)
    return scores


def plot_scores(scores: Mapping[str, Mapping[str, Mapping]], metrics: Sequence[str] = ("bleu", "off_target"),
                directions: Sequence[str] = DIRECTIONS):
    """Heat maps (directions x models), one panel per metric, each cell annotated; returns the Figure."""
    import numpy as np

    from mvadl.plotting import new_figure

    models = list(scores)
    titles = {"bleu": "BLEU (test 2016 flickr)", "chrf": "chrF (test 2016 flickr)",
              "off_target": "off-target rate (share of outputs)"}
    width = max(3.6, 1.2 * len(models) + 2.6)
    fig, axes = new_figure(1, len(metrics), size=(width * len(metrics), 0.5 * len(directions) + 1.6),
                           layout="constrained")
    axes = np.atleast_1d(axes)
    for ax, metric in zip(axes, metrics):
        values = np.array([[scores[m].get(d, {}).get(metric, np.nan) for m in models] for d in directions], float)
        vmax = 1.0 if metric == "off_target" else 100.0
        image = ax.imshow(values, cmap="magma_r" if metric == "off_target" else "viridis", vmin=0, vmax=vmax,
                          aspect="auto")
        ax.set_xticks(range(len(models)), models)
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


_VALID_LINE = re.compile(r"epoch (\d+) \| valid on 'valid' subset \| loss ([\d.]+) .*?\| num_updates (\d+)")


def validation_series(train_log: str | Path) -> list[dict]:
    """``[{"epoch", "updates", "valid_loss"}]`` from the ``valid on 'valid' subset`` lines of a fairseq-train log.

    The loss is fairseq's (label-smoothed cross-entropy, base 2); one entry per validation.
    """
    series = []
    for line in Path(train_log).read_text(encoding="utf-8", errors="replace").splitlines():
        m = _VALID_LINE.search(line)
        if m:
            series.append({"epoch": int(m.group(1)), "updates": int(m.group(3)), "valid_loss": float(m.group(2))})
    return series


def read_training_meta(runs: Path, models: Sequence[str]) -> dict[str, dict]:
    """``meta.json`` of each model's training run (updates, wall time, device) plus its validation series.

    ``{}`` for a model trained elsewhere (no run folder); a run folder without ``meta.json`` is an error.
    """
    meta = {}
    for model in models:
        folder = runs / model
        if not folder.is_dir():
            meta[model] = {}
            continue
        path = folder / "meta.json"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: missing (the training run did not finish?)")
        meta[model] = json.loads(path.read_text(encoding="utf-8"))
        log = folder / "train.log"
        if log.is_file():
            meta[model]["validation"] = validation_series(log)
    return meta


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generations", type=Path, default=Path("runs/nmt/generate"),
                        help="folder of <model>/<split>/<src>-<tgt>.txt fairseq-generate outputs")
    parser.add_argument("--references", type=Path, default=Path("data-bin/multi30k/raw"),
                        help="folder of the original sentences <split>.<lang> (default: data-bin/multi30k/raw)")
    parser.add_argument("--langid", type=Path, default=Path("data-bin/multi30k/langid.json"),
                        help="language identifier profiles (default: data-bin/multi30k/langid.json)")
    parser.add_argument("--models", default="zeroshot,direct", help="comma-separated model names")
    parser.add_argument("--directions", default=",".join(DIRECTIONS), help="comma-separated directions")
    parser.add_argument("--runs", type=Path, default=Path("runs/nmt"),
                        help="training runs folder holding <model>/meta.json (default: runs/nmt)")
    parser.add_argument("--name", default="scores", help="results/nmt/<name>.json and .png (default: scores)")
    parser.add_argument("--beam", type=int, default=None, help="beam size used for generation (recorded only)")
    return parser.parse_args(argv)


def main(args: argparse.Namespace) -> int:
    from fairseq_ext.langid import CharNgramLanguageIdentifier
    from mvadl.cli import setup_logging
    from mvadl.plotting import save_figure
    from mvadl.results import results_dir, write_results

    setup_logging()
    start = time.time()
    models = [m for m in args.models.split(",") if m]
    directions = [d for d in args.directions.split(",") if d]
    identifier = CharNgramLanguageIdentifier.load(args.langid)
    scores = score_models(args.generations, args.references, models, directions, identifier)
    training = read_training_meta(args.runs, models)
    metrics = {**scores, "signatures": {name: signature(name) for name in METRIC_NAMES}, "training": training}
    devices = sorted({m.get("device") for m in training.values() if m.get("device")})
    path = write_results("nmt", args.name, metrics=metrics, seed=next(
        (m.get("seed") for m in training.values() if m.get("seed") is not None), None),
        wall_time_s=time.time() - start, device=", ".join(devices) or None,
        config={"models": models, "directions": directions, "test_split": "test_2016_flickr", "val_split": "val",
                "beam": args.beam, "generations": str(args.generations), "references": str(args.references)})
    save_figure(plot_scores(scores, directions=directions), results_dir() / "nmt" / f"{args.name}.png")
    logger.info("wrote %s and %s.png", path, path.with_suffix(""))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, parse_args))
