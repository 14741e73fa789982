"""The study's figures: each function takes loaded runs (:func:`nlp_experiments.prenorm.records.load_run`),
summary entries or Jacobian records and returns a matplotlib Figure; :func:`save_study_figures` draws them all.

* ``grid_valid_ppl.png`` (:func:`plot_grid`): final validation perplexity of the deep grid;
* ``gradnorm_heatmaps[_main].png``, ``gradnorm_param_heatmaps[_main].png`` (:func:`plot_heatmaps`): per-layer
  gradient norms against updates, of the residual stream and of the layer parameters;
* ``ratio_vs_steps.png``, ``ratio_param_vs_steps.png`` (:func:`plot_ratio_vs_steps`): bottom/top gradient-norm
  ratio of the residual stream and of the layer parameters against updates;
* ``gradnorm_at_init.png`` (:func:`plot_gradnorm_at_init`): each layer's parameter-gradient norm at update 0;
* ``loss_curves.png`` (:func:`plot_loss_curves`): training and validation loss;
* ``jacobian_vs_depth.png`` (:func:`plot_jacobian_vs_depth`): ||d x_L / d x_0|| of random stacks against
  depth, and the probe of d x_L / d x_l inside the trained models;
* ``collapse_deep_vs_shallow.png`` (:func:`plot_collapse_deep_vs_shallow`): the bottom/top gradient ratio of the
  deep and the shallow models against updates at the collapse setting, every seed (drawn when the study has the
  shallow runs there).

The figures are drawn at the text width of the report (:data:`mvadl.plotting.TEXT_WIDTH_IN`) with
:data:`mvadl.plotting.PRINT_FONT_PT` text, so that their text prints at that size; a log axis of gradient ratios
spanning many decades is labelled in powers of ten (:func:`power_log_axis`), drawn at :data:`SCRIPT_FONT_PT` so that
the exponents print at 7 pt or more. The models are named by their depth in layers ("12 layers", "2 layers"), as in
the report, and a peak learning rate as a decimal ("peak LR 0.003"); the loss is written e (as in the report), the
top layer L. The one reference level drawn is the unigram model of the training text scored on the validation text
(``prenorm/unigram.json``).
"""
from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from mvadl.plotting import (
    MATHTEXT_SCRIPT_SCALE,
    PRINT_FONT_PT,
    TEXT_WIDTH_IN,
    new_figure,
    plain_log_axis,
    plain_number,
    save_figure,
)
from nlp_experiments.prenorm.plan import DEPTHS, GRID_SEED, NORMS
from nlp_experiments.prenorm.summary import COLLAPSED, TINY

logger = logging.getLogger(__name__)

NORM_COLORS = {"postnorm": "tab:red", "prenorm": "tab:blue"}
NORM_LABELS = {"postnorm": "post-norm (eq. 31)", "prenorm": "pre-norm (eq. 32)"}
WARMUP_STYLES = ("-", "--", ":", "-.")
#: Marker of a validation point, by the rank of its run's warm-up length among the runs drawn.
VALID_MARKERS = ("o", "s", "^", "D", "v", "P", "X")
#: Color of the legend entries that explain a marker or line style only (colors stand for the norms).
NEUTRAL = "0.35"
#: Size of a text with an exponent ($10^{-3}$): matplotlib draws the exponent at 0.7 of it, 7.35 pt here, so that
#: it prints at 7 pt or more in a figure drawn at the text width (the saved PNG is a little wider than it).
SCRIPT_FONT_PT = 7.35 / MATHTEXT_SCRIPT_SCALE


def power_label(value: float, _position=None) -> str:
    """A log-axis tick label: a power of ten as mathtext (``$10^{-3}$``; 1 as ``1``), any other value as a plain
    number (:func:`mvadl.plotting.plain_number`)."""
    if value > 0:
        exponent = round(math.log10(value))
        if math.isclose(value, 10.0 ** exponent, rel_tol=1e-9):
            return "1" if exponent == 0 else f"$10^{{{exponent}}}$"
    return plain_number(value)


def power_log_axis(axis) -> None:
    """Major ticks of a log ``axis`` at powers of ten labelled ``$10^{k}$`` (:func:`power_label`) at
    :data:`SCRIPT_FONT_PT`; minor ticks unlabelled."""
    axis.set_major_locator(LogLocator(base=10, subs=(1.0,)))
    axis.set_major_formatter(FuncFormatter(power_label))
    axis.set_minor_formatter(NullFormatter())
    axis.set_tick_params(labelsize=SCRIPT_FONT_PT)


def lr_words(lr_text: str) -> str:
    """A peak learning rate of a run name in words: ``"3e-3"`` -> ``"peak LR 0.003"``."""
    return f"peak LR {float(lr_text):g}"


def depth_words(runs: list[dict], depth: str) -> str:
    """A depth (``"deep"``/``"shallow"``) as the report names it, by the layers of its runs: ``"12 layers"``
    (the depth itself when no run of it records its layers)."""
    layers = next((run["layers"] for run in runs if run["depth"] == depth and run.get("layers")), None)
    return f"{layers} layers" if layers else depth


def _lr_label(run: dict) -> str:
    return f"LR {run['lr_text']}"


def _warmup_words(warmup: int) -> str:
    return f"warm-up {warmup}" if warmup else "no warm-up"


def _unigram_label(unigram_bits: float) -> str:
    """Legend text of the unigram level: the training text's unigram model on the validation text."""
    return f"unigram model ({unigram_bits:.2f} bits/token, perplexity {2 ** unigram_bits:.0f})"


def _label(run: dict, with_lr: bool = False) -> str:
    warm = f"warm-up {run['warmup_updates']}" if run["warmup_updates"] else "no warm-up"
    out = f"{NORM_LABELS[run['norm']].split(' (')[0]}, {warm}"
    return f"{out}, {_lr_label(run)}" if with_lr else out


def _find(runs: list[dict], **want) -> dict | None:
    for run in runs:
        if all(run.get(k) == v for k, v in want.items()):
            return run
    return None


def _grid_axes(runs: list[dict]):
    deep1 = [r for r in runs if r["depth"] == "deep" and r["seed"] == GRID_SEED]
    lrs = sorted({r["lr_text"] for r in deep1}, key=float)
    warmups = sorted({r["warmup_updates"] for r in deep1})
    return lrs, warmups


def _warmup_style(warmups: list[int], warmup: int) -> str:
    return WARMUP_STYLES[warmups.index(warmup) % len(WARMUP_STYLES)] if warmup in warmups else "-"


def plot_grid(entries: list[dict], runs: list[dict], unigram_bits: float | None):
    """Final valid perplexity of the deep models (seed 1) vs warm-up length, one line per norm x peak LR;
    ``unigram_bits``: validation loss of the unigram model (a line, None: none)."""
    lrs, warmups = _grid_axes(runs)
    fig, ax = new_figure(1, 1, size=(0.8 * TEXT_WIDTH_IN, 2.8), font_size=PRINT_FONT_PT, layout="constrained")
    markers = ("o", "s", "^", "D")
    for i, lr in enumerate(lrs):
        for norm in NORMS:
            points = []
            for k, warmup in enumerate(warmups):
                run = _find(runs, depth="deep", seed=GRID_SEED, norm=norm, lr_text=lr, warmup_updates=warmup)
                entry = next((e for e in entries if run and e["name"] == run["name"]), None)
                if entry and entry["final_valid_ppl"] is not None:
                    points.append((k, entry["final_valid_ppl"]))
            if points:
                ax.plot(*zip(*points), marker=markers[i % len(markers)], color=NORM_COLORS[norm],
                        linestyle="-" if i == 0 else "--", label=f"{NORM_LABELS[norm].split(' (')[0]}, LR {lr}")
    if unigram_bits is not None:
        ax.axhline(2 ** unigram_bits, color="gray", linestyle=":", label=_unigram_label(unigram_bits))
    ax.set_xticks(range(len(warmups)), [str(w) for w in warmups])
    ax.set_xlabel("warm-up length (updates)")
    ax.set_yscale("log")
    plain_log_axis(ax.yaxis, subs=(1.0, 2.0, 5.0))
    ax.set_ylabel("final validation perplexity")
    ax.set_title(f"deep models, seed {GRID_SEED}")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def _panels(runs: list[dict], main: tuple):
    """(title, runs) of the ratio / loss figures: one panel per peak LR (deep, seed 1), one for the main setting
    (its deep seeds and the shallow pair), each titled in words."""
    lrs, _ = _grid_axes(runs)
    deep, shallow = depth_words(runs, "deep"), depth_words(runs, "shallow")
    panels = [(f"{deep}, seed {GRID_SEED},\n{lr_words(lr)}", [r for r in runs if r["depth"] == "deep" and
                                                               r["seed"] == GRID_SEED and r["lr_text"] == lr])
              for lr in lrs]
    main_runs = [r for r in runs if (r["lr_text"], r["warmup_updates"]) == main]
    seeds = len({r["seed"] for r in main_runs if r["depth"] == "deep"})
    panels.append((f"{lr_words(main[0])}, {_warmup_words(main[1])}:\n{deep} ({seeds} seeds) and {shallow}",
                   main_runs))
    return panels


def _main_style(run: dict):
    seeds_alpha = {1: 1.0, 2: 0.75, 3: 0.55}
    layers = depth_words([run], run["depth"])
    if run["depth"] == "shallow":
        return dict(linestyle=":", linewidth=1.5, alpha=0.9, label=f"{run['norm'][:-4]}-norm, {layers}")
    return dict(linestyle="-", linewidth=1.2, alpha=seeds_alpha.get(run["seed"], 0.5),
                label=f"{run['norm'][:-4]}-norm, {layers}, seed {run['seed']}")


#: The bottom/top ratios of the series: key -> y-axis label (e: the loss, L: the top layer).
RATIOS = {"ratio_x": "r = ||∂e/∂x_0|| / ||∂e/∂x_L||", "ratio_param": "r_θ = ||∂e/∂θ_1|| / ||∂e/∂θ_L||"}


def _legend_below(ax) -> None:
    """The panel's legend in one column below it, off the curves."""
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False, ncol=1, handlelength=2.2)


def plot_ratio_vs_steps(runs: list[dict], main: tuple, key: str = "ratio_x"):
    """Bottom/top gradient-norm ratio ``key`` (:data:`RATIOS`: residual stream or layer parameters) vs updates:
    one panel per peak LR of the deep grid, one for the main setting (seeds and the 2-layer pair), each legend
    below its panel; each line also carries a marker of its warm-up (of its seed in the last panel), staggered
    along the line, so that lines which coincide can still be told apart. The y-axis is labelled in powers of ten
    (:func:`power_log_axis`)."""
    _, warmups = _grid_axes(runs)
    panels = _panels(runs, main)
    fig, axes = new_figure(1, len(panels), size=(TEXT_WIDTH_IN, 3.6), squeeze=False, font_size=PRINT_FONT_PT,
                           layout="constrained")
    for col, (title, chosen) in enumerate(panels):
        ax = axes[0][col]
        for run in chosen:
            steps = [s for s, v in zip(run["series"]["step"], run["series"][key]) if v is not None]
            values = [max(v, TINY) for v in run["series"][key] if v is not None]
            if col < len(panels) - 1:
                style = dict(linestyle=_warmup_style(warmups, run["warmup_updates"]), linewidth=1.2,
                             label=_label(run))
                k = warmups.index(run["warmup_updates"]) if run["warmup_updates"] in warmups else 0
            else:
                style = _main_style(run)
                k = run["seed"] - 1 if run["depth"] == "deep" else len(VALID_MARKERS) - 1
            # a marker per warm-up (seed in the last panel), staggered, so that lines which coincide stay visible
            every = max(1, len(values) // 6)
            ax.plot(steps, values, color=NORM_COLORS[run["norm"]], marker=VALID_MARKERS[k % len(VALID_MARKERS)],
                    markersize=3.5, markevery=(k * every // 3 + (every // 6 if run["norm"] == "pre" else 0), every),
                    **style)
        ax.set_yscale("log")
        power_log_axis(ax.yaxis)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4, steps=[1, 2, 5, 10]))  # 0, 1000, ... in a narrow panel
        ax.set_xlabel("update")
        if col == 0:
            ax.set_ylabel(RATIOS[key])
        ax.set_title(title)
        _legend_below(ax)
    return fig


def _column_titles(columns: list[dict | None]) -> list[str]:
    """What the runs of each heat-map column share: the warm-up, or (where all columns share it) the seed or the
    depth."""
    if len({run["warmup_updates"] for run in columns if run}) > 1:
        return [_warmup_words(run["warmup_updates"]) if run else "" for run in columns]
    return ["" if run is None else "2 layers" if run["depth"] == "shallow" else f"seed {run['seed']}"
            for run in columns]


def plot_heatmaps(grid: list[list[dict | None]], row_labels: list[str], key: str, title: str | None = None,
                  width_in: float = 0.9 * TEXT_WIDTH_IN):
    """log10 per-layer gradient norm (layer x update) of each run of ``grid`` (rows x columns, None = a cell the
    study did not run, which its panel says), drawn ``width_in`` inches wide: ``row_labels`` beside the rows, what
    a column's runs share above it."""
    nrows, ncols = len(grid), max(len(row) for row in grid)
    fig, axes = new_figure(nrows, ncols, size=(width_in, 1.3 * nrows + 0.5 + (0.25 if title else 0.0)),
                           squeeze=False, font_size=PRINT_FONT_PT, layout="constrained")
    matrices = {}
    for i, row in enumerate(grid):
        for j, run in enumerate(row):
            if run is None:
                continue
            pairs = [(s, v) for s, v in zip(run["series"]["step"], run["series"][key]) if v]
            if not pairs:
                continue
            mat = np.array([[max(x if x is not None else TINY, TINY) for x in v] for _, v in pairs]).T
            matrices[(i, j)] = (np.log10(mat), [s for s, _ in pairs], run)
    finite = [m[np.isfinite(m)] for m, _, _ in matrices.values()]
    vmin = min((np.percentile(f, 1) for f in finite if f.size), default=-6)
    vmax = max((f.max() for f in finite if f.size), default=0)
    image = None
    titles = _column_titles([next((r[j] for r in grid if j < len(r) and r[j] is not None), None)
                             for j in range(ncols)])
    for i in range(nrows):
        for j in range(ncols):
            ax = axes[i][j]
            ax.grid(False)
            if i == 0:
                ax.set_title(titles[j])
            if (i, j) not in matrices:
                ax.set_axis_off()
                ran = grid[i][j] if j < len(grid[i]) else None
                ax.text(0.5, 0.5, f"{row_labels[i]}:\n" + ("not run in the study" if ran is None
                                                           else "no gradient norms logged"),
                        ha="center", va="center", transform=ax.transAxes, color="0.3")
                continue
            mat, steps, run = matrices[(i, j)]
            image = ax.imshow(mat, aspect="auto", origin="lower", vmin=vmin, vmax=vmax, interpolation="nearest",
                              extent=(steps[0], steps[-1], -0.5, mat.shape[0] - 0.5))
            if i == nrows - 1:
                ax.set_xlabel("update")
            ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=4))
            ax.xaxis.set_major_locator(MaxNLocator(nbins=3))
            if j == 0:
                ax.set_ylabel(f"{row_labels[i]}\n" + ("layer l (0 = bottom)" if key == "grad_param"
                                                    else "x_l (0 = embeddings)"))
    if image is not None:
        what = "||∂e/∂x_l||" if key == "grad_x" else "||∂e/∂θ_l||"
        fig.colorbar(image, ax=axes, shrink=0.8, label=f"log10 {what} (e: per-token loss, nats)")
    if title:
        fig.suptitle(title)
    return fig


def heatmap_grids(runs: list[dict], main: tuple):
    """(grid, row labels) of the deep seed-1 grid, and of the main setting (seeds 1-3, shallow)."""
    lrs, warmups = _grid_axes(runs)
    grid, labels = [], []
    for lr in lrs:
        for norm in NORMS:
            grid.append([_find(runs, depth="deep", seed=GRID_SEED, norm=norm, lr_text=lr, warmup_updates=w)
                         for w in warmups])
            labels.append(f"{norm[:-4]}, LR {lr}")
    seeds = sorted({r["seed"] for r in runs if r["depth"] == "deep"})
    main_grid, main_labels = [], []
    for norm in NORMS:
        row = [_find(runs, depth="deep", seed=s, norm=norm, lr_text=main[0], warmup_updates=main[1]) for s in seeds]
        row.append(_find(runs, depth="shallow", norm=norm, lr_text=main[0], warmup_updates=main[1]))
        main_grid.append(row)
        main_labels.append(f"{norm[:-4]}, LR {main[0]}")
    return (grid, labels), (main_grid, main_labels)


def plot_gradnorm_at_init(runs: list[dict], main: tuple):
    """Xiong et al.'s plot: gradient norm of each layer's parameters at initialization (update 0)."""
    fig, axes = new_figure(1, 2, size=(0.8 * TEXT_WIDTH_IN, 2.6), font_size=PRINT_FONT_PT, layout="constrained")
    for ax, depth in zip(axes, DEPTHS):
        for norm in NORMS:
            run = _find(runs, norm=norm, depth=depth, seed=GRID_SEED, lr_text=main[0], warmup_updates=main[1])
            if run and run["series"]["step"] and run["series"]["step"][0] == 0:
                values = run["series"]["grad_param"][0]
                ax.plot(range(1, len(values) + 1), values, marker="o", color=NORM_COLORS[norm],
                        label=NORM_LABELS[norm])
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("layer (1 = bottom)")
        if ax is axes[0]:
            ax.set_ylabel("||∂e/∂θ_l|| at update 0")
        ax.set_title(depth_words(runs, depth))
        ax.legend()
    return fig


def _smooth(values: Sequence[float], width: int = 5) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    if len(values) < width:
        return values
    kernel = np.ones(width) / width
    padded = np.concatenate([np.full(width - 1, values[0]), values])
    return np.convolve(padded, kernel, mode="valid")


def _valid_markers(runs: list[dict]) -> dict[int, str]:
    """Marker of the validation points of each warm-up length of ``runs`` (the same in every panel)."""
    warmups = sorted({run["warmup_updates"] for run in runs})
    return {warmup: VALID_MARKERS[k % len(VALID_MARKERS)] for k, warmup in enumerate(warmups)}


def plot_loss_curves(runs: list[dict], main: tuple, unigram_bits: float | None):
    """Train loss (running mean of 5 logging intervals, lines) and valid loss (markers, one shape per warm-up
    length) vs updates; each panel's legend, below it, names the lines, the marker shapes it uses and the unigram
    level ``unigram_bits`` (validation loss of the training text's unigram model; None: not drawn)."""
    _, warmups = _grid_axes(runs)
    markers = _valid_markers(runs)
    panels = _panels(runs, main)
    fig, axes = new_figure(1, len(panels), size=(TEXT_WIDTH_IN, 4.3), squeeze=False, font_size=PRINT_FONT_PT,
                           layout="constrained")
    for col, (title, chosen) in enumerate(panels):
        ax = axes[0][col]
        shown = set()
        for run in chosen:
            train, valid = run["series"]["train"], run["series"]["valid"]
            if col < len(panels) - 1:
                style = dict(linestyle=_warmup_style(warmups, run["warmup_updates"]),
                             label=f"{NORM_LABELS[run['norm']].split(' (')[0]}, "
                                   + _warmup_words(run["warmup_updates"]))
            else:
                style = _main_style(run)
            pairs = [(u, v) for u, v in zip(train["update"], train["loss"]) if v is not None]
            if pairs:
                ax.plot([u for u, _ in pairs], _smooth([v for _, v in pairs]), color=NORM_COLORS[run["norm"]],
                        **{**style, "linewidth": 1.0})
            vpairs = [(u, v) for u, v in zip(valid["update"], valid["loss"]) if v is not None]
            if vpairs:
                shown.add(run["warmup_updates"])
                ax.plot(*zip(*vpairs), marker=markers[run["warmup_updates"]], markersize=4, linestyle="none",
                        color=NORM_COLORS[run["norm"]], alpha=style.get("alpha", 1.0))
        for warmup in sorted(shown):  # the markers' key: an empty line per shape, neutral color
            ax.plot([], [], marker=markers[warmup], markersize=4, linestyle="none", color=NEUTRAL,
                    label=f"validation, {_warmup_words(warmup)}")
        if unigram_bits is not None:
            ax.axhline(unigram_bits, color="gray", linestyle=(0, (1, 3)), linewidth=1.2,
                       label="unigram model" if col else _unigram_label(unigram_bits).replace(" (", "\n("))
        ax.set_ylim(top=(unigram_bits + 1.5) if unigram_bits else None)
        ax.set_xlabel("update")
        if col == 0:
            ax.set_ylabel("loss e (bits/token)")
        ax.set_title(title)
        _legend_below(ax)
    return fig


def plot_jacobian_vs_depth(toy: list[dict], runs: list[dict], main: tuple):
    """(a) ||d x_L/d x_0|| of L random eq.-31/32 blocks; (b) probe of d x_L/d x_l in the deep LMs."""
    fig, axes = new_figure(1, 2, size=(0.95 * TEXT_WIDTH_IN, 3.7), font_size=PRINT_FONT_PT, layout="constrained")
    ax = axes[0]
    for norm in NORMS:
        for key, marker, what in (("spectral_norm", "o", "spectral norm"),
                                  ("rms_singular_value", "s", "RMS sing. value")):
            depths = sorted({r["depth"] for r in toy if r["norm"] == norm})
            means = [np.mean([r[key] for r in toy if r["norm"] == norm and r["depth"] == d]) for d in depths]
            ax.plot(depths, means, marker=marker, color=NORM_COLORS[norm], linestyle="-" if key == "spectral_norm"
                    else "--", label=f"{NORM_LABELS[norm]}, {what}")
    ax.set_yscale("log")
    plain_log_axis(ax.yaxis, subs=(1.0, 2.0, 5.0))
    ax.set_xlabel("number of blocks L")
    ax.set_ylabel("||∂x_L / ∂x_0||")
    ax.set_title("(a) random blocks at initialisation")
    _legend_below(ax)
    ax = axes[1]
    shown = [(norm, main[1], ((0, "-"), (-1, "--"))) for norm in NORMS]
    if main[1] != 0:  # the same LR without warm-up, last probe: where post-norm fails
        shown += [(norm, 0, ((-1, ":"),)) for norm in NORMS]
    for norm, warmup, picks in shown:
        run = _find(runs, norm=norm, depth="deep", seed=GRID_SEED, lr_text=main[0], warmup_updates=warmup)
        if run is None or not run["series"]["jacobian"]["step"]:
            continue
        jac = run["series"]["jacobian"]
        for index, style in picks:
            values = [max(v, TINY) for v in jac["rms"][index]]
            top = len(values) - 1
            warm = f"warm-up {warmup}" if warmup else "no warm-up"
            ax.plot([top - layer for layer in range(len(values))], values, style, marker=".",
                    color=NORM_COLORS[norm],
                    label=f"{NORM_LABELS[norm].split(' (')[0]}, {warm}, update {jac['step'][index]}")
    ax.set_yscale("log")
    plain_log_axis(ax.yaxis)
    ax.set_xlabel("L − l (layers between x_l and x_L)")
    ax.set_ylabel("RMS singular value of ∂x_L / ∂x_l")
    ax.set_title(f"(b) deep LMs, LR {main[0]}, seed {GRID_SEED}")
    _legend_below(ax)
    return fig


#: Line colour of each seed's run (by the seed's rank among those drawn), dark to light, per norm.
SEED_SHADES = {"postnorm": ("#67000d", "#d62728", "#fc9272"), "prenorm": ("#08306b", "#1f77b4", "#9ecae1")}
DEPTH_STYLES = {"deep": "-", "shallow": (0, (3, 1.5))}


def collapse_runs_drawn(runs: list[dict], collapse: tuple | None) -> list[dict]:
    """The runs at the collapse setting ``(lr_text, warmup)``, or [] unless both depths ran there (nothing to
    draw: a study without the collapse runs)."""
    if collapse is None:
        return []
    chosen = [run for run in runs if (run["lr_text"], run["warmup_updates"]) == tuple(collapse)]
    return chosen if {run["depth"] for run in chosen} == set(DEPTHS) else []


def plot_collapse_deep_vs_shallow(runs: list[dict], collapse: tuple, key: str = "ratio_x"):
    """Bottom/top gradient ratio ``key`` (:data:`RATIOS`) against updates at the collapse setting ``collapse``
    ``(lr_text, warmup)``: one panel per norm, the deep model solid and the shallow one dashed, one line per seed
    (darker: lower seed), the level r = :data:`~nlp_experiments.prenorm.summary.COLLAPSED` dotted and named;
    each panel's legend below it, titled with its norm (the two differ otherwise only by colour), the y-axis in
    powers of ten (:func:`power_log_axis`). A panel without a run says so."""
    chosen = [run for run in runs if (run["lr_text"], run["warmup_updates"]) == tuple(collapse)]
    seeds = sorted({run["seed"] for run in chosen})
    fig, axes = new_figure(1, 2, size=(TEXT_WIDTH_IN, 3.3), squeeze=False, sharey=True, font_size=PRINT_FONT_PT,
                           layout="constrained")
    for ax, norm in zip(axes[0], NORMS):
        drawn = 0
        for run in sorted((run for run in chosen if run["norm"] == norm),
                          key=lambda run: (run["depth"] != "deep", run["seed"])):  # the legend's columns: deep, shallow
            pairs = [(s, max(v, TINY)) for s, v in zip(run["series"]["step"], run["series"][key]) if v is not None]
            if not pairs:
                continue
            drawn += 1
            shades = SEED_SHADES[norm]
            ax.plot(*zip(*pairs), color=shades[min(seeds.index(run["seed"]), len(shades) - 1)],
                    linestyle=DEPTH_STYLES[run["depth"]], linewidth=1.2,
                    label=f"{depth_words([run], run['depth'])}, seed {run['seed']}")
        ax.axhline(COLLAPSED, color="gray", linestyle=":", linewidth=1.0)
        ax.text(0.99, COLLAPSED, f"$r = {power_label(COLLAPSED).strip('$')}$", transform=ax.get_yaxis_transform(),
                ha="right", va="bottom", color="0.3", fontsize=SCRIPT_FONT_PT)
        if not drawn:
            ax.text(0.5, 0.5, f"no {norm[:-4]}-norm run at {lr_words(collapse[0])},\n{_warmup_words(collapse[1])}",
                    ha="center", va="center", transform=ax.transAxes, color="0.3")
        ax.set_yscale("log")
        power_log_axis(ax.yaxis)
        ax.set_xlabel("update")
        ax.set_title(f"{NORM_LABELS[norm]}, {lr_words(collapse[0])}, {_warmup_words(collapse[1])}")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False, ncol=2, handlelength=2.6,
                      title=NORM_LABELS[norm].split(" (")[0])
    axes[0][0].set_ylabel(RATIOS[key])
    return fig


def save_study_figures(runs: list[dict], entries: list[dict], toy: list[dict], main: tuple,
                       unigram_bits: float | None, out_dir: Path, collapse: tuple | None = None) -> list[Path]:
    """Every figure of the study as a PNG in ``out_dir``: ``runs`` loaded, ``entries`` of summary.json, ``toy``
    the Jacobian-vs-depth records, ``main`` the main setting ``(lr_text, warmup)``, ``unigram_bits`` the
    validation loss of the training text's unigram model (None: not drawn), ``collapse`` the collapse setting
    ``(lr_text, warmup)`` (None: none; its figure is skipped, with a log line, when the runs lack a depth there).
    Returns the paths. The figures carry no titles: the report's captions say what they show."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (grid, labels), (main_grid, main_labels) = heatmap_grids(runs, main)
    paths = [save_figure(plot_grid(entries, runs, unigram_bits), out_dir / "grid_valid_ppl.png")]
    for key, stem in (("grad_x", "gradnorm_heatmaps"), ("grad_param", "gradnorm_param_heatmaps")):
        paths.append(save_figure(plot_heatmaps(grid, labels, key), out_dir / f"{stem}.png"))
        paths.append(save_figure(plot_heatmaps(main_grid, main_labels, key, width_in=TEXT_WIDTH_IN),
                                 out_dir / f"{stem}_main.png"))
    paths.append(save_figure(plot_ratio_vs_steps(runs, main, "ratio_x"), out_dir / "ratio_vs_steps.png"))
    paths.append(save_figure(plot_ratio_vs_steps(runs, main, "ratio_param"), out_dir / "ratio_param_vs_steps.png"))
    paths.append(save_figure(plot_gradnorm_at_init(runs, main), out_dir / "gradnorm_at_init.png"))
    paths.append(save_figure(plot_loss_curves(runs, main, unigram_bits), out_dir / "loss_curves.png"))
    paths.append(save_figure(plot_jacobian_vs_depth(toy, runs, main), out_dir / "jacobian_vs_depth.png"))
    if collapse_runs_drawn(runs, collapse):
        paths.append(save_figure(plot_collapse_deep_vs_shallow(runs, collapse),
                                 out_dir / "collapse_deep_vs_shallow.png"))
    elif collapse is not None:
        logger.info("collapse_deep_vs_shallow.png: not drawn, the runs at LR %s, %s lack a depth (a study from "
                    "before the collapse runs)", collapse[0], _warmup_words(collapse[1]))
    return paths
