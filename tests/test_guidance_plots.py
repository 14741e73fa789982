"""The negative-prompt figure on tiny inputs (Agg backend): each row names what it shows, the negative prompt
included, and every text prints at 7 pt or more at the text width."""
import numpy as np
import pytest

from mvadl.plotting import TEXT_WIDTH_IN, read_saved_figure, save_figure
from vae_diffusion.guidance.plots import pair_row_labels, plot_negative_prompt_pairs

PROMPTS = ["a zero", "a one", "a three"]
NOTES = ["white\n\N{RIGHTWARDS ARROW} red\nIoU 0.66\n0.5 px"] * 3


def pairs(n: int = 3):
    rng = np.random.default_rng(0)
    return rng.random((n, 8, 8, 3)), rng.random((n, 8, 8, 3))


def test_row_labels_name_the_negative_prompt():
    assert pair_row_labels("white") == ("no negative\nprompt", 'negative\nprompt\n"white"')
    assert pair_row_labels("gray background") == ("no negative\nprompt", 'negative\nprompt "gray\nbackground"')
    long = pair_row_labels("a photograph of a desert at noon with dunes")[1].splitlines()
    assert len(long) == 4 and long[-1].endswith("\N{HORIZONTAL ELLIPSIS}")


@pytest.mark.parametrize("negative_prompt", ["white", "gray background"])
def test_pair_figure_labels_its_rows_and_prints_legibly(tmp_path, negative_prompt):
    without, with_negative = pairs()
    fig = plot_negative_prompt_pairs(without, with_negative, PROMPTS, [4, 5, 6], NOTES,
                                     negative_prompt=negative_prompt)
    axes = np.array(fig.axes).reshape(2, 3)
    top, bottom = pair_row_labels(negative_prompt)
    assert axes[0][0].get_ylabel() == top and axes[1][0].get_ylabel() == bottom
    assert f'"{negative_prompt}"' in bottom.replace("\n", " ")
    assert "without" not in top and axes[0][1].get_ylabel() == ""
    assert axes[0][2].get_title() == '6:\n"a three"' and axes[1][2].get_xlabel() == NOTES[2]
    fig.draw_without_rendering()
    for ax in axes[:, 0]:  # a label stays beside its own row and inside the figure
        label, image = ax.yaxis.label.get_window_extent(), ax.get_window_extent()
        assert label.height <= image.height and label.x0 >= 0
    saved = read_saved_figure(save_figure(fig, tmp_path / "pairs.png"))
    assert saved.printed_font_pt(TEXT_WIDTH_IN) >= 7, (saved.smallest_text, saved.width_in)


def test_eight_pairs_with_two_digit_indices_have_titles_that_do_not_touch():
    """A block of 8 pairs (as in the report) whose titles are the widest the study makes: index over prompt."""
    without, with_negative = pairs(8)
    fig = plot_negative_prompt_pairs(without, with_negative, ["a seven", "a eight"] * 4, list(range(27, 35)),
                                     ["white"] * 8, negative_prompt="white")
    fig.draw_without_rendering()
    titles = [ax.title.get_window_extent() for ax in fig.axes[:8]]
    assert all(a.x1 < b.x0 for a, b in zip(titles, titles[1:]))


def test_pair_figure_needs_one_prompt_per_pair():
    without, with_negative = pairs()
    with pytest.raises(ValueError, match="one prompt"):
        plot_negative_prompt_pairs(without, with_negative, PROMPTS[:2], [0, 1, 2], negative_prompt="white")
