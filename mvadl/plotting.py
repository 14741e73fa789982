"""One look for every figure of the project, atomic PNG saving, and the printed size of a saved figure's text.

Plot functions elsewhere take arrays/records and return a :class:`matplotlib.figure.Figure` made by
:func:`new_figure`; the caller saves it with :func:`save_figure`. The figures are plain ``Figure`` objects, not
pyplot ones: they are files, so they need no backend, no display and no global figure registry, and importing
this module chooses no backend for the program that imports it.

A figure is drawn for the page it lands on: :func:`save_figure` records in the PNG the smallest font size it drew
(:func:`smallest_text`), and :func:`read_saved_figure` gives the size that text prints at when the PNG is scaled
to a given width on paper (``font_pt * printed_width / saved_width``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

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


#: Width (inches) a figure of the report is drawn for: that of the text on A4 pages with 2.2 cm margins, at most the
#: text width of report/template.typ (checked by tests/test_figure_legibility.py), so that a figure drawn this
#: wide prints its text at least at its drawn size when included at ``width=100%``.
TEXT_WIDTH_IN = (210.0 - 2 * 22.0) / 25.4
#: Font size (points) of a figure drawn at its printed width: at least 7 pt on paper, with a margin.
PRINT_FONT_PT = 8.0


def use_style(font_size: float | None = None) -> None:
    """Apply the project's matplotlib defaults (readable fonts, light grid, tight PNGs); ``font_size``: every
    text (labels, ticks, titles, legends) at that size, for a figure drawn at its printed width."""
    matplotlib.rcParams.update(STYLE)
    if font_size is not None:
        matplotlib.rcParams.update({key: font_size for key in (
            "font.size", "axes.titlesize", "axes.labelsize", "legend.fontsize", "legend.title_fontsize",
            "xtick.labelsize", "ytick.labelsize", "figure.titlesize")})


#: Keyword arguments of ``plt.subplots`` that go to ``Figure.subplots``; the others go to ``Figure``.
_SUBPLOTS_ARGUMENTS = {"sharex", "sharey", "squeeze", "width_ratios", "height_ratios", "subplot_kw", "gridspec_kw"}


def new_figure(nrows: int = 1, ncols: int = 1, *, size: tuple[float, float] | None = None,
               font_size: float | None = None, **kwargs):
    """``plt.subplots(nrows, ncols, figsize=size, **kwargs)`` with the project style (all text at ``font_size``
    points if given, :func:`use_style`), without pyplot; returns ``(fig, axes)``."""
    use_style(font_size)
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


#: PNG text keys of :func:`save_figure`: the smallest font size drawn (points, or "none" without text) and its text.
SMALLEST_FONT_KEY = "smallest_font_pt"
SMALLEST_TEXT_KEY = "smallest_font_text"


def drawn_texts(fig: Figure) -> list[Text]:
    """The texts ``fig`` shows: its visible ``Text`` artists with non-blank text, leaving out those of a hidden
    axes and the tick and axis labels of an axes drawn without its axis (``set_axis_off``). Tick labels are
    complete only once the figure has been drawn (:meth:`Figure.draw_without_rendering`)."""
    hidden: set[int] = set()
    for ax in fig.axes:
        if not ax.get_visible():
            hidden.update(id(t) for t in ax.findobj(Text))
        elif not ax.axison:
            hidden.update(id(t) for name in ("xaxis", "yaxis", "zaxis") if hasattr(ax, name)
                          for t in getattr(ax, name).findobj(Text))
    return [t for t in fig.findobj(Text)
            if id(t) not in hidden and t.get_visible() and t.get_text().strip()]


#: Scale of a mathtext superscript or subscript (matplotlib's ``_mathtext.SHRINK_FACTOR``).
MATHTEXT_SCRIPT_SCALE = 0.7


def drawn_size(text: Text) -> float:
    """Size (points) of the smallest glyphs of ``text``: its font size, times 0.7 when it is mathtext with a
    superscript or subscript (``$10^{-6}$``), which matplotlib draws at 0.7 of the font size."""
    parts = text.get_text().split("$")
    math = parts[1::2] if len(parts) > 2 and len(parts) % 2 == 1 else []
    scripts = any(("^" in part or "_" in part) for part in math)
    return float(text.get_fontsize()) * (MATHTEXT_SCRIPT_SCALE if scripts else 1.0)


def smallest_text(fig: Figure) -> tuple[float, str] | None:
    """``(size in points, text)`` of the smallest text ``fig`` draws (:func:`drawn_texts`, :func:`drawn_size`),
    None without text."""
    fig.draw_without_rendering()
    texts = drawn_texts(fig)
    if not texts:
        return None
    smallest = min(texts, key=drawn_size)
    return drawn_size(smallest), smallest.get_text()


def plain_number(value: float, _position=None) -> str:
    """A tick label without superscripts: ``0.5``, ``200``, ``1e-6`` (an exponent prints as small as 0.7 of the
    tick font)."""
    if value == 0:
        return "0"
    if 1e-3 <= abs(value) < 1e5:
        text = f"{value:g}"
    else:
        mantissa, exponent = f"{value:.0e}".split("e")
        text = f"{mantissa}e{int(exponent)}"
    return text.replace("-", "\N{MINUS SIGN}")


def plain_log_axis(axis, subs: tuple[float, ...] = (1.0,)) -> None:
    """Major ticks of a log ``axis`` (``ax.xaxis`` / ``ax.yaxis``) at ``subs`` times the powers of ten, labelled
    with :func:`plain_number`; minor ticks unlabelled."""
    axis.set_major_locator(LogLocator(base=10, subs=subs))
    axis.set_major_formatter(FuncFormatter(plain_number))
    axis.set_minor_formatter(NullFormatter())


def save_figure(fig: Figure, path: str | os.PathLike) -> Path:
    """Save ``fig`` as PNG at ``path`` atomically, with the smallest font size it draws (:func:`smallest_text`)
    in the PNG's text chunks; the PNG records its dpi (pHYs), so :func:`read_saved_figure` knows its width in
    inches."""
    path = Path(path)
    smallest = smallest_text(fig)
    metadata = {SMALLEST_FONT_KEY: "none", SMALLEST_TEXT_KEY: ""} if smallest is None else {
        SMALLEST_FONT_KEY: f"{smallest[0]:g}", SMALLEST_TEXT_KEY: smallest[1][:200]}
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", metadata=metadata)
    return path


@dataclass(frozen=True)
class SavedFigure:
    """What a PNG of :func:`save_figure` says about its text: its width in inches (pixels / dpi) and the smallest
    font it was drawn with (None: no text)."""

    path: Path
    width_in: float
    smallest_font_pt: float | None
    smallest_text: str

    def printed_font_pt(self, printed_width_in: float) -> float | None:
        """Size of the smallest text when the figure is printed ``printed_width_in`` inches wide:
        ``font_pt * printed_width_in / width_in``."""
        if self.smallest_font_pt is None:
            return None
        return self.smallest_font_pt * printed_width_in / self.width_in


def read_saved_figure(path: str | os.PathLike) -> SavedFigure:
    """The :class:`SavedFigure` of a PNG written by :func:`save_figure`; ValueError if the PNG does not record
    its dpi or its smallest font (drawn some other way)."""
    from PIL import Image

    path = Path(path)
    with Image.open(path) as image:
        width_px, info = image.size[0], dict(image.info)
        text = dict(getattr(image, "text", {}) or {})
    dpi = info.get("dpi")
    if not dpi or not dpi[0]:
        raise ValueError(f"{path}: the PNG records no dpi (pHYs); save it with mvadl.plotting.save_figure")
    if SMALLEST_FONT_KEY not in text:
        raise ValueError(f"{path}: the PNG records no smallest font size; redraw it with "
                         f"mvadl.plotting.save_figure")
    font = text[SMALLEST_FONT_KEY]
    return SavedFigure(path, width_px / float(dpi[0]), None if font == "none" else float(font),
                       text.get(SMALLEST_TEXT_KEY, ""))
