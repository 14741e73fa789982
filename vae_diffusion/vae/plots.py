"""Figures of the VAE part. Each function takes arrays/records and returns a matplotlib Figure."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from mvadl.plotting import bare_axes, new_figure
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
        ax.text(col * (28 + _PAD) + _PAD + 27, row * (28 + _PAD) + _PAD + 1, str(label), ha="right", va="top",
                fontsize=7, color="red" if change else "tab:blue", fontweight="bold" if change else "normal")


def sample_grid_figure(images: np.ndarray, title: str) -> Figure:
    """One 8x8 grid of Bernoulli means f_theta(z) of 64 prior samples z ~ N(0, I)."""
    fig, ax = new_figure(1, 1, size=(4.2, 4.5))
    _show(ax, images, title)
    return fig


def samples_over_training_figure(grids: Mapping[int, np.ndarray], suptitle: str,
                                 digits: Mapping[int, Sequence[int]] | None = None) -> Figure:
    """The sample grids of several epochs side by side (same z for all), one titled panel per epoch.

    ``digits``: ``{epoch: the digit read in each cell}``, printed in the cells' corners; a digit that differs from
    the previous labelled epoch's is red."""
    epochs = sorted(grids)
    fig, axes = new_figure(1, len(epochs), size=(4.2 * len(epochs), 4.6), squeeze=False)
    previous = None
    for ax, epoch in zip(axes[0], epochs):
        _show(ax, grids[epoch], "before training (epoch 0)" if epoch == 0 else f"after {epoch} epochs")
        if digits and epoch in digits:
            labels = list(digits[epoch])
            changed = [previous is not None and a != b for a, b in zip(labels, previous or labels)]
            _label_cells(ax, labels, changed)
            previous = labels
    fig.suptitle(suptitle)
    return fig


def reconstruction_figure(inputs: np.ndarray, reconstructions: np.ndarray, title: str) -> Figure:
    """Binarized test images (top) and the decoder means f_theta(mu_phi(x)) of their encodings (bottom)."""
    fig, axes = new_figure(2, 1, size=(8.5, 3.0), squeeze=False)
    _show(axes[0, 0], inputs, "binarized test images x", ncols=len(inputs))
    _show(axes[1, 0], reconstructions, "reconstructions f(mu(x)) (Bernoulli means)", ncols=len(reconstructions))
    fig.suptitle(title)
    return fig


def training_curves_figure(history: Sequence[Mapping[str, float]], title: str) -> Figure:
    """Train/test ELBO (and the train IWAE bound of a K > 1 run) and test KL / reconstruction term per epoch
    (nats per image)."""
    epochs = [h["epoch"] for h in history]
    fig, axes = new_figure(1, 2, size=(10, 3.6))
    axes[0].plot(epochs, [h["train_elbo"] for h in history], label="train ELBO (dynamic binarization)")
    if history and all("train_iwae_bound" in h for h in history):  # IWAE training (K > 1): the objective it maximised
        axes[0].plot(epochs, [h["train_iwae_bound"] for h in history], label="train IWAE bound L_K")
    axes[0].plot(epochs, [h["test_elbo"] for h in history], label="test ELBO (fixed binarization)")
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("ELBO (nats / image)")
    axes[0].legend()
    axes[1].plot(epochs, [h["test_kl"] for h in history], label="test KL(q(z|x) || p(z))")
    axes[1].plot(epochs, [-h["test_recon_log_likelihood"] for h in history], label="test -E_q[log p(x|z)]")
    axes[1].set_xlabel("epoch")
    axes[1].set_ylabel("nats / image")
    axes[1].set_yscale("log")
    axes[1].legend()
    fig.suptitle(title)
    return fig


def naive_mc_figure(records: Sequence[Mapping], title: str) -> Figure:
    """Q2: bias and spread of the naive estimator (eq. 7) vs the number L of prior samples, per latent size.

    Each record has ``z_dim``, ``sample_counts``, ``bias_mean`` (mean over images of E[naive] - IS, nats),
    ``noise_std`` (mean over images of the std across repeats, nats).
    """
    fig, axes = new_figure(1, 2, size=(11, 4.0))
    for record in records:
        label = f"latent size {record['z_dim']}"
        axes[0].plot(record["sample_counts"], record["bias_mean"], marker="o", ms=3, label=label)
        axes[1].plot(record["sample_counts"], record["noise_std"], marker="o", ms=3, label=label)
    axes[0].set_ylabel("mean(naive log p(x)) - IS log p(x)  (nats)")
    axes[0].set_title("bias (0 = unbiased; below 0 = underestimate)")
    axes[0].set_yscale("symlog", linthresh=1.0)
    axes[0].axhline(0.0, color="black", lw=0.8)
    axes[1].set_ylabel("std over repeated estimates (nats)")
    axes[1].set_title("noise")
    axes[1].set_yscale("log")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("number of prior samples L")
        ax.legend()
    fig.suptitle(title)
    return fig
