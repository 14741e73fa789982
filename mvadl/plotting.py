"""One look for every figure of the project, and atomic PNG saving.

Plot functions elsewhere take arrays/records and return a :class:`matplotlib.figure.Figure`; they call
:func:`use_style` first and the caller saves with :func:`save_figure`.
"""
from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures are files; no display is needed or assumed
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from mvadl.io import atomic_path  # noqa: E402

STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "image.cmap": "viridis",
}


def use_style() -> None:
    """Apply the project's matplotlib defaults (readable fonts, light grid, tight PNGs)."""
    plt.rcParams.update(STYLE)


def new_figure(nrows: int = 1, ncols: int = 1, *, size: tuple[float, float] | None = None, **kwargs):
    """``plt.subplots`` with the project style; returns ``(fig, axes)``."""
    use_style()
    size = size or (4.5 * ncols, 3.5 * nrows)
    return plt.subplots(nrows, ncols, figsize=size, **kwargs)


def save_figure(fig: Figure, path: str | os.PathLike) -> Path:
    """Save ``fig`` as PNG at ``path`` atomically and close it."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path
