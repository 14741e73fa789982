"""Plot functions on tiny inputs (Agg backend): each shows the data it is given, labelled."""
import numpy as np

from vae_diffusion.core.images import image_grid
from vae_diffusion.diffusion.plots import (
    column_titles,
    fid_text,
    plot_convergence,
    plot_convergence_panels,
    plot_fid_vs_evaluations,
    plot_samples,
    plot_scheduler_grid,
    plot_variant_rows,
)


def shown(ax) -> np.ndarray:
    (image,) = ax.get_images()
    return np.asarray(image.get_array())


def test_image_grid_order_gaps_and_no_outer_border():
    images = np.arange(5 * 4 * 4, dtype=np.float32).reshape(5, 4, 4) / 100
    grid = image_grid(images, nrow=2)
    assert grid.shape == (3 * 5 - 1, 2 * 5 - 1)  # 3 rows of 2, 1-pixel gaps, no border
    np.testing.assert_array_equal(grid[:4, :4], images[0])
    np.testing.assert_array_equal(grid[5:9, :4], images[2])  # row-major
    np.testing.assert_array_equal(grid[10:14, :4], images[4])
    assert (grid[4, :] == 1.0).all() and (grid[:, 4] == 1.0).all()  # white gaps
    assert (grid[10:, 5:] == 1.0).all()  # the empty last cell is white


def test_samples_and_scheduler_grid_show_their_images():
    rng = np.random.default_rng(0)
    images = rng.random((6, 6, 6)).astype(np.float32)
    fig = plot_samples(images, nrow=3, title="DDPM samples")
    (ax,) = fig.axes
    np.testing.assert_array_equal(shown(ax), image_grid(images, 3))
    assert ax.get_title() == "DDPM samples" and not ax.axison

    cells = {(s, n): rng.random((4, 6, 6)).astype(np.float32) for s in (2, 4) for n in ("Euler", "DDIM")}
    fig = plot_scheduler_grid(cells, [2, 4], ["Euler", "DDIM"], {(4, "DDIM"): "FID 1.5"})
    axes = np.array(fig.axes).reshape(2, 2)
    assert [ax.get_title() for ax in axes[0]] == ["Euler", "DDIM"] and axes[1][1].get_title() == ""
    assert [ax.get_ylabel() for ax in axes[:, 0]] == ["2 steps", "4 steps"]
    assert axes[1][1].get_xlabel() == "FID 1.5" and axes[0][0].get_xlabel() == ""
    np.testing.assert_array_equal(shown(axes[1][0]), image_grid(cells[(4, "Euler")], 2))  # 2x2 tile of 4 digits
    assert axes[0][1].get_xticks().size == 0 and not any(s.get_visible() for s in axes[0][1].spines.values())


def test_grid_columns_of_a_noise_schedule_beside_its_solver_are_titled_by_what_they_add():
    names = ["Euler", "Euler Karras", "Euler Ancestral", "DPM-Solver++ 2M", "DPM-Solver++ 2M Karras", "Heun Karras"]
    assert column_titles(names) == ["Euler", "+ Karras", "Euler\nAncestral", "DPM-\nSolver++\n2M", "+ Karras",
                                    "Heun\nKarras"]  # Heun Karras without Heun before it keeps its name


def test_fid_captions_keep_three_significant_digits_in_four_characters():
    assert [fid_text(v) for v in (0.8612, 4.836, 49.167, 250.6)] == ["0.86", "4.84", "49.2", "251"]


def test_variant_rows_label_each_variant_at_the_left_and_each_column_by_its_steps():
    rng = np.random.default_rng(0)
    labels = ["DDIM inherited", "DPM++ 2M lower_order_final=False"]
    cells = {(label, n): rng.random((3, 6, 6)).astype(np.float32) for label in labels for n in (10, 200)}
    fig = plot_variant_rows(cells, labels, [10, 200], reference_steps=200)
    axes = np.array(fig.axes).reshape(2, 2)
    assert [ax.get_title() for ax in axes[0]] == ["10 steps", "200 steps (reference)"]
    assert [ax.get_ylabel() for ax in axes[:, 0]] == labels and axes[0][1].get_ylabel() == ""
    np.testing.assert_array_equal(shown(axes[1][1]), image_grid(cells[(labels[1], 200)], 3))  # one strip of 3


def test_convergence_and_cost_plots_draw_the_series():
    fig = plot_convergence([2, 4], {"Euler": [0.5, 0.1], "DDPM": [0.6, 0.6]}, 8, {"DDPM": True})
    (ax,) = fig.axes
    euler, ddpm = ax.get_lines()
    assert euler.get_label() == "Euler" and euler.get_linestyle() == "-"
    assert ddpm.get_label() == "DDPM (stochastic)" and ddpm.get_linestyle() == "--"
    np.testing.assert_array_equal(euler.get_ydata(), [0.5, 0.1])
    assert ax.get_xlabel() == "number of inference steps" and "8-step" in ax.get_ylabel()

    records = [{"scheduler": "Euler", "steps": s, "model_evaluations": s, "fid": 1.0 / s} for s in (4, 2)]
    records.append({"scheduler": "Heun", "steps": 2, "model_evaluations": 3, "fid": 0.7})
    ax = plot_fid_vs_evaluations(records, floor=0.1).axes[0]
    euler, heun, floor = ax.get_lines()
    np.testing.assert_array_equal(euler.get_xdata(), [2, 4])  # sorted by cost
    np.testing.assert_array_equal(euler.get_ydata(), [0.5, 0.25])
    assert heun.get_label() == "Heun" and floor.get_label() == "real vs real (same n)"
    np.testing.assert_array_equal(floor.get_ydata(), [0.1, 0.1])
    assert "FID" in ax.get_ylabel() and ax.get_xlabel() == "model evaluations per image"


def test_convergence_panels_one_per_group():
    distances = {"DDIM inherited": [0.5, 0.4], "DDIM clip_sample=False": [0.1, 0.01], "UniPC inherited": [0.1, 0.1]}
    fig = plot_convergence_panels([2, 4], distances, {"DDIM inherited": "DDIM", "DDIM clip_sample=False": "DDIM",
                                                      "UniPC inherited": "UniPC"}, 8)
    assert [ax.get_title() for ax in fig.axes] == ["DDIM", "UniPC"]
    assert [line.get_label() for line in fig.axes[0].lines] == ["DDIM inherited", "DDIM clip_sample=False"]
    assert fig.axes[0].lines[0].get_linestyle() == "--" and fig.axes[0].lines[1].get_linestyle() == "-"
    np.testing.assert_array_equal(fig.axes[0].lines[1].get_ydata(), [0.1, 0.01])
    assert "8-step" in fig.axes[0].get_ylabel()


def test_a_noise_schedule_variant_is_drawn_in_its_solvers_colour():
    from vae_diffusion.diffusion.plots import scheduler_styles
    from vae_diffusion.diffusion.sampling import SCHEDULERS
    styles = scheduler_styles(list(SCHEDULERS))
    for base, variant in (("Euler", "Euler Karras"), ("Heun", "Heun Karras"),
                          ("DPM-Solver++ 2M", "DPM-Solver++ 2M Karras")):
        assert styles[variant]["color"] == styles[base]["color"] and styles[variant]["linestyle"] == ":"
    solvers = [name for name in SCHEDULERS if styles[name]["linestyle"] == "-"]
    assert len({styles[name]["color"] for name in solvers}) == len(solvers) == 8  # no colour repeats
