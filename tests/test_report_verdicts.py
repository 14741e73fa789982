"""The verbs of the report's comparisons come from tests on the results: data that favour the other side flip the
verb, and a difference whose interval holds zero reads as "no significant difference", never as "level". The
report prints the tests the experiments recorded and runs none of its own."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mvadl import REPO_ROOT
from mvadl.report.build import TEMPLATE_DIR, make_meta
from mvadl.report.render import render
from mvadl.verdicts import mcnemar_exact
from tests.nmt_records import edit_translation_record
from tests.q19_records import share, write_records
from tests.report_copies import copy_results
from tests.report_copies import edit_record as _edit

RESULTS = REPO_ROOT / "results"


@pytest.fixture
def results_copy(tmp_path: Path) -> Path:
    return copy_results(tmp_path)


def _render(results: Path, template: str) -> str:
    return render(TEMPLATE_DIR, results, make_meta(results, "A. Student"), template)


def _flat(text: str) -> str:
    return " ".join(text.split())


def _q19(folder: Path, change=None) -> Path:
    """A results folder with what the Q19 templates read: the study's records (tests/q19_records.py, edited by
    ``change(name, record)``) and the committed design study."""
    (folder / "guidance").mkdir(parents=True)
    shutil.copy(RESULTS / "guidance" / "design.json", folder / "guidance")
    return write_records(folder, change)


def _concept(name: str, record: dict, negative_prompt: str) -> dict | None:
    if name != "metrics":
        return None
    return next(c for c in record["metrics"]["concepts"] if c["negative_prompt"] == negative_prompt)


def test_negative_prompt_verb_flips_when_the_data_favour_the_other_side(tmp_path):
    before = _flat(_render(_q19(tmp_path / "before"), "part2_guidance.md.j2"))
    assert ('the negative prompt "white" significantly lowers the share of white digits, from 44.0 % to 0.0 % of '
            '200 images (-44.0 [-50.9, -37.0] pp, p < 0.001') in before
    assert '| "white" | 12.5 % | 44.0 % → 0.0 %, significantly lower |' in before

    def more_white_with_the_negative_prompt(name, record):  # the study's pairs swapped, its test re-run on them
        if c := _concept(name, record, "white"):
            p, shares = c["per_image"], c["shares"]
            p["concept_without"], p["concept_with"] = p["concept_with"], p["concept_without"]
            shares["concept_without"], shares["concept_with"] = shares["concept_with"], shares["concept_without"]
            c["comparisons"]["concept"] = mcnemar_exact(p["concept_with"], p["concept_without"]).as_dict()

    after = _flat(_render(_q19(tmp_path / "after", more_white_with_the_negative_prompt), "part2_guidance.md.j2"))
    assert '"white" significantly raises the share of white digits, from 0.0 % to 44.0 % of 200 images (+44.0 [' \
        in after
    assert '| "white" | 12.5 % | 0.0 % → 44.0 %, significantly higher |' in after


def test_the_recorded_test_is_printed_and_none_is_run(tmp_path):
    """A recorded comparison that does not reject (here: p = 0.20, an interval holding zero) reads as no
    significant change, with its own numbers, whatever the shares."""
    def not_significant(name, record):
        if c := _concept(name, record, "white"):
            c["comparisons"]["concept"].update(low=-0.6, high=0.02, p_value=0.2, verdict="level")

    text = _flat(_render(_q19(tmp_path, not_significant), "part2_guidance.md.j2"))
    assert ('"white" does not significantly change the share of white digits, from 44.0 % to 0.0 % of 200 images '
            '(-44.0 [-60.0, +2.0] pp, p = 0.20') in text
    assert '| "white" | 12.5 % | 44.0 % → 0.0 %, no significant difference |' in text


def test_identical_pairs_at_scale_one_are_named_and_not_tested(tmp_path):
    results = _q19(tmp_path)
    handin = _flat(_render(results, "part2_guidance.md.j2"))
    assert "at $s = 1$ the negative prompt cancels out." in handin  # the sweep's pairs: in the supplement
    assert "the guidance-scale sweep samples" not in handin
    sweep = [line for line in _render(results, "appendix_guidance.md.j2").splitlines()
             if line.startswith(("| 1 | 100 |", "| 7.5 | 100 |"))]
    assert sweep[0] == "| 1 | 100 | 100 | 13.0 % [7.8, 21.0] | 13.0 % [7.8, 21.0] | identical images, not tested | " \
                       "100.0 % | 1.00 |"
    assert "| 0.0 % [0.0, 3.7] | -65.0 [-73.6, -54.6] pp, p < 0.001 |" in sweep[1]


def test_side_effects_name_the_colours_whose_change_is_significant(tmp_path):
    """The side effects are worded in the supplement; the hand-in points there."""
    assert "Effects on other colours are in the supplement." in _flat(
        _render(_q19(tmp_path / "handin"), "part2_guidance.md.j2"))
    before = _flat(_render(_q19(tmp_path / "before"), "appendix_guidance.md.j2"))
    assert ('"gray background" significantly raises red strokes, green strokes, blue strokes and black backgrounds, '
            'and significantly lowers white strokes;') in before

    def no_side_effect(name, record):  # Holm's adjustment over the colours leaves none significant
        if c := _concept(name, record, "gray background"):
            for comparison in c["colour_comparisons"].values():
                comparison.update(p_holm=1.0, verdict="level")

    after = _flat(_render(_q19(tmp_path / "after", no_side_effect), "appendix_guidance.md.j2"))
    assert '"gray background" changes no other colour significantly;' in after


def _position(negative_prompt: str, iou: float, verdict: str, shift_verdict: str | None = None):
    """A change for :func:`_q19`: ``negative_prompt``'s same-seed pairs against the other-seed pairs (mean IoU 0.40)
    with mean IoU ``iou`` and an IoU test of ``verdict``; its centroid-shift test mirrors it unless
    ``shift_verdict`` is given."""
    def tested(a: float, b: float, verdict: str) -> dict:
        d = a - b
        low, high, p = {"higher": (abs(d) / 2, abs(d) * 2, 0.001), "lower": (-abs(d) * 2, -abs(d) / 2, 0.001),
                        "level": (-abs(d) - 0.1, abs(d) + 0.1, 0.4)}[verdict]
        return {"difference": d, "a": a, "b": b, "low": low, "high": high, "p_value": p, "verdict": verdict}

    mirror = {"higher": "lower", "lower": "higher", "level": "level"}

    def change(name, record):
        if c := _concept(name, record, negative_prompt):
            c["mask_iou_mean"] = iou
            t = record["metrics"]["seed_baseline"]["by_negative_prompt"][negative_prompt]
            t["mask_iou"].update(tested(iou, 0.4, verdict))
            shift = shift_verdict or mirror[verdict]
            t["centroid_shift_px"].update(tested({"higher": 2.5, "lower": 0.8, "level": 2.0}[shift], 2.0, shift))
    return change


def _changes(*changes):
    def change(name, record):
        for c in changes:
            c(name, record)
    return change


def test_position_is_answered_for_every_negative_prompt_against_other_seeds(tmp_path):
    """Each negative prompt's pairs against two images of different seeds, worded by its test (the stroke IoU;
    the centroid shift said to agree only when it does), with the main one's interval; a record that compared
    only the main negative prompt says so for the others."""
    def position(change=None, folder="x"):
        text = _flat(_render(_q19(tmp_path / folder, change), "part2_guidance.md.j2"))
        return text[text.index("**Position.**"):text.index("**Model.**")]

    before = position(folder="before")
    assert ("**Position.** MNIST digits are centred, so position is a weak test here: two images from different "
            "seeds already overlap with a mean stroke IoU of 0.40, their centroids 2.00 pixels apart.") in before
    assert ('Against that, the same noise keeps the strokes in place significantly better with "white" (IoU 0.65, '
            '+0.25 [+0.24, +0.27], p = 0.0020), "gray background" (0.65) and "red" (0.65). Centroid shifts agree; '
            'paired sign-flip tests over 200 images.') in before

    gray_moves = position(_position("gray background", 0.30, "lower"), "gray")
    assert ('significantly better with "white" (IoU 0.65, +0.25 [+0.24, +0.27], p = 0.0020) and "red" (0.65); '
            '"gray background" (0.30) changes them significantly more than a change of seed. Centroid shifts '
            'agree;') in gray_moves

    mixed = position(_changes(_position("gray background", 0.30, "lower"), _position("red", 0.42, "level")), "mixed")
    assert ('with "white" (IoU 0.65, +0.25 [+0.24, +0.27], p = 0.0020); "gray background" (0.30) changes them '
            'significantly more than a change of seed; with "red" (0.42) the overlap shows no significant '
            'difference from a change of seed.') in mixed

    white_moves = position(_position("white", 0.30, "lower"), "white")
    assert ('"gray background" (IoU 0.65) and "red" (0.65); "white" (0.30, -0.10 [-0.20, -0.05], p = 0.0010) '
            'changes them significantly more than a change of seed.') in white_moves

    shift_disagrees = position(_position("red", 0.65, "higher", shift_verdict="level"), "shift")
    assert "Centroid shifts are in the supplement; paired sign-flip tests" in shift_disagrees
    assert "Centroid shifts agree" not in shift_disagrees

    def main_only(name, record):  # a record of the study that compared only the main negative prompt
        if name == "metrics":
            del record["metrics"]["seed_baseline"]["by_negative_prompt"]

    older = position(main_only, "older")
    assert ('the same noise keeps the strokes in place significantly better with "white" (IoU 0.65, +0.25 [+0.24, '
            '+0.27], p = 0.0020); "gray background" (0.65) and "red" (0.65) were not compared with another seed in '
            'this run.') in older
    supplement = _flat(_render(_q19(tmp_path / "older-supplement", main_only), "appendix_guidance.md.j2"))
    assert 'This run compared only "white" with another seed' in supplement
    assert '| "gray background" | stroke-mask IoU |' not in supplement
    assert '| "gray background" | stroke-mask IoU |' in _flat(_render(_q19(tmp_path / "supplement"),
                                                                      "appendix_guidance.md.j2"))


def test_the_colour_that_takes_the_removed_colours_place_is_named(tmp_path):
    """The stroke colour whose share rises most under the main negative prompt (among those whose rise is
    significant) is named with its shares; none rising significantly reads as such."""
    text = _flat(_render(_q19(tmp_path / "before"), "part2_guidance.md.j2"))
    assert ("The strokes take another colour instead: red strokes rise significantly, from 29.0 % to 93.5 % of the "
            "images.") in text

    def red_not_significant(name, record):
        if c := _concept(name, record, "white"):
            c["colour_comparisons"]["red stroke"].update(p_holm=0.3, verdict="level")

    after = _flat(_render(_q19(tmp_path / "after", red_not_significant), "part2_guidance.md.j2"))
    assert "No other stroke colour rises significantly in its place." in after and "red strokes rise" not in after


def test_equal_shares_read_unchanged(tmp_path):
    """A table cell with the same share without and with the negative prompt reads "unchanged" (even when single
    images change both ways); different shares keep the arrow and the test's verdict."""
    def swap_two(name, record):  # one image loses its digit, another one gains it: the share stays at 99.5 %
        if c := _concept(name, record, "white"):
            p = c["per_image"]
            p["digit_read_without"][0], p["digit_kept"][1] = False, False
            c["shares"]["digit_read_without"], c["shares"]["digit_kept"] = (
                share(p["digit_read_without"]), share(p["digit_kept"]))
            c["comparisons"]["digit"] = mcnemar_exact(p["digit_kept"], p["digit_read_without"]).as_dict()

    text = _flat(_render(_q19(tmp_path / "swap", swap_two), "part2_guidance.md.j2"))
    assert '| "white" | 12.5 % | 44.0 % → 0.0 %, significantly lower | 99.5 %, unchanged | 0.65 |' in text
    assert "→ 100.0 %, no significant difference" not in text
    lost = _flat(_render(_q19(tmp_path / "lost", _lose_digits("white", 2, 0.65)), "part2_guidance.md.j2"))
    assert '| 100.0 % → 99.0 %, no significant difference | 0.65 |' in lost


def _lose_digits(negative_prompt: str, lost: int, iou: float):
    """A change for :func:`_q19`: the prompt's digit no longer read on the first ``lost`` images with
    ``negative_prompt``, its test re-run on those pairs, and the pairs' mean stroke IoU set to ``iou``."""
    def change(name, record):
        if c := _concept(name, record, negative_prompt):
            p = c["per_image"]
            p["digit_kept"] = [i >= lost for i in range(len(p["digit_kept"]))]
            c["shares"]["digit_kept"] = share(p["digit_kept"])
            c["comparisons"]["digit"] = mcnemar_exact(p["digit_kept"], p["digit_read_without"]).as_dict()
            c["mask_iou_mean"] = iou
    return change


def test_every_negative_prompt_states_what_it_costs_the_digit(tmp_path):
    """Digit read and stroke overlap for each negative prompt, with the verdict of its test, not only for the
    best one; the sentence after the table names those that significantly lower the digit read."""
    before = _flat(_render(_q19(tmp_path / "before"), "part2_guidance.md.j2"))
    assert "| 100.0 %, unchanged | 0.65 |" in before
    assert "No negative prompt significantly lowers the share of digits read" in before

    gray = _flat(_render(_q19(tmp_path / "gray", _lose_digits("gray background", 16, 0.43)), "part2_guidance.md.j2"))
    assert ('| "gray background" | 30.0 % | 28.5 % → 0.5 %, significantly lower | 100.0 % → 92.0 %, significantly '
            'lower | 0.43 |') in gray
    assert 'With "gray background" the classifier reads the prompt\'s digit significantly less often.' in gray

    def both(name, record):
        _lose_digits("gray background", 16, 0.43)(name, record)
        _lose_digits("red", 7, 0.61)(name, record)

    two = _flat(_render(_q19(tmp_path / "both", both), "part2_guidance.md.j2"))
    assert '| "red" | 50.0 % | 29.0 % → 3.0 %, significantly lower | 100.0 % → 96.5 %, significantly lower | 0.61 |' \
        in two
    assert 'With "gray background" and "red" the classifier reads the prompt\'s digit significantly less often' in two
    few = _flat(_render(_q19(tmp_path / "few", _lose_digits("red", 2, 0.61)), "part2_guidance.md.j2"))
    assert "100.0 % → 99.0 %, no significant difference" in few  # 2 of 200: McNemar does not reject
    assert "No negative prompt significantly lowers the share of digits read" in few


def test_q19_says_the_pretrained_model_was_not_run_and_what_stands_in_for_it(tmp_path):
    text = _flat(_render(_q19(tmp_path), "part2_guidance.md.j2"))
    model = text[text.index("**Model.**"):text.index("**Negative prompt.**")]
    assert "The assignment's pretrained model could not be run: the reference runs had no access to model hubs." \
        in model
    assert "tested on a randomly initialised stand-in of the Stable Diffusion pipeline" in model
    assert "given its weights" not in text and "the supplement gives the command" in model
    assert "\\approx -\\sigma_t" in text and "every step moves" not in text  # a learned estimate, a push


def test_pair_figures_say_which_images_they_show(tmp_path):
    """The figures show, per negative prompt, the first images that show its colour without it (the study's rule,
    recorded per concept); a record drawn by the earlier rule (the first images) is captioned as such, with how
    many of them show the colour."""
    rule = _q19(tmp_path / "rule")
    text = _flat(_render(rule, "part2_guidance.md.j2"))
    assert ('Negative prompt "white", same prompt and initial noise in each pair, $s = 5$; the first 8 images '
            'showing white strokes without it (0 of them with it)') in text
    assert "top: no negative prompt" not in text  # the figure labels its rows itself
    assert 'Negative prompt "gray background": the first 8 images showing gray backgrounds without it (1 of them ' \
           "with it)" in text
    supplement = _flat(_render(rule, "appendix_guidance.md.j2"))
    assert ('The figure of "white" shows the first 8 images that show white strokes without the negative prompt '
            '(images 112, 113, 114, 115, 116, 117, 118, 119; with white strokes: 8 without the negative prompt, 0 '
            'with it).') in supplement

    def first_images(name, record):  # a record of the earlier rule
        if name == "metrics":
            for c in record["metrics"]["concepts"]:
                del c["figure_images"]
            record["metrics"]["figure_images"] = list(range(8))
            record["metrics"]["concepts"][0]["per_image"]["concept_without"][:2] = [True, True]

    first = _q19(tmp_path / "first", first_images)
    old = _flat(_render(first, "part2_guidance.md.j2"))
    assert "the first 8 images (2 showing white strokes without it, 0 with it)" in old
    assert "the first 8 images (0 showing gray backgrounds without it, 0 with it)" in old
    assert "the study's code now shows, for each negative prompt, the first images that show its colour" in _flat(
        _render(first, "appendix_guidance.md.j2"))


def test_the_supplement_prints_the_more_red_model_and_the_stored_precision_as_recorded(tmp_path):
    text = _flat(_render(_q19(tmp_path), "appendix_guidance.md.j2"))
    assert '| red (stroke) | none | 40.0 % [33.5, 46.9] | 29.0 % | +11.0 [+6.5, +15.4] pp, p < 0.001 |' in text
    assert ("the more-red model's share of red digits is significantly higher without a negative prompt and "
            'significantly higher with "red"') in text
    assert ("| digit read | 99.5 % [97.2, 99.9] | 99.0 % [96.4, 99.7] | -0.5 [-3.0, +1.6] pp, p = 1.0 | no "
            "significant difference | 1 | yes |") in text
    assert "Stored precision chosen: fp16." in text


def test_seed_contrast_is_recorded_by_the_study_and_printed(results_copy):
    """summary.py records whether post - pre has one sign in every seed; the report prints the recorded words."""
    from nlp_experiments.prenorm.summary import direction, main_contrast

    assert direction([0.2, 0.1]) == "higher" and direction([-0.2, -0.1]) == "lower"
    assert direction([0.2, -0.1]) == "mixed" and direction([]) is None
    entries = [{"depth": "deep", "norm": norm, "lr": 3e-3, "warmup_updates": 1000, "seed": seed,
                "final_valid_loss": loss, "final_valid_ppl": 2 ** loss}
               for norm, seed, loss in [("post", 1, 8.1), ("pre", 1, 7.9), ("post", 2, 7.8), ("pre", 2, 7.9)]]
    contrast = main_contrast(entries, 3e-3, 1000)["post_minus_pre_bits"]
    assert contrast["direction"] == "mixed" and contrast["n"] == 2

    before = _flat(_render(RESULTS, "part3_prenorm.md.j2"))
    assert "post-norm ends above pre-norm in each of the 3 seeds" in before

    def flip(record):
        for metrics in (record["metrics"], record):
            metrics["main_contrast"]["post_minus_pre_bits"]["direction"] = "lower"
            metrics["shallow_contrast"]["post_minus_pre_bits"]["direction"] = "higher"

    _edit(results_copy / "prenorm" / "summary.json", flip)
    after = _flat(_render(results_copy, "part3_prenorm.md.j2"))
    assert "post-norm ends below pre-norm in each of the 3 seeds" in after
    assert "2 layers post-norm ends above pre-norm" in after


def test_the_published_vae_stands_beside_ours_without_a_verdict(results_copy):
    """The published model differs from ours: the supplement sets the two numbers side by side and runs no test."""
    def close_to_the_published_value(record):
        record["test_nll_is"] = record["metrics"]["test_nll_is"] = 86.9

    _edit(results_copy / "vae" / "metrics.json", close_to_the_published_value)
    text = _flat(_render(results_copy, "appendix_vae.md.j2"))
    paragraph = text[text.index("Comparison with a published VAE"):text.index("In this run the test ELBO")]
    assert "| test NLL, IS (nats) | 86.76 | 86.90 (standard error" in paragraph
    assert "significantly" not in paragraph and "p =" not in paragraph and "p <" not in paragraph


VERDICT_CASES = [(+2.0, +1.0, +3.0, 0.001, "significantly higher than"),
                 (-2.0, -3.0, -1.0, 0.001, "significantly lower than"),
                 (+0.3, -0.5, +1.1, 0.4, "not significantly different from")]


def _set(record, kind, system, direction, difference, low, high, p_value, last=None):
    comparisons = record["metrics"]["comparisons"]
    last = last or max(c["b"]["updates"] for c in comparisons if c["kind"] == kind and c["seed"] == 1)
    changed = 0
    for c in comparisons:
        if ((c["kind"], c["direction"], c["b"]["updates"], c["seed"]) == (kind, direction, last, 1)
                and (system is None or c["a"]["system"] == system)):
            c["bleu"].update(difference=difference, low=low, high=high, p_value=p_value, a=c["bleu"]["b"] + difference)
            c["bleu"].pop("p_holm", None)  # the adjusted p belonged to the replaced test
            changed += 1
    assert changed == 1
    record["comparisons"] = comparisons


def _verb_before(sentence: str, claim: str) -> str:
    at = sentence.index(claim)
    verbs = {v: sentence.rfind(v, 0, at) for _, _, _, _, v in VERDICT_CASES}
    return max(verbs, key=verbs.get)


@pytest.mark.parametrize("difference, low, high, p_value, verb", VERDICT_CASES)
def test_direct_against_pivoting_takes_its_verb_from_the_bootstrap(results_copy, difference, low, high, p_value,
                                                                    verb):
    edit_translation_record(results_copy / "nmt" / "comparisons.json",
          lambda r: _set(r, "direct_vs_pivot", None, "de-fr", difference, low, high, p_value))
    text = _flat(_render(results_copy, "part3_translation.md.j2"))
    sentence = text[text.index("(one pass) is"):text.index("**What direct data cost elsewhere.**")]
    assert _verb_before(sentence, "de-fr") == verb
    # the interval of a significant difference is printed after its own direction (of every direction when none
    # is significant)
    assert (f"de-fr ({difference:+.1f} [{low:+.1f}, {high:+.1f}]" in sentence) == (verb != VERDICT_CASES[2][4])
    assert "de-fr:" not in sentence and "fr-de:" not in sentence


@pytest.mark.parametrize("difference, low, high, p_value, verb", VERDICT_CASES)
def test_multilingual_against_bilingual_takes_its_verb_from_the_bootstrap(results_copy, difference, low, high,
                                                                          p_value, verb):
    """The English-centric model's en-de against the bilingual model at the last point: the verb that the
    sentence groups en-de under follows the test."""
    edit_translation_record(results_copy / "nmt" / "comparisons.json",
          lambda r: _set(r, "multilingual_vs_bilingual", "zeroshot", "en-de", difference, low, high, p_value))
    text = _flat(_render(results_copy, "part3_translation.md.j2"))
    sentence = text[text.index("the English-centric model is"):text.index("The model with de-fr data is")]
    assert _verb_before(sentence, "en-de") == verb


@pytest.mark.parametrize("difference, low, high, p_value, verb", VERDICT_CASES)
def test_equal_compute_takes_its_verb_from_the_bootstrap(results_copy, difference, low, high, p_value, verb):
    edit_translation_record(results_copy / "nmt" / "comparisons.json",
          lambda r: _set(r, "equal_compute", "zeroshot", "en-de", difference, low, high, p_value))
    text = _flat(_render(results_copy, "appendix_translation.md.j2"))
    sentence = text[text.index("**Equal compute.**"):text.index("| direction |")]
    assert _verb_before(sentence, "en-de (BLEU") == verb


def test_holm_adjusted_p_decides_and_is_printed(results_copy):
    """With ``p_holm`` in the records, the adjusted p is printed and decides the verdict: a raw p of 0.01 with
    an adjusted 0.2 reads as no significant difference."""
    def adjust(record):
        _set(record, "direct_vs_pivot", None, "fr-de", 1.0, 0.2, 1.8, 0.01)
        for c in record["metrics"]["comparisons"]:
            for metric in ("bleu", "chrf"):
                c[metric]["p_holm"] = min(1.0, 20 * c[metric]["p_value"])

    edit_translation_record(results_copy / "nmt" / "comparisons.json", adjust)
    text = _flat(_render(results_copy, "part3_translation.md.j2"))
    sentence = text[text.index("(one pass) is"):text.index("**What direct data cost elsewhere.**")]
    assert "fr-de (+1.0 [+0.2, +1.8], p = 0.20)" in sentence
    assert _verb_before(sentence, "fr-de") == "not significantly different from"
    supplement = _flat(_render(results_copy, "appendix_common.md.j2"))
    assert "one comparison kind at one update count for one seed" in supplement


def test_q10_prints_the_digit_changes_the_record_counts(results_copy):
    """vae_diffusion.vae.sample_classes counts the changed cells (tests/test_vae_run_figures.py); the supplement
    prints its count beside the classifier's definition; the hand-in's Q10 speaks of sample quality only."""
    change = {"from_epoch": 10, "to_epoch": 80, "n": 64, "changed": 4, "both_clear": 3, "threshold": 0.9,
              "clear_pairs": ["1 to 7", "1 to 7", "1 to 2"]}
    _edit(results_copy / "vae" / "sample_classes.json",
          lambda r: [r["metrics"].update(last_change=change), r.update(last_change=change)])
    text = _flat(_render(results_copy, "appendix_vae.md.j2"))
    assert "than at epoch 10 in 4 of 64 cells after 80 epochs, 3 of them with probability $\\ge 0.9$ both times " \
           "(1 to 7, 1 to 7, 1 to 2)" in text
    classifier = json.loads((results_copy / "diffusion" / "classifier.json").read_text())
    assert (f"a small convolutional network trained on MNIST ({classifier['parameters']:,} parameters, test "
            f"accuracy {100 * classifier['test_accuracy']:.2f} %)") in text
    handin = _flat(_render(results_copy, "part1_vae.md.j2"))
    assert "in 4 of 64 cells" not in handin and "The classifier reads" not in handin


def _with_a_second_seed(record, flip: bool = False):
    """comparisons.json plus seed-2 runs of zeroshot and bilingual_en_de at two points: the seed-1 tests copied
    (one of them turned into a clear gain when ``flip``), and each seed-2 run against its seed-1 run."""
    comparisons = [c for c in record["metrics"]["comparisons"] if c["seed"] == 1]  # the committed seed 2 replaced
    points = sorted({c["b"]["updates"] for c in comparisons if c["kind"] == "direct_vs_zeroshot"})[-2:]
    added = []
    for c in comparisons:
        if (c["kind"], c["a"]["system"], c["b"]["system"]) == ("multilingual_vs_bilingual", "zeroshot",
                                                                 "bilingual_en_de") and c["b"]["updates"] in points:
            repeat = json.loads(json.dumps(c))
            repeat.update(seed=2, a={**c["a"], "system": "zeroshot_seed2"},
                          b={**c["b"], "system": "bilingual_en_de_seed2"})
            if flip and c["direction"] == "en-de" and c["b"]["updates"] == points[-1]:
                repeat["bleu"].update(difference=2.0, low=1.0, high=3.0, p_value=0.001, verdict="higher")
            added.append(repeat)
            for model in ("zeroshot", "bilingual_en_de"):
                spread = json.loads(json.dumps(c))
                spread.update(kind="seeds", seed=2, a={**c["a"], "system": f"{model}_seed2"},
                              b={**c["b"], "system": model})
                added.append(spread)
    comparisons += added
    record["metrics"]["comparisons"] = record["comparisons"] = comparisons


@pytest.mark.parametrize("flip", [False, True])
def test_a_second_seed_is_described_in_the_supplement_and_checked_against_the_first(results_copy, flip):
    edit_translation_record(results_copy / "nmt" / "comparisons.json", lambda r: _with_a_second_seed(r, flip))
    text = _flat(_render(results_copy, "appendix_translation.md.j2"))
    paragraph = text[text.index("A second training seed"):text.index("## Learning curves")]
    assert "the second run of the English-centric model is" in paragraph
    assert "the second run of the bilingual en↔de model is" in paragraph
    same = "Both seeds give each of these comparisons the same verdict at every point."
    assert (same in paragraph) != flip
    assert ("significantly higher than the bilingual model on en-de (BLEU +2.0 [+1.0, +3.0]" in paragraph) == flip
    if flip:
        last = max(c["b"]["updates"] for c in json.loads((results_copy / "nmt" / "comparisons.json").read_text())[
            "metrics"]["comparisons"] if c["kind"] == "seeds")
        assert (f"verdicts differ on en-de at {last:,} updates (significantly lower with seed 1, significantly "
                f"higher with seed 2)") in paragraph
