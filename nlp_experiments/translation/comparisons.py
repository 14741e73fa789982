"""The comparisons that section 3 of the report makes, each with sacreBLEU's paired bootstrap, at every point of
the learning curves; the curves themselves, scored from the kept system outputs.

    python -m nlp_experiments.translation.comparisons          # results/nmt/{curves,comparisons}.json + figures

Input: the system outputs that :mod:`~nlp_experiments.translation.curves` keeps,
``results/nmt/hyps/SYSTEM/UPDATES/SPLIT/SRC-TGT.txt.gz`` (the committed outputs, so every score and test can be
recomputed without a checkpoint), and the references of prepare (``DATA_BIN/raw``). Output:

* ``curves.json``: BLEU, chrF and off-target rate of every system at every point, split and direction
  (``scores``) and what the report reads beside them (:func:`curves_summary`): the systems and data sets in
  words (``system_names``, ``data_set_names``), whether the curves still rise (``rising``) and the best
  zero-shot BLEU of every run (``zero_shot``);
* ``comparisons.json``: for every comparison below, at every point where both systems exist, the difference
  of BLEU and of chrF on test_2016_flickr, its 95 % interval and p (:func:`mvadl.verdicts.paired_bootstrap`,
  1,000 resamples, the record's ``seed`` seeds the resampling), the Holm-adjusted ``p_holm`` within its
  family (:func:`holm_families`) and the verdict (:attr:`mvadl.verdicts.Comparison.verdict`, on ``p_holm``);
  and beside them (:func:`comparisons_summary`) how far two training seeds land apart (``seed_spread``) and,
  per other training seed, its runs and where its verdicts differ from the reference seed's (``other_seeds``);
* ``curves.png`` (BLEU against updates, one panel a direction), ``curves_compute.png`` (the same against
  updates per language pair, the equal-compute view) and ``gaps.png`` (each gap with its interval).

The comparisons (:func:`planned_comparisons`): each multilingual model against the bilingual model of the
same direction at the same updates (``multilingual_vs_bilingual``) and ``zeroshot`` at 2N updates against a
bilingual model at N (``equal_compute``: two language pairs trained for the cost of one bilingual model each);
``direct`` against ``zeroshot`` through English on de<->fr (``direct_vs_pivot``); ``direct`` against
``zeroshot`` on the English-centric directions (``direct_vs_zeroshot``). Runs trained with another seed S
(``MODEL_seedS``, :func:`~nlp_experiments.translation.languages.run_name`) are compared among themselves in the
same way, and each with the reference run of its model at the same updates (``seeds``: how far two trainings
of one model land apart; every direction a run is scored on, and its pivot system). Every comparison names the
training ``seed`` of its runs.

A family of tests (:func:`family`) is one comparison kind at one update count (the second system's) for one
training seed, per metric: within it the p-values are adjusted with Holm's method
(:func:`mvadl.verdicts.holm`), so that the chance of any false "higher"/"lower" among, say, the six
direct-vs-zeroshot gaps at 6,400 updates stays at most 5 %.
"""
from __future__ import annotations

import dataclasses
import logging
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from mvadl.data import DataError
from mvadl.plotting import save_figure
from mvadl.results import results_dir
from mvadl.runner import NO_SEED, Context, ExperimentConfig, main, option
from nlp_experiments.translation.curves import hypotheses_path, read_hypotheses, still_rising, zero_shot_best
from nlp_experiments.translation.data_bin import QUICK_FOLDERS, require_data_bin
from nlp_experiments.translation.export_multi30k import DATA_SET_NAMES
from nlp_experiments.translation.langid import CharNgramLanguageIdentifier
from nlp_experiments.translation.languages import (
    MODEL_PAIRS,
    PIVOT_DIRECTIONS,
    REFERENCE_SEED,
    SYSTEM_NAMES,
    evaluation_directions,
    pivot_name,
    reference_system,
    run_name,
    run_of,
    split_run_name,
)
from nlp_experiments.translation.metrics import METRIC_NAMES
from nlp_experiments.translation.scoring import read_references, score_direction

logger = logging.getLogger(__name__)

_HYPOTHESES = re.compile(r"^(?P<system>[^/]+)/(?P<updates>\d+)/(?P<split>[^/]+)/(?P<direction>[a-z]+-[a-z]+)\.txt\.gz$")
#: The split of every comparison (the report's test set).
COMPARED_SPLIT = "test"
#: What each comparison kind compares, in words (the report's and the figure's labels).
KINDS = {
    "multilingual_vs_bilingual": "multilingual model - bilingual model, same updates",
    "equal_compute": "zeroshot at 2N updates - bilingual model at N",
    "direct_vs_pivot": "direct - zeroshot through English",
    "direct_vs_zeroshot": "direct - zeroshot, English-centric directions",
    "seeds": "seed S - seed 1, same model and updates",
}
ZEROSHOT, DIRECT = "zeroshot", "direct"
BILINGUAL = tuple(m for m in MODEL_PAIRS if m.startswith("bilingual_"))


def find_outputs(root: Path) -> dict[str, dict[int, dict[str, set[str]]]]:
    """``{system: {updates: {split: {direction}}}}`` of the outputs under ``root``."""
    found: dict = {}
    for path in sorted(Path(root).rglob("*.txt.gz")):
        m = _HYPOTHESES.match(path.relative_to(root).as_posix())
        if m:
            try:
                split_run_name(m["system"])
            except ValueError as error:
                raise DataError(f"{root / m['system']}: {error}") from None
            found.setdefault(m["system"], {}).setdefault(int(m["updates"]), {}).setdefault(
                m["split"], set()).add(m["direction"])
    return found


def planned_comparisons(outputs: Mapping[str, Mapping[int, Mapping[str, Iterable[str]]]],
                        split: str = COMPARED_SPLIT) -> list[dict]:
    """Every comparison whose two systems have outputs in ``split`` (``outputs``: :func:`find_outputs`), as
    ``{"kind", "direction", "seed", "a": {"system", "updates", "run"}, "b": {...}}``; ``a - b`` is the
    difference reported, ``seed`` the training seed of the runs (of ``a`` for ``seeds``) and ``run`` the training
    run behind a system (``zeroshot_seed2`` behind ``zeroshot_seed2_pivot_en``)."""
    def has(system: str, updates: int, direction: str) -> bool:
        return direction in outputs.get(system, {}).get(updates, {}).get(split, ())

    planned = []

    def add(kind: str, direction: str, a: tuple[str, int], b: tuple[str, int]) -> None:
        if has(*a, direction) and has(*b, direction):
            planned.append({"kind": kind, "direction": direction, "seed": split_run_name(a[0])[1],
                            "a": {"system": a[0], "updates": a[1], "run": run_of(a[0])},
                            "b": {"system": b[0], "updates": b[1], "run": run_of(b[0])}})

    for seed in sorted({split_run_name(system)[1] for system in outputs}):
        zeroshot, direct = run_name(ZEROSHOT, seed), run_name(DIRECT, seed)
        for model in BILINGUAL:
            bilingual = run_name(model, seed)
            for updates in sorted(outputs.get(bilingual, {})):
                for direction in MODEL_PAIRS[model]:
                    for multilingual in (zeroshot, direct):
                        add("multilingual_vs_bilingual", direction, (multilingual, updates), (bilingual, updates))
                    add("equal_compute", direction, (zeroshot, 2 * updates), (bilingual, updates))
        for updates in sorted(outputs.get(direct, {})):
            for direction in PIVOT_DIRECTIONS:
                add("direct_vs_pivot", direction, (direct, updates), (pivot_name(zeroshot), updates))
            for direction in MODEL_PAIRS[ZEROSHOT]:
                add("direct_vs_zeroshot", direction, (direct, updates), (zeroshot, updates))
        if seed != REFERENCE_SEED:
            for model in MODEL_PAIRS:
                systems = [(run_name(model, seed), model, evaluation_directions(model))]
                if model == ZEROSHOT:  # the pivot through English, as the reference seed's comparisons use it
                    systems.append((pivot_name(run_name(model, seed)), pivot_name(model), PIVOT_DIRECTIONS))
                for repeat, reference, directions in systems:
                    for updates in sorted(outputs.get(repeat, {})):
                        for direction in directions:
                            add("seeds", direction, (repeat, updates), (reference, updates))
    return planned


def family(item: Mapping) -> tuple[str, int, int]:
    """The family of tests a planned comparison belongs to: its kind, the second system's updates and the
    training seed."""
    return item["kind"], item["b"]["updates"], item["seed"]


def holm_families(compared: list[dict]) -> list[dict]:
    """``compared`` (:func:`run_comparisons`) with ``p_holm`` set in each metric's test: Holm's adjustment
    (:func:`mvadl.verdicts.holm`) over the comparisons of one :func:`family`, metric by metric."""
    from mvadl.verdicts import Comparison, holm

    families: dict[tuple, list[int]] = {}
    for index, item in enumerate(compared):
        families.setdefault(family(item), []).append(index)
    adjusted = [dict(item) for item in compared]
    for members in families.values():
        for metric in METRIC_NAMES:
            tests = [Comparison.from_dict({**compared[i][metric], "p_holm": None}) for i in members]
            for i, test, p_holm in zip(members, tests, holm([t.p_value for t in tests])):
                adjusted[i][metric] = dataclasses.replace(test, p_holm=p_holm).as_dict()
    return adjusted


def seed_spread(compared: Iterable[Mapping]) -> dict:
    """How far two trainings of one recipe land apart, from the BLEU tests of the ``seeds`` comparisons of
    ``compared`` (:func:`holm_families`): how many (``comparisons``), how many with a significant verdict
    (``significant``) and the largest absolute difference (``largest_difference``, None without any)."""
    from mvadl.verdicts import Comparison

    tests = [Comparison.from_dict(c["bleu"]) for c in compared if c["kind"] == "seeds"]
    return {"comparisons": len(tests), "significant": sum(t.verdict != "level" for t in tests),
            "largest_difference": max((abs(t.difference) for t in tests), default=None)}


def other_seeds(compared: Sequence[Mapping]) -> list[dict]:
    """One entry per training seed S other than the reference seed in ``compared`` (:func:`holm_families`):
    ``runs`` (its runs compared with the reference seed's), ``models`` (the reference runs they repeat),
    ``systems`` (each system of S so compared -> the reference system), ``points`` (the updates compared), and
    ``verdicts``: per other kind that S ran, ``last`` (its largest updates of ``b``), ``differ`` (where S's BLEU
    verdict differs from the reference seed's on the same comparison: same kind and direction, ``a`` the
    reference system of S's ``a``, same updates of ``b``; ``{"direction", "updates", "system", "reference",
    "repeat"}`` with the two tests) and ``agree_at_last`` (none of them at ``last``)."""
    from mvadl.verdicts import Comparison

    def verdict(c: Mapping) -> str:
        return Comparison.from_dict(c["bleu"]).verdict

    reference = {(c["kind"], c["direction"], c["a"]["system"], c["b"]["updates"]): c
                 for c in compared if c["seed"] == REFERENCE_SEED}
    entries = []
    for seed in sorted({c["seed"] for c in compared} - {REFERENCE_SEED}):
        repeats = [c for c in compared if c["seed"] == seed and c["kind"] == "seeds"]
        verdicts: dict = {}
        for c in compared:
            if c["seed"] != seed or c["kind"] == "seeds":
                continue
            kind = verdicts.setdefault(c["kind"], {"last": c["b"]["updates"], "differ": []})
            kind["last"] = max(kind["last"], c["b"]["updates"])
            first = reference.get((c["kind"], c["direction"], reference_system(c["a"]["system"]), c["b"]["updates"]))
            if first is not None and verdict(first) != verdict(c):
                kind["differ"].append({"direction": c["direction"], "updates": c["b"]["updates"],
                                       "system": first["a"]["system"], "reference": first["bleu"],
                                       "repeat": c["bleu"]})
        for kind in verdicts.values():
            kind["agree_at_last"] = all(d["updates"] != kind["last"] for d in kind["differ"])
        entries.append({"seed": seed, "reference_seed": REFERENCE_SEED,
                        "runs": sorted({c["a"]["run"] for c in repeats}),
                        "models": sorted({c["b"]["run"] for c in repeats}),
                        "systems": {c["a"]["system"]: c["b"]["system"] for c in repeats},
                        "points": sorted({c["b"]["updates"] for c in repeats}), "verdicts": verdicts})
    return entries


def curves_summary(scores: Mapping) -> dict:
    """What ``curves.json`` records beside ``scores`` (:func:`score_outputs`): the systems and data sets in words,
    whether the curves of the reference seed still rise on the test split
    (:func:`~nlp_experiments.translation.curves.still_rising`) and the best zero-shot BLEU of every run
    (:func:`~nlp_experiments.translation.curves.zero_shot_best`)."""
    return {"system_names": SYSTEM_NAMES, "data_set_names": DATA_SET_NAMES,
            "rising": still_rising(scores, REFERENCE_SEED, COMPARED_SPLIT),
            "zero_shot": zero_shot_best(scores, COMPARED_SPLIT)}


def comparisons_summary(compared: Sequence[Mapping]) -> dict:
    """What ``comparisons.json`` records beside ``comparisons`` (:func:`holm_families`): :func:`seed_spread` and
    :func:`other_seeds`."""
    return {"seed_spread": seed_spread(compared), "other_seeds": other_seeds(compared)}


@dataclass
class ComparisonsConfig(ExperimentConfig):
    """Score the kept system outputs and test every comparison of section 3."""

    data_bin: str = option("data-bin/multi30k", "prepared data: raw/ references and langid.json")
    hyps: str | None = option(None, "the system outputs (none: results/nmt/hyps)")
    n_samples: int = option(1000, "bootstrap resamples")
    seed: int = option(12345, "seed of the bootstrap resampling (sacreBLEU's default)")
    QUICK: ClassVar[dict] = {"n_samples": 100, "data_bin": QUICK_FOLDERS["data_bin"]}

    def __post_init__(self):
        if self.n_samples < 1:
            raise ValueError(f"--n-samples must be at least 1, got {self.n_samples}")


def score_outputs(root: Path, outputs: Mapping, references: Path, identifier) -> dict:
    """``{system: {updates: {split: {direction: scores}}}}``, every output scored (:func:`score_direction`)."""
    scores: dict = {}
    for system, points in outputs.items():
        for updates, splits in sorted(points.items()):
            for split, directions in splits.items():
                for direction in sorted(directions):
                    hypotheses = read_hypotheses(hypotheses_path(root, system, updates, split, direction))
                    refs = read_references(references, split, direction.split("-")[1])
                    if len(hypotheses) != len(refs):
                        raise DataError(f"{hypotheses_path(root, system, updates, split, direction)}: "
                                        f"{len(hypotheses)} lines for {len(refs)} references")
                    scores.setdefault(system, {}).setdefault(str(updates), {}).setdefault(split, {})[direction] = \
                        score_direction(hypotheses, refs, direction.split("-")[1], identifier)
    return scores


def run_comparisons(root: Path, planned: list[dict], references: Path, n_samples: int, seed: int) -> list[dict]:
    """Each of ``planned`` with ``"bleu"`` and ``"chrf"``: :meth:`mvadl.verdicts.Comparison.as_dict` of the paired
    bootstrap on :data:`COMPARED_SPLIT`, its ``p_holm`` within its family (:func:`holm_families`)."""
    from mvadl.verdicts import paired_bootstrap

    done = []
    for item in planned:
        direction = item["direction"]
        a, b = ([*read_hypotheses(hypotheses_path(root, side["system"], side["updates"], COMPARED_SPLIT, direction))]
                for side in (item["a"], item["b"]))
        refs = read_references(references, "test", direction.split("-")[1])
        tests = {metric: paired_bootstrap(metric, a, b, refs, n_samples=n_samples, seed=seed).as_dict()
                 for metric in METRIC_NAMES}
        done.append({**item, **tests})
        logger.info("%s %s %s@%d - %s@%d: BLEU %+.2f [%+.2f, %+.2f]", item["kind"], direction,
                    item["a"]["system"], item["a"]["updates"], item["b"]["system"], item["b"]["updates"],
                    tests["bleu"]["difference"], tests["bleu"]["low"], tests["bleu"]["high"])
    return holm_families(done)


def run(config: ComparisonsConfig, ctx: Context) -> Path:
    from nlp_experiments.translation.curve_figures import plot_curves, plot_gaps

    data_bin = Path(config.data_bin)
    require_data_bin(data_bin, "langid.json")
    root = Path(config.hyps) if config.hyps else results_dir() / "nmt" / "hyps"
    outputs = find_outputs(root)
    if not outputs:
        raise DataError(f"{root}: no system outputs (SYSTEM/UPDATES/SPLIT/SRC-TGT.txt.gz; run "
                        f"python -m nlp_experiments.translation.curves)")
    identifier = CharNgramLanguageIdentifier.load(data_bin / "langid.json")
    scores = score_outputs(root, outputs, data_bin / "raw", identifier)
    planned = planned_comparisons(outputs)
    compared = run_comparisons(root, planned, data_bin / "raw", config.n_samples, config.seed)
    # the scores draw nothing at random (seed null); each system's training seed is in training_seeds
    out = ctx.record("nmt", "curves", {"systems": list(scores), "scores": scores,
                                       "reference_seed": REFERENCE_SEED,
                                       "training_seeds": {system: split_run_name(system)[1] for system in scores},
                                       "split_names": {"test": "test_2016_flickr", "valid": "val"},
                                       **curves_summary(scores)},
                     seed=NO_SEED)
    ctx.record("nmt", "comparisons",
               {"split": "test_2016_flickr", "kinds": KINDS, "comparisons": compared,
                "test": f"paired bootstrap resampling (sacreBLEU), {config.n_samples} resamples, 95 % interval",
                "bootstrap_seed": config.seed,
                "multiple_comparisons": "Holm within each family: one comparison kind at one update count (the "
                                        "second system's) for one training seed, per metric; the verdict uses "
                                        "p_holm",
                **comparisons_summary(compared)})
    figures = out.parent
    save_figure(plot_curves(scores, COMPARED_SPLIT), figures / "curves.png")
    save_figure(plot_curves(scores, COMPARED_SPLIT, per_pair=True), figures / "curves_compute.png")
    save_figure(plot_gaps(compared, KINDS), figures / "gaps.png")
    logger.info("%d systems, %d comparisons -> %s", len(scores), len(compared), figures)
    return out


if __name__ == "__main__":
    sys.exit(main(run, ComparisonsConfig, prog="python -m nlp_experiments.translation.comparisons", doc=__doc__))
