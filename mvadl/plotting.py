"""One look for every figure of the project, and atomic PNG saving.

Plot functions elsewhere take arrays/records and return a :class:`matplotlib.figure.Figure` made by
:func:`new_figure`; the caller saves it with :func:`save_figure`. The figures are plain ``Figure`` objects, not
pyplot ones: they are files, so they need no backend, no display and no global figure registry, and importing
this module chooses no backend for the program that imports it.
"""
from __future__ import annotations

import os
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure

from mvadl.io import atomic_path

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
    matplotlib.rcParams.update(STYLE)


#: Keyword arguments of ``plt.subplots`` that go to ``Figure.subplots``; the others go to ``Figure``.
_SUBPLOTS_ARGUMENTS = {"sharex", "sharey", "squeeze", "width_ratios", "height_ratios", "subplot_kw", "gridspec_kw"}


def new_figure(nrows: int = 1, ncols: int = 1, *, size: tuple[float, float] | None = None, **kwargs):
    """``plt.subplots(nrows, ncols, figsize=size, **kwargs)`` with the project style, without pyplot;
    returns ``(fig, axes)``."""
    use_style()
    fig = Figure(figsize=size or (4.5 * ncols, 3.5 * nrows),
                 **{k: v for k, v in kwargs.items() if k not in _SUBPLOTS_ARGUMENTS})
    return fig, fig.subplots(nrows, ncols, **{k: v for k, v in kwargs.items() if k in _SUBPLOTS_ARGUMENTS})


def bare_axes(ax, *, frame: bool = False) -> None:
    """An axes that shows an image only: no ticks, no grid, and no frame unless ``frame``."""
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    if not frame:
        for spine in ax.spines.values():
            spine.set_visible(False)


def save_figure(fig: Figure, path: str | os.PathLike) -> Path:
    """Save ``fig`` as PNG at ``path`` atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return path
