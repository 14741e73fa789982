"""Figures of the VAE part. Each function takes arrays/records and returns a matplotlib Figure.

The figures of the report are drawn at the width they print at (a fraction of :data:`mvadl.plotting.TEXT_WIDTH_IN`)
with :data:`mvadl.plotting.PRINT_FONT_PT` text, so their text prints at that size."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, SymmetricalLogLocator

from mvadl.plotting import PRINT_FONT_PT, TEXT_WIDTH_IN, bare_axes, new_figure, plain_log_axis, plain_number
from vae_diffusion.core.images import image_grid

_PAD = 2  # pixels between the cells of a grid


def _show(ax, images: np.ndarray, title: str, ncols: int = 8) -> None:
    """Images ``[N, 28, 28]`` (or ``[N, 784]``) in [0, 1] as a grid of ``ncols`` columns, 2 white pixels apart."""
    ax.imshow(image_grid(images, ncols, padding=_PAD, border=True), cmap="gray_r", vmin=0.0, vmax=1.0,
              interpolation="nearest")
    ax.set_title(title)
    bare_axes(ax, frame=True)


def _label_cells(ax, labels: Sequence[int], changed: Sequence[bool], ncols: int = 8) -> None:
    """The digit read in each cell, in its top-right corner: red and bold where it differs from the previous
    panel's."""
    for i, (label, change) in enumerate(zip(labels, changed)):
        row, col = divmod(i, ncols)
        ax.text(col * (28 + _PAD) + _PAD + 28, row * (28 + _PAD) + _PAD - 0.5, str(label), ha="right", va="top",
                fontsize=PRINT_FONT_PT, color="red" if change else "tab:blue",
                fontweight="bold" if change else "normal")


def sample_grid_figure(images: np.ndarray, title: str) -> Figure:
    """One 8x8 grid of Bernoulli means f_theta(z) of 64 prior samples z ~ N(0, I)."""
    fig, ax = new_figure(1, 1, size=(4.2, 4.5))
    _show(ax, images, title)
    return fig


def samples_over_training_figure(grids: Mapping[int, np.ndarray], suptitle: str | None = None,
                                 digits: Mapping[int, Sequence[int]] | None = None) -> Figure:
    """The sample grids of several epochs side by side (same z for all), one titled panel per epoch, drawn for the
    full text width.

    ``digits``: ``{epoch: the digit read in each cell}``, printed in the cells' corners; a digit that differs from
    the previous labelled epoch's is red. A panel without digits is drawn at 0.6 of the others' width."""
    epochs = sorted(grids)
    # A panel without digits is drawn smaller, leaving the labelled cells room for their digits.
    ratios = [1.0 if not digits or epoch in digits else 0.6 for epoch in epochs]
    height = TEXT_WIDTH_IN / sum(ratios) + 0.3
    fig, axes = new_figure(1, len(epochs), size=(TEXT_WIDTH_IN, height), squeeze=False, width_ratios=ratios,
                           font_size=PRINT_FONT_PT, layout="constrained")
    previous = None
    for ax, epoch in zip(axes[0], epochs):
        _show(ax, grids[epoch], "before training (epoch 0)" if epoch == 0 else f"after {epoch} epochs")
        if digits and epoch in digits:
            labels = list(digits[epoch])
            changed = [previous is not None and a != b for a, b in zip(labels, previous or labels)]
            _label_cells(ax, labels, changed)
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
        label = f"latent size {record['z_dim']}"
        axes[0].plot(record["sample_counts"], record["bias_mean"], marker="o", ms=3, label=label)
        axes[1].plot(record["sample_counts"], record["noise_std"], marker="o", ms=3, label=label)
    axes[0].set_ylabel("mean naive minus IS log p(x) (nats)")
    axes[0].set_title("bias (below 0: underestimate)")
    axes[0].set_yscale("symlog", linthresh=1.0)
    axes[0].axhline(0.0, color="black", lw=0.8)
    axes[1].set_ylabel("std over repeats (nats)")
    axes[1].set_title("spread")
    axes[1].set_yscale("log")
    # decades, plus 2 and 5 where the axis is logarithmic above 1 (so that a bias of 2 reads as 2, not as "about 1")
    low, high = axes[0].get_ylim()
    axes[0].set_yticks([t for t in (-10000, -1000, -100, -10, -1, 0, 1, 2, 5, 10, 20, 50, 100) if low <= t <= high])
    axes[0].set_ylim(low, high)
    axes[0].yaxis.set_minor_locator(SymmetricalLogLocator(linthresh=1.0, base=10, subs=tuple(range(2, 10))))
    axes[0].yaxis.set_major_formatter(FuncFormatter(plain_number))
    plain_log_axis(axes[1].yaxis)
    for ax in axes:
        ax.set_xscale("log")
        plain_log_axis(ax.xaxis)
        ax.set_xlabel("number of prior samples L")
        ax.legend()
    if title:
        fig.suptitle(title)
    return fig
