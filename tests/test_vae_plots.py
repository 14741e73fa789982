"""Every VAE figure on tiny inputs (Agg), so a long run never first fails at its plot."""
import numpy as np
from matplotlib.figure import Figure

from vae_diffusion.vae import plots


def test_image_grid_shape_padding_and_order():
    grid = plots.image_grid(np.zeros((10, 784)), ncols=4, pad=2)
    assert grid.shape == (3 * 30 + 2, 4 * 30 + 2) and grid[0, 0] == 1.0 and grid[2, 2] == 0.0
    images = np.random.default_rng(0).random((6, 28, 28))
    grid = plots.image_grid(images, ncols=4, pad=2)  # row-major: image 5 is row 1, column 1
    assert np.allclose(grid[2:30, 32:60], images[1]) and np.allclose(grid[32:60, 32:60], images[5])
    assert (grid[32:60, 62:] == 1.0).all()  # the empty cells of the last row are white


def test_figures_build_on_tiny_inputs():
    rng = np.random.default_rng(0)
    images = rng.random((64, 28, 28))
    assert isinstance(plots.sample_grid_figure(images, "t"), Figure)
    fig = plots.samples_over_training_figure({0: images, 10: images, 80: images}, "samples")
    assert [ax.get_title() for ax in fig.axes] == ["before training (epoch 0)", "after 10 epochs", "after 80 epochs"]
    assert isinstance(plots.reconstruction_figure(images[:4], images[:4], "r"), Figure)
    history = [{"epoch": e, "train_elbo": -100.0 + e, "test_elbo": -101.0 + e, "test_kl": 20.0,
                "test_recon_log_likelihood": -80.0} for e in (1, 2)]
    fig = plots.training_curves_figure(history, "curves")
    assert fig.axes[0].get_xlabel() == "epoch" and "nats" in fig.axes[0].get_ylabel()
    assert len(fig.axes[0].get_lines()) == 2
    iwae = [{**h, "train_iwae_bound": h["train_elbo"] + 2.0} for h in history]
    labels = [line.get_label() for line in plots.training_curves_figure(iwae, "iwae").axes[0].get_lines()]
    assert "train IWAE bound L_K" in labels and len(labels) == 3
    records = [{"z_dim": z, "sample_counts": [1, 10], "bias_mean": [-50.0, -5.0], "noise_std": [9.0, 1.0]}
               for z in (2, 20)]
    fig = plots.naive_mc_figure(records, "naive")
    assert all(ax.get_xscale() == "log" for ax in fig.axes) and len(fig.axes[0].get_lines()) == 3
