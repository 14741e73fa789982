"""Figures of the learning curves and of the gaps between models (records in, matplotlib Figures out)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from nlp_experiments.translation.languages import DIRECTIONS, MODEL_PAIRS, model_label

_PIVOT_OF = "_pivot_"
_METRIC_LABELS = {"bleu": "BLEU", "chrf": "chrF"}
_SPLIT_LABELS = {"test": "test 2016 flickr", "valid": "val"}


def language_pairs_trained(system: str) -> int:
    """How many language pairs (both directions each) the model behind ``system`` trains on: its updates are
    shared among them."""
    model = system.split(_PIVOT_OF)[0]
    return len(MODEL_PAIRS[model]) // 2


def _label(system: str) -> str:
    return model_label(system).replace("\n", " ")


def plot_curves(scores: Mapping[str, Mapping[str, Mapping[str, Mapping[str, Mapping]]]], split: str = "test",
                metric: str = "bleu", per_pair: bool = False, directions: Sequence[str] = DIRECTIONS):
    """``metric`` of every system against training updates, one panel a direction (``scores``: the curves
    record's ``{system: {updates: {split: {direction: {metric: value}}}}}``). ``per_pair``: the x axis is the
    updates divided by the language pairs the model trains on, so that points above one another cost the same
    per language pair (zeroshot at 2N beside a bilingual model at N)."""
    import numpy as np

    from mvadl.plotting import new_figure

    fig, axes = new_figure(2, 3, size=(12.0, 6.6), layout="constrained", sharey=False)
    systems = list(scores)
    colours = {system: f"C{i}" for i, system in enumerate(systems)}
    for ax, direction in zip(np.ravel(axes), directions):
        for system in systems:
            points = sorted((int(u), by_split[split][direction][metric]) for u, by_split in scores[system].items()
                            if direction in by_split.get(split, {}))
            if not points:
                continue
            scale = language_pairs_trained(system) if per_pair else 1
            ax.plot([u / scale for u, _ in points], [v for _, v in points], marker="o", markersize=4,
                    color=colours[system], label=_label(system))
        ax.set_title(direction)
        ax.set_xlabel("updates per language pair trained" if per_pair else "updates")
        ax.set_ylabel(f"{_METRIC_LABELS.get(metric, metric)} ({_SPLIT_LABELS.get(split, split)})")
    handles = {h.get_label(): h for ax in np.ravel(axes) for h in ax.get_lines()}
    fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncol=len(handles))
    fig.suptitle("Averaged checkpoints (last 3) along training" + (", equal cost per language pair" if per_pair
                                                                     else ""))
    return fig


def plot_gaps(comparisons: Sequence[Mapping], kinds: Mapping[str, str], metric: str = "bleu"):
    """The difference a - b of ``metric`` with its 95 % interval (error bars) against the updates of ``b``, one
    panel per kind of comparison present, one line per direction (and compared model)."""
    import numpy as np

    from mvadl.plotting import new_figure

    present = [kind for kind in kinds if any(c["kind"] == kind for c in comparisons)]
    fig, axes = new_figure(1, max(len(present), 1), size=(4.6 * max(len(present), 1), 3.8), layout="constrained",
                           squeeze=False)
    for ax, kind in zip(axes[0], present):
        lines: dict[str, list] = {}
        for c in comparisons:
            if c["kind"] == kind:
                name = f"{c['direction']}" + (f" {_label(c['a']['system'])}" if kind == "multilingual_vs_bilingual"
                                              else "")
                lines.setdefault(name, []).append(c)
        for i, (name, items) in enumerate(sorted(lines.items())):
            items = sorted(items, key=lambda c: c["b"]["updates"])
            x = np.array([c["b"]["updates"] for c in items], float) * (1 + 0.015 * (i - len(lines) / 2))
            y = np.array([c[metric]["difference"] for c in items])
            err = np.array([[c[metric]["difference"] - c[metric]["low"] for c in items],
                            [c[metric]["high"] - c[metric]["difference"] for c in items]])
            ax.errorbar(x, y, yerr=err, marker="o", markersize=4, capsize=3, label=name)
        ax.axhline(0.0, color="black", linewidth=0.8)
        ax.set_title(kinds[kind], fontsize=9)
        ax.set_xlabel("updates" + (" of the bilingual model" if kind == "equal_compute" else ""))
        ax.set_ylabel(f"{_METRIC_LABELS.get(metric, metric)} difference (95 % interval)")
        ax.legend(fontsize=7)
    return fig
