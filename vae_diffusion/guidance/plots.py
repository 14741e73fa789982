"""Figures of the guidance experiment; each takes arrays/records and returns a matplotlib Figure."""
from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from mvadl.plotting import PRINT_FONT_PT, TEXT_WIDTH_IN, bare_axes, new_figure

#: Width (inches) of the row labels of :func:`plot_negative_prompt_pairs`, and the characters a label line holds.
PAIR_LABEL_IN, PAIR_LABEL_CHARS = 0.85, 12


def pair_row_labels(negative_prompt: str) -> tuple[str, str]:
    """The row labels of :func:`plot_negative_prompt_pairs`, ``no negative prompt`` over ``negative prompt
    "<negative_prompt>"``, each wrapped into at most 4 lines of at most :data:`PAIR_LABEL_CHARS` characters, which
    fit beside an image at 8 pt."""
    def wrapped(text: str) -> str:
        return "\n".join(textwrap.wrap(text, PAIR_LABEL_CHARS, max_lines=4, placeholder=" \N{HORIZONTAL ELLIPSIS}"))

    return wrapped("no negative prompt"), wrapped(f'negative prompt "{negative_prompt}"')


def plot_negative_prompt_pairs(without: np.ndarray, with_negative: np.ndarray, prompts: Sequence[str],
                               indices: Sequence[int], notes: Sequence[str] | None = None, per_row: int = 8, *,
                               negative_prompt: str) -> Figure:
    """Pairs of ``[N, H, W, 3]`` images in [0, 1] from the same seeds and initial noise, drawn at the text width
    with 8-pt text: ``per_row`` pairs a block, each pair a column (top: no negative prompt; bottom: the negative
    prompt, each row labelled on the left by :func:`pair_row_labels`, which names ``negative_prompt``) headed by
    its image index in the experiment (whose seed the record gives) over its prompt, with its ``notes`` (a few
    short lines) under it."""
    n = len(without)
    if len(with_negative) != n or len(prompts) != n or len(indices) != n or (notes and len(notes) != n):
        raise ValueError("one prompt, one image index (and one note) per image pair are needed")
    blocks, columns = -(-n // per_row), min(n, per_row)
    left, right = PAIR_LABEL_IN / TEXT_WIDTH_IN, 0.99  # the row labels sit left of the images
    cell = TEXT_WIDTH_IN * (right - left) / (columns * 1.3 - 0.3)  # columns 0.3 of a cell apart
    gap = 0.85 if notes else 0.45  # inches: notes under a block, two-line titles over the next
    ratios = ([cell, cell, gap] * blocks)[:-1]
    title, below = 0.42, (0.62 if notes else 0.05)
    height = sum(ratios) * 1.04 + title + below
    fig, axes = new_figure(len(ratios), columns, size=(TEXT_WIDTH_IN, height), squeeze=False,
                           font_size=PRINT_FONT_PT, gridspec_kw={"height_ratios": ratios})
    labels = pair_row_labels(negative_prompt)
    for b in range(blocks):
        for row, label in zip((3 * b, 3 * b + 1), labels):
            axes[row][0].set_ylabel(label, rotation=0, ha="right", va="center", labelpad=4)
        if b + 1 < blocks:
            for ax in axes[3 * b + 2]:
                ax.set_axis_off()
    for i in range(blocks * columns):
        top, bottom = axes[3 * (i // columns)][i % columns], axes[3 * (i // columns) + 1][i % columns]
        for ax, images in ((top, without), (bottom, with_negative)):
            bare_axes(ax)
            if i < n:
                ax.imshow(np.clip(images[i], 0, 1), interpolation="nearest")
            else:
                ax.set_axis_off()
        if i < n:
            top.set_title(f"{indices[i]}:\n\"{textwrap.shorten(prompts[i], 12, placeholder='.')}\"")
            if notes:
                bottom.set_xlabel(notes[i])
    fig.subplots_adjust(left=left, right=right, top=1 - title / height, bottom=below / height, wspace=0.3,
                        hspace=0.04)
    return fig


def plot_difference_map(mean_abs_difference: np.ndarray, stroke_frequency_without: np.ndarray,
                        stroke_frequency_with: np.ndarray) -> Figure:
    """Where the two images of a pair differ: mean |difference| per pixel (averaged over channels and pairs),
    next to how often each pixel is stroke without and with the negative prompt."""
    fig, axes = new_figure(1, 3, size=(10.5, 3.4))
    panels = ((mean_abs_difference, "mean |with - without| (RGB, [0, 1])", "magma"),
              (stroke_frequency_without, "stroke frequency, no negative prompt", "gray"),
              (stroke_frequency_with, "stroke frequency, with negative prompt", "gray"))
    for ax, (image, title, cmap) in zip(axes, panels):
        shown = ax.imshow(image, cmap=cmap, vmin=0, vmax=max(float(image.max()), 1e-6) if cmap == "magma" else 1)
        bare_axes(ax)
        ax.set_title(title, fontsize=9)
        fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
    return fig


def plot_guidance_sweep(records: Sequence[Mapping[str, float]], concept: str) -> Figure:
    """Concept rate without/with the negative prompt, digit kept and stroke-mask IoU against guidance scale."""
    scales = [r["guidance_scale"] for r in records]
    fig, ax = new_figure(1, 1, size=(6.0, 4.4))
    series = (("concept_rate_without_negative", f"'{concept}' without negative prompt", "o-"),
              ("concept_rate_with_negative", f"'{concept}' with negative prompt", "s-"),
              ("digit_kept_rate", "digit kept (with negative prompt)", "^-"),
              ("mask_iou_mean", "stroke-mask IoU of the pair", "d-"))
    for key, label, style in series:
        ax.plot(scales, [r[key] for r in records], style, label=label)
    ax.set_xlabel("guidance scale")
    ax.set_ylabel("rate / IoU")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=8)
    counts = sorted({int(r["n_samples"]) for r in records})
    seeds = f"{counts[0]} seeds per point" if len(counts) == 1 else f"{counts[0]}-{counts[-1]} seeds per point"
    ax.set_title(f"Negative prompt '{concept}' vs guidance scale ({seeds})")
    return fig


def plot_progress(points: Sequence[Mapping[str, float]]) -> Figure:
    """Digit read and colour obeyed (the design study's checks) against training minutes, one point per
    checkpoint, with the images seen on a second axis."""
    minutes = [p["training_minutes"] for p in points]
    fig, ax = new_figure(1, 1, size=(6.4, 3.9))
    ax.plot(minutes, [p["digit_rate"] for p in points], "o-", label="digit read ('a <digit>')")
    ax.plot(minutes, [p["colour_obeyed_rate"] for p in points], "s-", label="colour obeyed ('a <colour> <digit>')")
    ax.plot(minutes, [p["no_digit_count"] / p["n_samples"] for p in points], "x:", label="no digit ('a <digit>')")
    ax.set_xlabel("training minutes")
    ax.set_ylabel("share of images")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(loc="center right", fontsize=8)
    top = ax.twiny()
    top.set_xlim(ax.get_xlim())
    top.set_xticks(minutes[:: max(1, len(minutes) // 5)])
    top.set_xticklabels([f"{p['images_seen'] / 1000:.0f}k" for p in points[:: max(1, len(points) // 5)]],
                        fontsize=8)
    top.set_xlabel("images seen", fontsize=9)
    top.grid(False)
    ax.set_title(f"Prompt following along the training ({points[0]['n_samples']} seeds per check)", fontsize=10)
    return fig
