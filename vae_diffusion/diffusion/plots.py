"""Figures of the diffusion part; each takes arrays/records and returns a matplotlib Figure."""
from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from mvadl.plotting import PRINT_FONT_PT, TEXT_WIDTH_IN, bare_axes, new_figure, plain_log_axis
from vae_diffusion.core.images import image_grid
from vae_diffusion.diffusion.sampling import SCHEDULERS, noise_schedule_variants


def plot_samples(images: np.ndarray, nrow: int = 8, title: str = "") -> Figure:
    """A grid of digits ``[N, H, W]`` in [0, 1]."""
    fig, ax = new_figure(1, 1, size=(0.6 * nrow, 0.6 * (-(-len(images) // nrow)) + 0.4))
    ax.imshow(image_grid(images, nrow), cmap="gray", vmin=0, vmax=1)
    ax.set_axis_off()
    ax.set_title(title)
    return fig


def fid_text(fid: float) -> str:
    """An FID in three significant digits and at most four characters: 0.86, 4.84, 49.2, 251 (grid captions of
    eleven columns stay apart)."""
    return f"{fid:.2f}" if fid < 10 else f"{fid:.1f}" if fid < 100 else f"{fid:.0f}"


def column_titles(schedulers: Sequence[str], width: int = 9) -> list[str]:
    """Each scheduler's name wrapped onto lines of about ``width`` characters; a noise-schedule variant right
    after its base solver (``Euler``, ``Euler Karras``) is titled by what it adds (``+ Karras``)."""
    variant_of = {variant: base for base, variant in
                  noise_schedule_variants([n for n in schedulers if n in SCHEDULERS]).items()}
    titles = []
    for c, name in enumerate(schedulers):
        base = variant_of.get(name)
        if base is not None and c > 0 and schedulers[c - 1] == base and name.startswith(base):
            titles.append("+ " + name[len(base):].strip())
        else:
            titles.append("\n".join(textwrap.wrap(name, width, break_long_words=False)))
    return titles


def plot_scheduler_grid(cells: Mapping[tuple[int, str], np.ndarray], steps: Sequence[int],
                        schedulers: Sequence[str], captions: Mapping[tuple[int, str], str] | None = None) -> Figure:
    """Rows = numbers of steps, columns = schedulers; each cell a small tile of digits ``[k, H, W]``
    generated from the same initial noise, drawn at the text width with 8-pt text (titles and captions wrapped
    onto short lines to fit a column, :func:`column_titles`). ``captions[(steps, name)]`` goes under the cell,
    one line per comma."""
    columns = len(schedulers)
    titles = column_titles(schedulers)
    cell = TEXT_WIDTH_IN / (columns * 1.2 + 0.45)
    below = 0.34 if captions else 0.04  # inches of caption text under each row
    height = len(steps) * (cell + below + 0.06) + 0.45
    fig, axes = new_figure(len(steps), columns, size=(TEXT_WIDTH_IN, height), squeeze=False,
                           font_size=PRINT_FONT_PT)
    for r, n_steps in enumerate(steps):
        for c, name in enumerate(schedulers):
            ax = axes[r][c]
            tile = cells[(n_steps, name)]
            ax.imshow(image_grid(tile, int(np.ceil(np.sqrt(len(tile))))), cmap="gray", vmin=0, vmax=1)
            bare_axes(ax)
            if r == 0:
                ax.set_title(titles[c])
            if c == 0:
                ax.set_ylabel(f"{n_steps} steps")
            if captions and (n_steps, name) in captions:
                ax.set_xlabel(captions[(n_steps, name)].replace(", ", "\n"))
    fig.subplots_adjust(left=0.45 / TEXT_WIDTH_IN, right=0.995, top=1 - 0.4 / height, bottom=below / height,
                        wspace=0.2, hspace=(below + 0.06) / cell)
    return fig


def plot_variant_rows(cells: Mapping[tuple[str, int], np.ndarray], variants: Sequence[str],
                      steps: Sequence[int], reference_steps: int | None = None) -> Figure:
    """Rows = config variants (labelled at the left, one line each), columns = numbers of steps; each cell a strip
    of digits ``[k, H, W]`` from the same initial noise, drawn at the text width with 8-pt text. The column of
    ``reference_steps`` is titled as each variant's own reference."""
    k = max(len(tile) for tile in cells.values())
    label_in = 2.0  # inches of row labels at the left
    cell_w = (TEXT_WIDTH_IN - label_in - 0.1) / (len(steps) * 1.08)
    cell_h = cell_w / k
    height = len(variants) * cell_h * 1.25 + 0.45
    fig, axes = new_figure(len(variants), len(steps), size=(TEXT_WIDTH_IN, height), squeeze=False,
                           font_size=PRINT_FONT_PT)
    for r, variant in enumerate(variants):
        for c, n in enumerate(steps):
            ax = axes[r][c]
            ax.imshow(image_grid(cells[(variant, n)], k), cmap="gray", vmin=0, vmax=1)
            bare_axes(ax)
            if r == 0:
                ax.set_title(f"{n} steps" + (" (reference)" if n == reference_steps else ""))
            if c == 0:
                ax.set_ylabel(variant, rotation=0, ha="right", va="center")
    fig.subplots_adjust(left=label_in / TEXT_WIDTH_IN, right=0.995, top=1 - 0.3 / height, bottom=0.05 / height,
                        wspace=0.08, hspace=0.25)
    return fig


def scheduler_styles(names: Sequence[str]) -> dict[str, dict]:
    """Line style of each scheduler: a colour per solver (up to 20), and a noise-schedule variant (its Karras-sigmas
    row, :func:`~vae_diffusion.diffusion.sampling.noise_schedule_variants`) in its base solver's colour, dotted;
    names outside the registry get their own colour."""
    known = [name for name in names if name in SCHEDULERS]
    variant_of = {variant: base for base, variant in noise_schedule_variants(known).items()}
    bases = [name for name in names if name not in variant_of]
    colours = colormaps["tab20" if len(bases) > 10 else "tab10"].colors
    styles = {name: {"color": colours[i % len(colours)], "linestyle": "-"} for i, name in enumerate(bases)}
    for variant, base in variant_of.items():
        styles[variant] = {"color": styles[base]["color"], "linestyle": ":"}
    return styles


def _line_figure() -> tuple[Figure, object]:
    fig, ax = new_figure(1, 1, size=(TEXT_WIDTH_IN, 3.6), font_size=PRINT_FONT_PT)
    return fig, ax


def _legend_below(fig: Figure, ax) -> None:
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3, frameon=False)
    fig.subplots_adjust(left=0.1, right=0.98, top=0.97, bottom=0.36)


def plot_convergence(steps: Sequence[int], distances: Mapping[str, Sequence[float]], reference_steps: int,
                     stochastic: Mapping[str, bool]) -> Figure:
    """RMS pixel distance of each scheduler's samples to its own ``reference_steps`` result, vs steps; drawn at
    the text width with 8-pt text (stochastic samplers dashed, noise-schedule variants dotted in their solver's
    colour)."""
    fig, ax = _line_figure()
    styles = scheduler_styles(list(distances))
    for name, values in distances.items():
        style = {**styles[name], **({"linestyle": "--"} if stochastic.get(name) else {})}
        ax.plot(steps, values, marker="o", markersize=3, label=name + (" (stochastic)" if stochastic.get(name)
                                                                        else ""), **style)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(list(steps), [str(s) for s in steps])
    ax.minorticks_off()
    plain_log_axis(ax.yaxis)
    ax.set_xlabel("number of inference steps")
    ax.set_ylabel(f"RMS distance to own\n{reference_steps}-step result")
    _legend_below(fig, ax)
    return fig


def plot_fid_vs_evaluations(records: Sequence[Mapping], floor: float | None = None) -> Figure:
    """Frechet distance of each (scheduler, steps) cell against its number of model evaluations; drawn at the text
    width with 8-pt text (noise-schedule variants dotted in their solver's colour)."""
    fig, ax = _line_figure()
    names = list(dict.fromkeys(r["scheduler"] for r in records))
    styles = scheduler_styles(names)
    for name in names:
        rows = sorted((r for r in records if r["scheduler"] == name), key=lambda r: r["model_evaluations"])
        ax.plot([r["model_evaluations"] for r in rows], [r["fid"] for r in rows], marker="o", markersize=3,
                label=name, **styles[name])
    if floor is not None:
        ax.axhline(floor, color="gray", linestyle="-.", linewidth=1, label="real vs real (same n)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    plain_log_axis(ax.xaxis, subs=(1.0, 2.0, 5.0))
    plain_log_axis(ax.yaxis, subs=(1.0, 2.0, 5.0))
    ax.set_xlabel("model evaluations per image")
    ax.set_ylabel("FID on classifier features")
    _legend_below(fig, ax)
    return fig


def plot_convergence_panels(steps: Sequence[int], distances: Mapping[str, Sequence[float]],
                            panel_of: Mapping[str, str], reference_steps: int) -> Figure:
    """:func:`plot_convergence` with one panel per group (``panel_of[label]``, e.g. the scheduler), so that
    variants of one scheduler are compared on their own; the first label of a panel is drawn dashed in black."""
    panels = list(dict.fromkeys(panel_of[label] for label in distances))
    fig, axes = new_figure(1, len(panels), size=(4.2 * len(panels), 4.0), squeeze=False, sharey=True)
    for ax, panel in zip(axes[0], panels):
        labels = [label for label in distances if panel_of[label] == panel]
        for i, label in enumerate(labels):
            style = {"color": "black", "linestyle": "--"} if i == 0 else {}
            ax.plot(steps, distances[label], marker="o", label=label, **style)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(list(steps), [str(s) for s in steps])
        ax.minorticks_off()
        ax.set_xlabel("number of inference steps")
        ax.set_title(panel)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel(f"RMS distance to own {reference_steps}-step result\n(pixels in [-1, 1])")
    fig.suptitle("Convergence with the number of steps per config variant (same initial noise)")
    return fig
