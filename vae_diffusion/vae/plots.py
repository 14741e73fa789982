"""Figures of the VAE part. Each function takes arrays/records and returns a matplotlib Figure.

The figures of the report are drawn at the width they print at (a fraction of :data:`mvadl.plotting.TEXT_WIDTH_IN`)
with :data:`mvadl.plotting.PRINT_FONT_PT` text, so their text prints at that size."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import SymmetricalLogLocator

from mvadl.plotting import PRINT_FONT_PT, TEXT_WIDTH_IN, bare_axes, new_figure, plain_log_axis, plain_number
from vae_diffusion.core.images import image_grid

_PAD = 2  # pixels between the cells of a grid


def _show(ax, images: np.ndarray, title: str, ncols: int = 8) -> None:
    """Images ``[N, 28, 28]`` (or ``[N, 784]``) in [0, 1] as a grid of ``ncols`` columns, 2 white pixels apart."""
    ax.imshow(image_grid(images, ncols, padding=_PAD, border=True), cmap="gray_r", vmin=0.0, vmax=1.0,
              interpolation="nearest")
    ax.set_title(title)
    bare_axes(ax, frame=True)


def label_strip_px(panel_width_in: float, ncols: int = 8, font_pt: float = PRINT_FONT_PT) -> int:
    """Height (pixels of the image) of the white strip under each row of a labelled grid that ``ncols`` cells
    span ``panel_width_in`` inches wide: one line of ``font_pt`` text and a pixel of air."""
    inches_per_px = panel_width_in / (ncols * (28 + _PAD) + _PAD)
    return int(np.ceil(font_pt / 72.0 / inches_per_px)) + 1


def labelled_grid(images: np.ndarray, strip: int, ncols: int = 8) -> np.ndarray:
    """Images ``[N, 28, 28]`` (or ``[N, 784]``) in [0, 1] tiled ``ncols`` to a row, each framed by ``_PAD`` dark
    pixels (1.0), with a white strip (0.0) ``strip`` pixels high under every row for the cells' labels:
    ``[rows * (28 + _PAD + strip) + _PAD, ncols * (28 + _PAD) + _PAD]``."""
    images = np.asarray(images, dtype=np.float64).reshape(-1, 28, 28)
    rows, pitch = -(-len(images) // ncols), 28 + _PAD + strip
    grid = np.ones((rows * pitch + _PAD, ncols * (28 + _PAD) + _PAD))
    for row in range(rows):
        grid[row * pitch + 28 + 2 * _PAD:(row + 1) * pitch, :] = 0.0  # the label strip, full width
    for i, image in enumerate(images):
        row, col = divmod(i, ncols)
        top, left = row * pitch + _PAD, col * (28 + _PAD) + _PAD
        grid[top:top + 28, left:left + 28] = image
    return grid


def _label_cells(ax, labels: Sequence[int], changed: Sequence[bool], strip: int, ncols: int = 8) -> None:
    """The digit read in each cell, centred in the white strip under it (:func:`labelled_grid`): red and bold
    where it differs from the previous panel's."""
    for i, (label, change) in enumerate(zip(labels, changed)):
        row, col = divmod(i, ncols)
        x = col * (28 + _PAD) + _PAD + 14
        y = row * (28 + _PAD + strip) + 28 + 2 * _PAD + strip / 2 - 0.5  # pixel centres sit at integers
        ax.text(x, y, str(label), ha="center", va="center", fontsize=PRINT_FONT_PT,
                color="red" if change else "tab:blue", fontweight="bold" if change else "normal")


def sample_grid_figure(images: np.ndarray, title: str) -> Figure:
    """One 8x8 grid of Bernoulli means f_theta(z) of 64 prior samples z ~ N(0, I)."""
    fig, ax = new_figure(1, 1, size=(4.2, 4.5))
    _show(ax, images, title)
    return fig


def samples_over_training_figure(grids: Mapping[int, np.ndarray], suptitle: str | None = None,
                                 digits: Mapping[int, Sequence[int]] | None = None) -> Figure:
    """The sample grids of several epochs side by side (same z for all), one titled panel per epoch, drawn for the
    full text width.

    ``digits``: ``{epoch: the digit read in each cell}``, printed under each cell, clear of the image (a white
    strip under every row, :func:`labelled_grid`); a digit that differs from the previous labelled epoch's is red
    and bold. A panel without digits is drawn at 0.6 of the others' width."""
    epochs = sorted(grids)
    labelled = [bool(digits) and epoch in digits for epoch in epochs]
    # A panel without digits is drawn smaller, leaving the labelled cells room for their digits.
    ratios = [1.0 if not digits or has else 0.6 for has in labelled]
    panel_in = TEXT_WIDTH_IN / sum(ratios)  # the width of a full panel (less the small gaps between panels)
    strip = label_strip_px(panel_in) if any(labelled) else 0
    square = 8 * (28 + _PAD) + _PAD
    height = panel_in * (8 * (28 + _PAD + strip) + _PAD) / square + 0.3
    fig, axes = new_figure(1, len(epochs), size=(TEXT_WIDTH_IN, height), squeeze=False, width_ratios=ratios,
                           font_size=PRINT_FONT_PT, layout="constrained")
    previous = None
    for ax, epoch, has in zip(axes[0], epochs, labelled):
        title = "before training (epoch 0)" if epoch == 0 else f"after {epoch} epochs"
        if not has:
            _show(ax, grids[epoch], title)
            continue
        ax.imshow(labelled_grid(grids[epoch], strip), cmap="gray_r", vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_title(title)
        bare_axes(ax, frame=True)
        labels = list(digits[epoch])
        changed = [previous is not None and a != b for a, b in zip(labels, previous or labels)]
        _label_cells(ax, labels, changed, strip)
        previous = labels
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def reconstruction_figure(inputs: np.ndarray, reconstructions: np.ndarray, title: str | None = None,
                          width_in: float = 0.65 * TEXT_WIDTH_IN) -> Figure:
    """Binarized test images (top) and the decoder means f_theta(mu_phi(x)) of their encodings (bottom), drawn
    ``width_in`` inches wide."""
    height = 2 * width_in / len(inputs) + 0.45 + (0.25 if title else 0.0)
    fig, axes = new_figure(2, 1, size=(width_in, height), squeeze=False, font_size=PRINT_FONT_PT,
                           layout="constrained")
    _show(axes[0, 0], inputs, "binarized test images x", ncols=len(inputs))
    _show(axes[1, 0], reconstructions, "reconstructions f(mu(x)) (Bernoulli means)", ncols=len(reconstructions))
    if title:
        fig.suptitle(title)
    return fig


def training_curves_figure(history: Sequence[Mapping[str, float]], title: str | None = None,
                           width_in: float = TEXT_WIDTH_IN) -> Figure:
    """Train/test ELBO (and the train IWAE bound of a K > 1 run) and test KL / reconstruction term per epoch
    (nats per image), drawn ``width_in`` inches wide."""
    epochs = [h["epoch"] for h in history]
    fig, axes = new_figure(1, 2, size=(width_in, 2.3 + (0.25 if title else 0.0)), font_size=PRINT_FONT_PT,
                           layout="constrained")
    axes[0].plot(epochs, [h["train_elbo"] for h in history], label="train ELBO (dynamic binarization)")
    if history and all("train_iwae_bound" in h for h in history):  # IWAE training (K > 1): the objective it maximised
        axes[0].plot(epochs, [h["train_iwae_bound"] for h in history], label="train IWAE bound L_K")
    axes[0].plot(epochs, [h["test_elbo"] for h in history], label="test ELBO (fixed binarization)")
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("ELBO (nats / image)")
    axes[0].legend()
    axes[1].plot(epochs, [h["test_kl"] for h in history], label="test KL(q(z|x) || p(z))")
    axes[1].plot(epochs, [-h["test_recon_log_likelihood"] for h in history],
                 label="test \u2212E_q[log p(x|z)]")  # a minus sign, not a hyphen
    axes[1].set_xlabel("epoch")
    axes[1].set_ylabel("nats / image")
    axes[1].set_yscale("log")
    plain_log_axis(axes[1].yaxis, subs=(1.0, 2.0, 5.0))
    axes[1].legend()
    if title:
        fig.suptitle(title)
    return fig


def naive_mc_figure(records: Sequence[Mapping], title: str | None = None, width_in: float = TEXT_WIDTH_IN) -> Figure:
    """Q2: bias and spread of the naive estimator (eq. 7) vs the number L of prior samples, per latent size, drawn
    ``width_in`` inches wide.

    Each record has ``z_dim``, ``sample_counts``, ``bias_mean`` (mean over images of E[naive] - IS, nats),
    ``noise_std`` (mean over images of the std across repeats, nats).
    """
    fig, axes = new_figure(1, 2, size=(width_in, 2.5 + (0.25 if title else 0.0)), font_size=PRINT_FONT_PT,
                           layout="constrained")
    for record in records:
        label = f"$D$ = {record['z_dim']}"
        axes[0].plot(record["sample_counts"], record["bias_mean"], marker="o", ms=3, label=label)
        axes[1].plot(record["sample_counts"], record["noise_std"], marker="o", ms=3, label=label)
    axes[0].set_ylabel("mean naive minus IS log p(x) (nats)")
    axes[0].set_title("bias (below 0: underestimate)")
    axes[0].set_yscale("symlog", linthresh=1.0)
    axes[0].axhline(0.0, color="black", lw=0.8)
    axes[1].set_ylabel("std over repeats (nats)")
    axes[1].set_title("spread")
    axes[1].set_yscale("log")
    plain_log_axis(axes[1].yaxis)
    for ax in axes:
        ax.set_xscale("log")
        plain_log_axis(ax.xaxis)
        ax.set_xlabel("number of prior samples L")
    axes[0].legend()
    axes[1].legend(loc="lower left")  # the lines fall from the top left to the bottom right
    if title:
        fig.suptitle(title)
    # ticks and grid lines at the decades, plus 2 and 5 where the axis is logarithmic above 1 (so that a bias of 2
    # reads as 2, not as "about 1"); labelled as many as fit without touching (:func:`spaced_ticks`)
    low, high = axes[0].get_ylim()
    ticks = [t for t in (-10000, -1000, -100, -10, -1, 0, 1, 2, 5, 10, 20, 50, 100) if low <= t <= high]
    labelled = spaced_ticks(axes[0], ticks)
    axes[0].set_yticks(ticks, labels=[plain_number(t) if t in labelled else "" for t in ticks])
    axes[0].set_ylim(low, high)
    axes[0].yaxis.set_minor_locator(SymmetricalLogLocator(linthresh=1.0, base=10, subs=tuple(range(2, 10))))
    return fig


def spaced_ticks(ax, candidates: Sequence[float], font_pt: float = PRINT_FONT_PT, air: float = 1.3) -> list[float]:
    """The ``candidates`` (y values) whose labels on ``ax``'s y axis, drawn as laid out now, stand at least ``air``
    lines of ``font_pt`` text apart: 0 first, then the positive ones from the largest down (the top of the data),
    then the negative ones from -1 down; a candidate too close to one already kept is left out."""
    ax.figure.draw_without_rendering()  # the final layout, so that positions are those that print
    position = lambda t: ax.transData.transform((0.0, t))[1]
    gap = air * font_pt * ax.figure.dpi / 72.0
    kept: list[float] = []
    for t in sorted(candidates, key=lambda t: (t != 0, t < 0, -t)):
        if all(abs(position(t) - position(k)) >= gap for k in kept):
            kept.append(t)
    return sorted(kept)
