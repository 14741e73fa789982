"""The negative-prompt study's statistics on images built in code: per-image outcomes, exact McNemar tests on the
actual pairs, Wilson intervals, no test for identical pairs, the scale comparison, the seed baseline and the
comparison with a reference model; each recomputed from what the record keeps."""
import dataclasses

import numpy as np
import pytest

from mvadl.data import DataError
from mvadl.verdicts import Comparison, holm, mcnemar_exact, paired_mean_difference, wilson_interval
from vae_diffusion.guidance.captions import render
from vae_diffusion.guidance.detect import read_digits
from vae_diffusion.guidance.evaluation import (
    across_scales,
    figure_images,
    pair_metrics,
    seed_baseline,
    versus_reference,
)


def digit_images(strokes: list[str], backgrounds: list[str] | None = None, shift: int = 0) -> np.ndarray:
    """``[N, 32, 32, 3]`` images (as the pipeline returns them) of a bar '1' in the given colours."""
    grey = np.zeros((32, 32), np.uint8)
    grey[8 + shift:24 + shift, 14:18] = 255
    backgrounds = backgrounds or ["black"] * len(strokes)
    return np.stack([render(grey, s, b).transpose(1, 2, 0) for s, b in zip(strokes, backgrounds)])


def read(images: np.ndarray, digits: list[int]):
    probabilities = np.full((len(images), 10), 0.01)
    probabilities[np.arange(len(images)), digits] = 0.91
    return read_digits(images), probabilities


WITHOUT = ["white", "white", "white", "red", "red", "blue"]
WITH = ["red", "white", "blue", "red", "red", "blue"]
DIGITS = np.array([1, 1, 1, 1, 1, 1])


@pytest.fixture(scope="module")
def pairs():
    without, with_negative = digit_images(WITHOUT), digit_images(WITH, ["black"] * 5 + ["gray"])
    read_with = read(with_negative, [1, 1, 7, 1, 1, 1])  # image 2 reads as a 7 with the negative prompt
    metrics, _ = pair_metrics(read(without, [1] * 6), read_with, (without, with_negative), DIGITS, "white")
    return metrics


def test_shares_come_with_wilson_intervals_and_from_the_per_image_outcomes(pairs):
    per_image = pairs["per_image"]
    assert per_image["concept_without"] == [True, True, True, False, False, False]
    assert per_image["concept_with"] == [False, True, False, False, False, False]
    assert per_image["digit_kept"] == [True, True, False, True, True, True]
    assert per_image["stroke_with"] == WITH and per_image["background_with"][-1] == "gray"
    assert per_image["identical"] == [False, True, False, True, True, False]
    for key, value in pairs["shares"].items():
        k = sum(per_image[key])
        assert value == {"k": k, "n": 6, "share": k / 6, "low": wilson_interval(k, 6)[0],
                         "high": wilson_interval(k, 6)[1]}, key
    assert pairs["concept_rate_without_negative"] == 0.5 and pairs["concept_rate_with_negative"] == 1 / 6
    assert pairs["identical_pairs"] == 3 and pairs["n_samples"] == 6


def test_changes_are_exact_mcnemar_tests_on_the_actual_pairs(pairs):
    per_image = pairs["per_image"]
    concept = pairs["comparisons"]["concept"]
    assert concept == mcnemar_exact(per_image["concept_with"], per_image["concept_without"]).as_dict()
    assert concept["difference"] == pytest.approx(-2 / 6) and concept["p_value"] == pytest.approx(0.5)
    assert pairs["comparisons"]["digit"] == mcnemar_exact(per_image["digit_kept"],
                                                          per_image["digit_read_without"]).as_dict()
    # every colour read is one test of one family, Holm-adjusted
    colours = pairs["colour_comparisons"]
    assert list(colours) == ["red stroke", "green stroke", "blue stroke", "yellow stroke", "white stroke",
                             "black background", "gray background"]
    raw = {name: mcnemar_exact(np.array(per_image[f"{name.split()[1]}_with"]) == name.split()[0],
                               np.array(per_image[f"{name.split()[1]}_without"]) == name.split()[0])
           for name in colours}
    for (name, c), p_holm in zip(raw.items(), holm([c.p_value for c in raw.values()])):
        assert colours[name] == dataclasses.replace(c, p_holm=p_holm).as_dict(), name
        assert Comparison.from_dict(colours[name]).verdict == colours[name]["verdict"]


def test_identical_pairs_get_no_test():
    images = digit_images(WITHOUT)
    metrics, _ = pair_metrics(read(images, [1] * 6), read(images, [1] * 6), (images, images.copy()), DIGITS,
                              "white")
    assert metrics["identical_pairs"] == 6 and metrics["mean_abs_change"] == 0.0
    assert metrics["comparisons"] == {"concept": None, "digit": None, "no_digit": None}
    assert set(metrics["colour_comparisons"].values()) == {None}
    assert metrics["shares"]["concept_with"] == metrics["shares"]["concept_without"]  # shares still reported


def test_scales_are_compared_on_the_images_they_share():
    low_images, high_images = digit_images(["red"] * 4), digit_images(WITHOUT)
    low, _ = pair_metrics(read(low_images, [1] * 4), read(low_images, [1] * 4), (low_images, low_images),
                          DIGITS[:4], "white")
    high, _ = pair_metrics(read(high_images, [1] * 6), read(high_images, [1] * 6), (high_images, high_images),
                           DIGITS, "white")
    compared = across_scales({**low, "guidance_scale": 1.0}, {**high, "guidance_scale": 7.5})
    assert (compared["from_scale"], compared["to_scale"], compared["n_samples"]) == (1.0, 7.5, 4)
    assert compared["concept_without"] == mcnemar_exact([True, True, True, False], [False] * 4).as_dict()
    red = compared["colours_without"]["red stroke"]  # red on all 4 shared images at the low scale, 1 at the high
    assert (red["a"], red["b"], red["difference"]) == (0.25, 1.0, -0.75)


def test_seed_baseline_compares_same_seed_pairs_with_other_seed_pairs():
    n = 12
    without = read_digits(digit_images(["white"] * n)).masks
    same = read_digits(digit_images(["red"] * n)).masks  # same layout, another colour
    other = read_digits(digit_images(["red"] * n, shift=2)).masks  # another seed: moved by 2 pixels
    other[0] = False  # an empty mask: no centroid, left out of the shift's test
    baseline = seed_baseline(without, same, other, seed=0)
    assert baseline["n_samples"] == n and baseline["shift_pairs"] == n - 1
    assert baseline["mask_iou_same_seed_mean"] == 1.0 and baseline["centroid_shift_px_other_seed_median"] == 2.0
    iou, shift = baseline["comparisons"]["mask_iou"], baseline["comparisons"]["centroid_shift_px"]
    assert iou["verdict"] == "higher" and shift["verdict"] == "lower"
    per_image = baseline["per_image"]
    assert iou == paired_mean_difference(per_image["mask_iou_same_seed"], per_image["mask_iou_other_seed"],
                                         seed=baseline["test_seed"]).as_dict()
    kept = [i for i in range(n) if per_image["centroid_shift_px_other_seed"][i] is not None]
    assert shift == paired_mean_difference([per_image["centroid_shift_px_same_seed"][i] for i in kept],
                                           [per_image["centroid_shift_px_other_seed"][i] for i in kept],
                                           seed=baseline["test_seed"]).as_dict()



def test_seed_baseline_compares_every_negative_prompt_with_the_same_other_seed_pairs():
    """Each negative prompt's same-seed pairs against the one set of other-seed pairs: a negative prompt that moves
    the strokes farther than another seed does reads as lower overlap and larger shift."""
    n = 12
    without = read_digits(digit_images(["white"] * n)).masks
    same = read_digits(digit_images(["red"] * n)).masks
    farther = read_digits(digit_images(["red"] * n, shift=3)).masks
    other = read_digits(digit_images(["red"] * n, shift=2)).masks
    baseline = seed_baseline(without, same, other, seed=0, by_negative_prompt={"white": same, "red": farther})
    by = baseline["by_negative_prompt"]
    assert list(by) == ["white", "red"] and by["white"] == baseline["comparisons"]
    assert by["red"]["mask_iou"]["verdict"] == "lower" and by["red"]["centroid_shift_px"]["verdict"] == "higher"
    assert by["red"]["mask_iou"]["b"] == baseline["mask_iou_other_seed_mean"]
    assert "by_negative_prompt" not in seed_baseline(without, same, other, seed=0)

def test_a_model_is_compared_with_a_reference_model_image_by_image(pairs):
    ours = [{**pairs, "negative_prompt": "white"}]
    theirs = {**pairs, "negative_prompt": "white",
              "per_image": {**pairs["per_image"], "concept_with": [True] * 6}}
    compared = versus_reference(ours, [5, 6, 7, 8, 9, 10], {"image_seeds": [5, 6, 7, 8, 9, 10],
                                                            "concepts": [theirs]}, "ref.json")
    assert compared["n_samples"] == 6 and list(compared["concepts"]) == ["white"]
    assert compared["concepts"]["white"]["with"] == mcnemar_exact(pairs["per_image"]["concept_with"],
                                                                  [True] * 6).as_dict()
    with pytest.raises(DataError, match="^ref.json: not a record of this study with per-image outcomes on the same"):
        versus_reference(ours, [5, 6], {"image_seeds": [5, 7], "concepts": [theirs]}, "ref.json")
    old = {k: v for k, v in theirs.items() if k != "per_image"}
    with pytest.raises(DataError, match="per-image outcomes"):
        versus_reference(ours, [5, 6], {"image_seeds": [5, 6], "concepts": [old]}, "ref.json")


def test_the_report_tests_build_concepts_with_the_keys_of_the_study(pairs):
    """tests/q19_records.py builds the report's Q19 fixtures without torch: its concepts have this study's keys, and
    its comparisons across scales and with a reference model are this study's."""
    from tests import q19_records

    built = q19_records.study(["white"])[0]
    assert set(built) == set(pairs) | {"guidance_scale", "negative_prompt"}
    for key in ("shares", "comparisons", "colour_comparisons", "per_image"):
        assert set(built[key]) == set(pairs[key]), key
    assert set(built["shares"]["concept_with"]) == set(pairs["shares"]["concept_with"])
    assert set(built["comparisons"]["concept"]) == set(pairs["comparisons"]["concept"])
    low, high = q19_records.study(["white"], 1.0)[0], q19_records.study(["white"], 7.5)[0]
    assert q19_records.across_scales(low, high) == across_scales(low, high)
    reference = q19_records.metrics_metrics()
    more_red = q19_records.more_red_metrics(reference)
    assert more_red["compared_with"]["concepts"] == versus_reference(
        more_red["concepts"], reference["image_seeds"], reference, "results/guidance/metrics.json")["concepts"]


def test_figures_show_the_first_images_with_the_concept_whatever_the_negative_prompt_does():
    """The pairs a concept's figure shows are chosen by a fixed rule on the images without the negative prompt:
    the first k that show the concept (so the outcome with it is not selected on); the first k images when none
    shows it."""
    assert figure_images([False, True, False, True, True, True], 3) == [1, 3, 4]
    assert figure_images([False, True, False], 8) == [1]
    assert figure_images([False] * 10, 4) == [0, 1, 2, 3]
    assert figure_images([False] * 2, 4) == [0, 1]
    metrics, _ = pair_metrics(*(read(digit_images(names), [1] * 6) for names in (WITHOUT, WITH)),
                              (digit_images(WITHOUT), digit_images(WITH)), DIGITS, "white")
    assert figure_images(metrics["per_image"]["concept_without"], 8) == [0, 1, 2]  # WITHOUT: white first three
