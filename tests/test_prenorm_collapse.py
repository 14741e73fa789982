"""Deep against shallow at the collapse setting of the pre/post-norm study: the summary's collapse_contrast from
synthetic run records, and the figure of r against updates drawn from synthetic series at its printed size.

The study's own path (plan, runs, summary.json, redraw of an older study without these runs) is tested in
tests/test_prenorm_study.py with a fake fairseq-train.
"""
from __future__ import annotations

import logging
import math
import re

import pytest
from matplotlib.text import Text

from mvadl.plotting import TEXT_WIDTH_IN, read_saved_figure, save_figure
from nlp_experiments.prenorm import figures
from nlp_experiments.prenorm.summary import collapse_contrast, summarize_run

UNIGRAM_BITS = 9.9  # validation loss of the synthetic unigram level: a run at or above it did not train
STEPS = [0, 20, 40, 60, 80]


def synthetic_run(norm: str, depth: str, seed: int, valid: float | None, ratios: list[float | None],
                  lr: float = 3e-3, warmup: int = 0, diverged: bool = False) -> dict:
    """A loaded run (as :func:`nlp_experiments.prenorm.records.load_run` gives it) with the final validation
    loss ``valid`` (bits) and the bottom/top ratio series ``ratios`` at :data:`STEPS`."""
    logged = [r for r in ratios if r is not None]
    return {
        "name": f"{norm}_{depth}_lr3e-3_wu{warmup}_s{seed}", "norm": norm, "depth": depth, "seed": seed,
        "lr": lr, "lr_text": "3e-3", "warmup_updates": warmup, "layers": 12 if depth == "deep" else 2,
        "updates": 80, "max_update": 80, "tokens_seen": 1000, "final_train_loss": valid, "final_valid_loss": valid,
        "best_valid_loss": valid, "diverged": diverged, "grad_ratio_init": ratios[0], "grad_ratio_final": ratios[-1],
        "grad_ratio_min": min(logged), "grad_ratio_max": max(logged), "param_grad_ratio_init": 1.0,
        "param_grad_ratio_final": 1.0, "wall_time_s": 10.0, "device": "cpu", "exit_code": 0, "git_revision": "abc",
        "series": {"step": STEPS, "ratio_x": ratios},
    }


def collapse_study() -> list[dict]:
    """Deep post-norm collapses (r falls below 1e-3 at update 40 in seed 1, at 60 in seed 2; its loss stays at
    the unigram level), shallow post-norm and both pre-norm depths train; seed 3 of the deep post-norm model is
    missing, and a run at another warm-up is not part of the contrast."""
    return [
        synthetic_run("postnorm", "deep", 1, 9.95, [2.0, 0.1, 5e-4, 1e-9, 5e-12]),
        synthetic_run("postnorm", "deep", 2, 9.90, [2.0, 0.2, 0.01, 2e-4, 1e-11]),
        synthetic_run("prenorm", "deep", 1, 8.0, [3.0, 3.5, 3.6, 3.4, 3.5]),
        synthetic_run("prenorm", "deep", 2, 8.1, [3.0, 3.2, 3.6, 3.4, 3.3]),
        synthetic_run("prenorm", "deep", 3, 8.05, [3.0, 3.2, 3.6, 3.4, 3.4]),
        *(synthetic_run("postnorm", "shallow", s, 8.2 + 0.01 * s, [1.0, 0.8, 0.7, 0.7, 0.7]) for s in (1, 2, 3)),
        *(synthetic_run("prenorm", "shallow", s, 8.3, [1.5, 2.0, 2.2, 2.3, 2.3]) for s in (1, 2, 3)),
        synthetic_run("postnorm", "deep", 1, 8.1, [2.0, 0.5, 0.4, 0.4, 0.4], warmup=200),
    ]


def test_collapse_contrast_from_run_records():
    entries = [summarize_run(run, UNIGRAM_BITS, 300.0) for run in collapse_study()]
    contrast = collapse_contrast(entries, 3e-3, "3e-3", 0, [1, 2, 3])
    assert (contrast["lr"], contrast["lr_text"], contrast["warmup_updates"], contrast["seeds"]) == (
        3e-3, "3e-3", 0, [1, 2, 3])
    post_deep = contrast["deep"]["post"]
    assert post_deep["seeds"] == [1, 2] and post_deep["missing_seeds"] == [3] and post_deep["n_trained"] == 0
    first = post_deep["runs"][0]
    assert first == {"seed": 1, "name": "postnorm_deep_lr3e-3_wu0_s1", "grad_ratio_final": 5e-12,
                     "grad_ratio_min": 5e-12, "first_update_grad_ratio_below_1e-3": 40, "final_valid_loss": 9.95,
                     "final_valid_ppl": pytest.approx(2 ** 9.95), "diverged": False, "trained": False}
    assert post_deep["runs"][1]["first_update_grad_ratio_below_1e-3"] == 60
    assert not post_deep["runs"][1]["trained"]  # 9.90 bits: at the unigram level, not below it
    for depth, norm in (("shallow", "post"), ("shallow", "pre"), ("deep", "pre")):
        block = contrast[depth][norm]
        assert block["seeds"] == [1, 2, 3] and block["missing_seeds"] == [] and block["n_trained"] == 3
        assert all(run["first_update_grad_ratio_below_1e-3"] is None for run in block["runs"])
    post = contrast["deep_minus_shallow"]["post"]
    assert post["valid_loss_bits"]["seeds"] == [1, 2]  # seed 3 has no deep run
    assert post["valid_loss_bits"]["values"] == pytest.approx([9.95 - 8.21, 9.90 - 8.22])
    assert post["valid_loss_bits"]["direction"] == "higher" and post["valid_loss_bits"]["n"] == 2
    assert post["log10_grad_ratio_final"]["values"] == pytest.approx(
        [math.log10(5e-12 / 0.7), math.log10(1e-11 / 0.7)])
    assert post["log10_grad_ratio_final"]["direction"] == "lower"
    pre = contrast["deep_minus_shallow"]["pre"]
    assert pre["valid_loss_bits"]["direction"] == "lower" and pre["log10_grad_ratio_final"]["direction"] == "higher"


def test_collapse_contrast_without_the_runs_says_they_are_missing():
    """An older study: only the grid's deep seed-1 pair is at the collapse setting."""
    runs = [run for run in collapse_study() if run["depth"] == "deep" and run["seed"] == 1]
    contrast = collapse_contrast([summarize_run(run, UNIGRAM_BITS, 300.0) for run in runs], 3e-3, "3e-3", 0,
                                 [1, 2, 3])
    assert contrast["shallow"]["post"] == {"seeds": [], "missing_seeds": [1, 2, 3], "n_trained": 0, "runs": []}
    assert contrast["deep"]["pre"]["missing_seeds"] == [2, 3]
    assert contrast["deep_minus_shallow"]["post"]["valid_loss_bits"] == {
        "seeds": [], "values": [], "mean": None, "std": None, "n": 0, "direction": None}
    diverged = synthetic_run("postnorm", "shallow", 1, None, [1.0, None, None, None, None], diverged=True)
    entry = summarize_run(diverged, UNIGRAM_BITS, 300.0)
    contrast = collapse_contrast([entry, summarize_run(runs[0], UNIGRAM_BITS, 300.0)], 3e-3, "3e-3", 0, [1])
    assert contrast["shallow"]["post"]["runs"][0]["trained"] is False
    assert contrast["deep_minus_shallow"]["post"]["valid_loss_bits"]["n"] == 0  # no loss to subtract


def _assert_words_and_powers_of_ten(fig) -> None:
    """Every text of a drawn ``fig`` names the depths in layers and a peak LR as a decimal (no "deep", "shallow",
    "1e-3"), and every y tick label of a log axis is 1 or a power of ten in mathtext ($10^{-3}$)."""
    texts = [t.get_text() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    assert not [t for t in texts if re.search(r"\b(?:deep|shallow)\b|\de-\d", t)], texts
    for ax in fig.axes:
        labels = [t.get_text() for t in ax.get_yticklabels() if t.get_visible() and t.get_text()]
        assert all(re.fullmatch(r"1|\$10\^\{-?\d+\}\$", label) for label in labels), labels
    assert [t for ax in fig.axes for t in ax.get_yticklabels() if t.get_visible() and t.get_text()]


@pytest.mark.parametrize("value, label", [(1.0, "1"), (1e-3, "$10^{-3}$"), (1e-12, "$10^{-12}$"), (10.0, "$10^{1}$"),
                                          (0.3, "0.3")])
def test_a_log_axis_of_ratios_is_labelled_in_powers_of_ten(value, label):
    assert figures.power_label(value) == label


def test_ratio_figure_names_depths_in_layers_and_prints_at_7_pt(tmp_path):
    """The panels of the ratio figure: titles and legends say "12 layers" / "2 layers" (the runs' layers), the
    peak LR as a decimal, the main-setting panel in plain words; tick labels are powers of ten."""
    import matplotlib.pyplot as plt

    runs = collapse_study()
    fig = figures.plot_ratio_vs_steps(runs, ("3e-3", 0))
    grid, main = fig.axes
    assert grid.get_title() == "12 layers, seed 1,\npeak LR 0.003"
    assert main.get_title() == "peak LR 0.003, no warm-up:\n12 layers (3 seeds) and 2 layers"
    labels = [t.get_text() for t in main.get_legend().get_texts()]
    assert "post-norm, 12 layers, seed 1" in labels and "pre-norm, 2 layers" in labels
    assert [t.get_text() for t in grid.get_legend().get_texts()] == [
        "post-norm, no warm-up", "pre-norm, no warm-up", "post-norm, warm-up 200"]
    fig.draw_without_rendering()
    _assert_words_and_powers_of_ten(fig)
    saved = read_saved_figure(save_figure(fig, tmp_path / "ratio_vs_steps.png"))
    plt.close(fig)
    assert saved.printed_font_pt(TEXT_WIDTH_IN) >= 7.0, saved
    assert saved.smallest_text.startswith("$10^{") and saved.smallest_font_pt == pytest.approx(7.35)


def test_collapse_figure_shows_every_run_and_prints_at_7_pt(tmp_path):
    import matplotlib.pyplot as plt

    runs = collapse_study()
    assert figures.collapse_runs_drawn(runs, ("3e-3", 0)) and not figures.collapse_runs_drawn(runs, ("3e-3", 200))
    assert not figures.collapse_runs_drawn(runs, None)
    fig = figures.plot_collapse_deep_vs_shallow(runs, ("3e-3", 0))
    post, pre = fig.axes
    assert [t.get_text() for t in post.get_legend().get_texts()] == [
        "12 layers, seed 1", "12 layers, seed 2", "2 layers, seed 1", "2 layers, seed 2", "2 layers, seed 3"]
    assert [t.get_text() for t in pre.get_legend().get_texts()] == [
        *(f"12 layers, seed {s}" for s in (1, 2, 3)), *(f"2 layers, seed {s}" for s in (1, 2, 3))]
    lines = {line.get_label(): line for line in post.get_lines()}
    assert list(lines["12 layers, seed 1"].get_ydata()) == pytest.approx([2.0, 0.1, 5e-4, 1e-9, 5e-12])
    assert lines["12 layers, seed 1"].get_linestyle() == "-" and lines["2 layers, seed 1"].get_linestyle() == "--"
    assert lines["12 layers, seed 1"].get_color() != lines["12 layers, seed 2"].get_color()
    assert "$r = 10^{-3}$" in [t.get_text() for t in post.texts] and post.get_yscale() == "log"
    assert "post-norm" in post.get_title() and "no warm-up" in post.get_title() and "pre-norm" in pre.get_title()
    # the two legends differ otherwise only by colour: each names its norm
    assert [ax.get_legend().get_title().get_text() for ax in (post, pre)] == ["post-norm", "pre-norm"]
    fig.draw_without_rendering()
    _assert_words_and_powers_of_ten(fig)
    assert all(ax.get_legend().get_window_extent().y1 <= ax.get_window_extent().y0 for ax in fig.axes)
    saved = read_saved_figure(save_figure(fig, tmp_path / "collapse_deep_vs_shallow.png"))
    plt.close(fig)
    assert saved.printed_font_pt(TEXT_WIDTH_IN) >= 7.0, saved


def test_collapse_figure_panel_without_runs_says_so():
    import matplotlib.pyplot as plt

    runs = [run for run in collapse_study() if run["norm"] == "prenorm"]
    fig = figures.plot_collapse_deep_vs_shallow(runs, ("3e-3", 0))
    assert "no post-norm run at peak LR 0.003,\nno warm-up" in [t.get_text() for t in fig.axes[0].texts]
    assert fig.axes[0].get_legend() is None
    plt.close(fig)


def test_study_figures_skip_the_collapse_figure_without_its_runs(tmp_path, caplog, monkeypatch):
    """save_study_figures draws it when both depths ran at the collapse setting, else logs why it did not."""
    drawn = []
    monkeypatch.setattr(figures, "save_figure", lambda fig, path: drawn.append(path.name) or path)
    for name in ("plot_grid", "plot_heatmaps", "plot_ratio_vs_steps", "plot_gradnorm_at_init", "plot_loss_curves",
                 "plot_jacobian_vs_depth"):
        monkeypatch.setattr(figures, name, lambda *args, **kwargs: None)
    monkeypatch.setattr(figures, "heatmap_grids", lambda runs, main: ((None, None), (None, None)))
    runs = collapse_study()
    figures.save_study_figures(runs, [], [], ("3e-3", 200), None, tmp_path, ("3e-3", 0))
    assert drawn[-1] == "collapse_deep_vs_shallow.png"
    drawn.clear()
    with caplog.at_level(logging.INFO, logger=figures.__name__):
        figures.save_study_figures([r for r in runs if r["depth"] == "deep"], [], [], ("3e-3", 200), None, tmp_path,
                                   ("3e-3", 0))
    assert "collapse_deep_vs_shallow.png" not in drawn
    assert "collapse_deep_vs_shallow.png: not drawn" in caplog.text
