"""Every VAE figure on tiny inputs (Agg), so a long run never first fails at its plot: each panel shows the
images it is given, in order, with its title and labelled axes."""
import numpy as np
import pytest

from mvadl import REPO_ROOT
from mvadl.plotting import TEXT_WIDTH_IN, new_figure
from vae_diffusion.core.images import image_grid
from vae_diffusion.vae import plots
from vae_diffusion.vae.run_figures import read_record

RESULTS = REPO_ROOT / "results"


def shown(ax) -> np.ndarray:
    """The array an image panel displays."""
    (image,) = ax.get_images()
    return np.asarray(image.get_array())


def test_grid_of_flat_vae_images_with_border():
    grid = image_grid(np.zeros((10, 784)), 4, padding=2, border=True)
    assert grid.shape == (3 * 30 + 2, 4 * 30 + 2) and grid[0, 0] == 1.0 and grid[2, 2] == 0.0
    images = np.random.default_rng(0).random((6, 28, 28))
    grid = image_grid(images, 4, padding=2, border=True)  # row-major: image 5 is row 1, column 1
    assert np.allclose(grid[2:30, 32:60], images[1]) and np.allclose(grid[32:60, 32:60], images[5])
    assert (grid[32:60, 62:] == 1.0).all()  # the empty cells of the last row are white


def test_sample_grid_and_samples_over_training_show_their_images():
    rng = np.random.default_rng(0)
    images = rng.random((64, 28, 28))
    fig = plots.sample_grid_figure(images, "prior samples")
    (ax,) = fig.axes
    assert ax.get_title() == "prior samples" and shown(ax).shape == (8 * 30 + 2, 8 * 30 + 2)
    np.testing.assert_allclose(shown(ax)[2:30, 32:60], images[1], rtol=1e-6)  # 8 per row, in order
    assert ax.get_xticks().size == 0 and ax.get_yticks().size == 0
    later = rng.random((64, 28, 28))
    fig = plots.samples_over_training_figure({80: later, 0: images, 10: images}, "samples")
    assert [ax.get_title() for ax in fig.axes] == ["before training (epoch 0)", "after 10 epochs", "after 80 epochs"]
    np.testing.assert_allclose(shown(fig.axes[2])[2:30, 2:30], later[0], rtol=1e-6)  # panels sorted by epoch
    assert fig.get_suptitle() == "samples"


def test_samples_over_training_labels_each_cell_and_marks_changed_digits_red():
    images = np.zeros((64, 28, 28))
    before, after = [3] * 64, [3] * 62 + [5, 9]
    fig = plots.samples_over_training_figure({0: images, 10: images, 80: images}, "s", {10: before, 80: after})
    grey, mid, last = fig.axes
    assert not grey.texts and [t.get_text() for t in mid.texts] == ["3"] * 64
    assert [t.get_text() for t in last.texts] == [str(d) for d in after]
    red = [i for i, t in enumerate(last.texts) if t.get_color() == "red"]
    assert red == [62, 63] and not any(t.get_color() == "red" for t in mid.texts)


def test_samples_over_training_prints_each_digit_legibly_under_its_own_cell_clear_of_the_images():
    """Every label stands on the white strip under its cell (its line box covers no image pixel, only the strip
    and the dark frame), and the
    first image pixel above it belongs to its own cell; the labels are 7 pt or more in a figure drawn as wide as
    it prints."""
    cells = np.repeat(np.linspace(0.1, 0.9, 64), 28 * 28).reshape(64, 28, 28)  # cell i is uniformly cells[i]
    digits = {10: list(range(10)) * 6 + [0, 1, 2, 3], 80: [7] * 64}
    fig = plots.samples_over_training_figure({0: cells, 10: cells, 80: cells}, digits=digits)
    fig.draw_without_rendering()
    assert fig.get_figwidth() <= TEXT_WIDTH_IN + 1e-9
    for ax in fig.axes[1:]:
        image = shown(ax)
        to_data = ax.transData.inverted()
        assert len(ax.texts) == 64
        for i, label in enumerate(ax.texts):
            assert label.get_fontsize() >= 7.0
            (x0, y0), (x1, y1) = to_data.transform(label.get_window_extent().get_points())
            top, bottom = round(min(y0, y1)), round(max(y0, y1))  # pixel k spans k - 0.5 to k + 0.5
            under = image[top:bottom + 1, round(x0):round(x1) + 1]
            assert np.isin(under, (0.0, 1.0)).all(), f"label {i} covers image pixels"  # strip or frame only
            x = round(label.get_position()[0])
            above = image[:top, x][::-1]
            first = above[(above != 0.0) & (above != 1.0)][0]  # past the white strip and the dark frame
            assert first == pytest.approx(cells[i, 0, 0]), f"label {i} is not under its own cell"


def test_reconstruction_figure_puts_inputs_above_reconstructions():
    rng = np.random.default_rng(1)
    inputs, reconstructions = rng.random((4, 784)), rng.random((4, 784))
    fig = plots.reconstruction_figure(inputs, reconstructions, "r")
    top, bottom = fig.axes
    assert top.get_title() == "binarized test images x" and bottom.get_title().startswith("reconstructions")
    assert shown(top).shape == shown(bottom).shape == (32, 4 * 30 + 2)  # one row of all the images
    np.testing.assert_allclose(shown(top)[2:30, 62:90], inputs[2].reshape(28, 28), rtol=1e-6)
    np.testing.assert_allclose(shown(bottom)[2:30, 62:90], reconstructions[2].reshape(28, 28), rtol=1e-6)


def test_training_curves_plot_the_history():
    history = [{"epoch": e, "train_elbo": -100.0 + e, "test_elbo": -101.0 + e, "test_kl": 20.0 + e,
                "test_recon_log_likelihood": -80.0} for e in (1, 2)]
    fig = plots.training_curves_figure(history, "curves")
    bounds, terms = fig.axes
    assert bounds.get_xlabel() == "epoch" and "nats" in bounds.get_ylabel()
    assert [line.get_label() for line in bounds.get_lines()] == ["train ELBO (dynamic binarization)",
                                                                 "test ELBO (fixed binarization)"]
    np.testing.assert_array_equal(bounds.get_lines()[1].get_ydata(), [-100.0, -99.0])
    np.testing.assert_array_equal(terms.get_lines()[0].get_ydata(), [21.0, 22.0])  # KL
    np.testing.assert_array_equal(terms.get_lines()[1].get_ydata(), [80.0, 80.0])  # -E_q[log p(x|z)]
    assert terms.get_yscale() == "log"
    iwae = [{**h, "train_iwae_bound": h["train_elbo"] + 2.0} for h in history]
    lines = plots.training_curves_figure(iwae, "iwae").axes[0].get_lines()
    assert [line.get_label() for line in lines][1] == "train IWAE bound L_K"
    np.testing.assert_array_equal(lines[1].get_ydata(), [-97.0, -96.0])


def test_naive_mc_figure_one_line_per_latent_size():
    records = [{"z_dim": z, "sample_counts": [1, 10], "bias_mean": [-50.0 * z, -5.0], "noise_std": [9.0, 1.0]}
               for z in (2, 20)]
    fig = plots.naive_mc_figure(records, "naive")
    bias, noise = fig.axes
    assert all(ax.get_xscale() == "log" and ax.get_xlabel() == "number of prior samples L" for ax in fig.axes)
    assert [line.get_label() for line in noise.get_lines()] == ["$D$ = 2", "$D$ = 20"]  # D, as the text names it
    np.testing.assert_array_equal(bias.get_lines()[1].get_ydata(), [-1000.0, -5.0])
    np.testing.assert_array_equal(bias.get_lines()[2].get_ydata(), [0.0, 0.0])  # the zero-bias reference
    assert bias.get_yscale() == "symlog" and noise.get_yscale() == "log"


def test_naive_mc_figure_tick_labels_do_not_touch_on_the_committed_records():
    """The bias axis is linear up to 1 and logarithmic above: 1 and 2 stand less than a line of text apart, so
    only one of them is labelled (2, which the D = 2 bias ends near); every tick keeps its mark and grid line."""
    records = read_record(RESULTS / "vae" / "naive_mc.json", "metrics", "models")
    fig = plots.naive_mc_figure(records)
    fig.draw_without_rendering()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            labels = [t for t in axis.get_ticklabels() if t.get_visible() and t.get_text()]
            boxes = [t.get_window_extent() for t in labels]
            for a in range(len(boxes)):
                for b in range(a + 1, len(boxes)):
                    assert not boxes[a].overlaps(boxes[b]), (labels[a].get_text(), labels[b].get_text())
    bias = fig.axes[0]
    shown_labels = {t.get_text() for t in bias.yaxis.get_ticklabels() if t.get_text()}
    assert {"0", "2"} <= shown_labels and 1.0 in bias.get_yticks()


def test_spaced_ticks_keeps_zero_then_the_top_then_the_negative_decades():
    fig, ax = new_figure(size=(3.0, 2.0), font_size=8.0)
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set_ylim(-1000.0, 3.0)
    kept = plots.spaced_ticks(ax, [-1000, -100, -10, -1, 0, 1, 2])
    assert kept == [-1000, -100, -10, -1, 0, 2]
