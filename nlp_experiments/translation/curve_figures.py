"""Figures of the learning curves and of the gaps between models (records in, matplotlib Figures out), drawn at the
text width of the report (:data:`mvadl.plotting.TEXT_WIDTH_IN`) with :data:`mvadl.plotting.PRINT_FONT_PT` text.
:func:`save_curve_figures` writes them from the curves and comparisons records
(``python -m nlp_experiments.translation.redraw``)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from nlp_experiments.translation.languages import (
    DIRECTIONS,
    MODEL_PAIRS,
    REFERENCE_SEED,
    SYSTEM_NAMES,
    model_label,
    reference_system,
    split_run_name,
)

_METRIC_LABELS = {"bleu": "BLEU", "chrf": "chrF"}
_SPLIT_LABELS = {"test": "Multi30k test 2016", "valid": "Multi30k validation"}
#: Panel titles of the gap figure by comparison kind, in the text's words (else the record's title).
GAP_TITLES = {
    "multilingual_vs_bilingual": "multilingual − bilingual model,\nsame updates",
    "equal_compute": "English-centric model at 2N updates −\nbilingual model at N",
    "direct_vs_pivot": "model with de-fr data −\npivot through English",
    "direct_vs_zeroshot": "model with de-fr data − English-centric\nmodel, English-centric directions",
    "seeds": "second seed − first seed,\nsame model and updates",
}


def language_pairs_trained(system: str) -> int:
    """How many language pairs (both directions each) the model behind ``system`` trains on: its updates are
    shared among them."""
    return len(MODEL_PAIRS[split_run_name(system)[0]]) // 2


def seed_label(seed: int) -> str:
    """A training seed as the figures name it: the one after the reference seed is the "second seed"."""
    return "second seed" if seed == REFERENCE_SEED + 1 else f"seed {seed}"


def _label(system: str, with_seed: bool = True) -> str:
    """``zeroshot`` -> "English-centric model", ``zeroshot_seed2`` -> "English-centric model, second seed"
    (:data:`~nlp_experiments.translation.languages.SYSTEM_NAMES`, the text's names; the run name where the text
    has none)."""
    reference, seed = reference_system(system), split_run_name(system)[1]
    name = SYSTEM_NAMES.get(reference, model_label(reference).replace("\n", " "))
    return name + (f", {seed_label(seed)}" if with_seed and seed != REFERENCE_SEED else "")


def plot_curves(scores: Mapping[str, Mapping[str, Mapping[str, Mapping[str, Mapping]]]], split: str = "test",
                metric: str = "bleu", per_pair: bool = False, directions: Sequence[str] = DIRECTIONS):
    """``metric`` of every system against training updates, one panel a direction (``scores``: the curves
    record's ``{system: {updates: {split: {direction: {metric: value}}}}}``). ``per_pair``: the x axis is the
    updates divided by the language pairs the model trains on, so that points above one another cost the same
    per language pair (zeroshot at 2N beside a bilingual model at N). A run of another training seed is drawn
    dashed in the colour of its reference run."""
    import numpy as np

    from mvadl.plotting import PRINT_FONT_PT, TEXT_WIDTH_IN, new_figure

    fig, axes = new_figure(2, 3, size=(TEXT_WIDTH_IN, 4.3), layout="constrained", sharey=False,
                           font_size=PRINT_FONT_PT)
    systems = list(scores)
    references = list(dict.fromkeys(reference_system(system) for system in systems))
    colours = {system: f"C{references.index(reference_system(system))}" for system in systems}
    for ax, direction in zip(np.ravel(axes), directions):
        for system in systems:
            points = sorted((int(u), by_split[split][direction][metric]) for u, by_split in scores[system].items()
                            if direction in by_split.get(split, {}))
            if not points:
                continue
            scale = language_pairs_trained(system) if per_pair else 1
            repeat = split_run_name(system)[1] != REFERENCE_SEED
            ax.plot([u / scale for u, _ in points], [v for _, v in points], marker="o", markersize=4,
                    color=colours[system], linestyle="--" if repeat else "-", label=_label(system))
        ax.set_title(direction)
        if ax.get_subplotspec().is_last_row():
            ax.set_xlabel("updates per language pair" if per_pair else "updates")
        ax.xaxis.set_major_formatter(_thousands)
        if ax.get_subplotspec().is_first_col():
            ax.set_ylabel(f"{_METRIC_LABELS.get(metric, metric)} ({_SPLIT_LABELS.get(split, split)})")
    handles = {h.get_label(): h for ax in np.ravel(axes) for h in ax.get_lines()}
    fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncol=min(len(handles), 2),
               handlelength=1.5, columnspacing=1.0)
    return fig


def _thousands(value: float, _position=None) -> str:
    """Tick label of an update count: ``3.2k``."""
    return f"{value / 1000:g}k" if value else "0"


def plot_gaps(comparisons: Sequence[Mapping], kinds: Mapping[str, str], metric: str = "bleu"):
    """The difference a - b of ``metric`` with its 95 % interval (error bars) against the updates of ``b``, one
    panel per kind of comparison present (two a row, titled by :data:`GAP_TITLES`), one line per direction (and
    compared model, and training seed)."""
    import numpy as np

    from mvadl.plotting import PRINT_FONT_PT, TEXT_WIDTH_IN, new_figure

    present = [kind for kind in kinds if any(c["kind"] == kind for c in comparisons)]
    columns = min(max(len(present), 1), 2)
    rows = -(-max(len(present), 1) // columns)
    fig, axes = new_figure(rows, columns, size=(TEXT_WIDTH_IN, 2.9 * rows), layout="constrained", squeeze=False,
                           font_size=PRINT_FONT_PT)
    for ax in np.ravel(axes)[len(present):]:
        ax.set_visible(False)
    for ax, kind in zip(np.ravel(axes), present):
        lines: dict[str, list] = {}
        for c in comparisons:
            if c["kind"] == kind:
                if kind in ("multilingual_vs_bilingual", "seeds"):  # the seeds panel's title names the seeds
                    name = f"{c['direction']}, {_label(c['a']['system'], with_seed=kind != 'seeds')}"
                else:
                    name = c["direction"] + (f", {seed_label(c['seed'])}" if c["seed"] != REFERENCE_SEED else "")
                lines.setdefault(name, []).append(c)
        for i, (name, items) in enumerate(sorted(lines.items())):
            items = sorted(items, key=lambda c: c["b"]["updates"])
            x = np.array([c["b"]["updates"] for c in items], float) * (1 + 0.015 * (i - len(lines) / 2))
            y = np.array([c[metric]["difference"] for c in items])
            err = np.array([[c[metric]["difference"] - c[metric]["low"] for c in items],
                            [c[metric]["high"] - c[metric]["difference"] for c in items]])
            ax.errorbar(x, y, yerr=err, marker="o", markersize=4, capsize=3, label=name)
        ax.axhline(0.0, color="black", linewidth=0.8)
        ax.set_title(GAP_TITLES.get(kind, kinds[kind]))
        ax.set_xlabel("updates" + (" of the bilingual model" if kind == "equal_compute" else ""))
        ax.xaxis.set_major_formatter(_thousands)
        ax.set_ylabel(f"{_METRIC_LABELS.get(metric, metric)} difference")
        ax.legend(ncol=1 if kind in ("multilingual_vs_bilingual", "seeds") else 2, loc="upper center",
                  bbox_to_anchor=(0.5, -0.32), frameon=False, handlelength=1.5, columnspacing=1.0)
    return fig


def save_curve_figures(scores: Mapping, comparisons: Sequence[Mapping], kinds: Mapping[str, str], split: str,
                       folder: Path) -> list[Path]:
    """``curves.png`` (:func:`plot_curves`), ``curves_compute.png`` (the same per language pair) and ``gaps.png``
    (:func:`plot_gaps`) in ``folder``; returns their paths."""
    from mvadl.plotting import save_figure

    folder = Path(folder)
    return [save_figure(plot_curves(scores, split), folder / "curves.png"),
            save_figure(plot_curves(scores, split, per_pair=True), folder / "curves_compute.png"),
            save_figure(plot_gaps(comparisons, kinds), folder / "gaps.png")]
