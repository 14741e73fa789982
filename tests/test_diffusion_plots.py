"""Plot functions on tiny inputs (Agg backend)."""
import numpy as np

from vae_diffusion.diffusion.plots import (
    image_grid,
    plot_convergence,
    plot_convergence_panels,
    plot_fid_vs_evaluations,
    plot_samples,
    plot_scheduler_grid,
)


def test_image_grid_shape():
    assert image_grid(np.zeros((5, 4, 4)), nrow=2).shape == (3 * 5 - 1, 2 * 5 - 1)


def test_plots_return_labelled_figures():
    rng = np.random.default_rng(0)
    cells = {(s, n): rng.random((4, 6, 6)) for s in (2, 4) for n in ("Euler", "DDIM")}
    fig = plot_scheduler_grid(cells, [2, 4], ["Euler", "DDIM"], {k: "FID 1" for k in cells})
    assert fig.axes[0].get_title() == "Euler" and fig.axes[0].get_ylabel() == "2 steps"
    fig = plot_convergence([2, 4], {"Euler": [0.5, 0.1], "DDPM": [0.6, 0.6]}, 8, {"DDPM": True})
    assert "steps" in fig.axes[0].get_xlabel()
    records = [{"scheduler": "Euler", "steps": s, "model_evaluations": s, "fid": 1.0 / s} for s in (2, 4)]
    assert "FID" in plot_fid_vs_evaluations(records, floor=0.1).axes[0].get_ylabel()
    assert plot_samples(rng.random((6, 6, 6)), nrow=3).axes


def test_convergence_panels_one_per_group():
    distances = {"DDIM inherited": [0.5, 0.4], "DDIM clip_sample=False": [0.1, 0.01], "UniPC inherited": [0.1, 0.1]}
    fig = plot_convergence_panels([2, 4], distances, {"DDIM inherited": "DDIM", "DDIM clip_sample=False": "DDIM",
                                                      "UniPC inherited": "UniPC"}, 8)
    assert [ax.get_title() for ax in fig.axes] == ["DDIM", "UniPC"]
    assert len(fig.axes[0].lines) == 2 and "8-step" in fig.axes[0].get_ylabel()
