"""The verbs of the report's comparisons come from tests on the results: data that favour the other side flip the
verb, and a difference whose interval holds zero reads as level."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mvadl import REPO_ROOT
from mvadl.report.build import TEMPLATE_DIR, make_meta
from mvadl.report.derived import paired_shares, pp
from mvadl.report.render import render

RESULTS = REPO_ROOT / "results"


@pytest.fixture
def results_copy(tmp_path: Path) -> Path:
    dst = tmp_path / "results"
    shutil.copytree(RESULTS, dst, ignore=shutil.ignore_patterns("*.png", "*.npz", "*.safetensors"))
    return dst


def _edit(path: Path, change) -> None:
    record = json.loads(path.read_text())
    change(record)
    path.write_text(json.dumps(record))


def _render(results: Path, template: str) -> str:
    return render(TEMPLATE_DIR, results, make_meta(results, "A. Student"), template)


def test_negative_prompt_verb_flips_when_the_data_favour_the_other_side(results_copy):
    before = _render(RESULTS, "part2_guidance.md.j2")
    assert '"white" lowers (-44.0' in before

    def more_white_with_the_negative_prompt(record):
        for concepts in (record["metrics"]["concepts"], record["concepts"]):
            concepts[0]["concept_rate_without_negative"] = 0.0
            concepts[0]["concept_rate_with_negative"] = 0.44

    _edit(results_copy / "guidance" / "metrics.json", more_white_with_the_negative_prompt)
    after = _render(results_copy, "part2_guidance.md.j2")
    assert '"white" raises (+44.0' in after and '"white" lowers' not in after


def test_seed_contrast_verb_flips_when_pre_norm_is_worse(results_copy):
    before = _render(RESULTS, "part3_prenorm.md.j2")
    assert "post-norm ends\nabove pre-norm in each of the 3 seeds" in before

    def swap(record):
        for contrast in (record["metrics"]["main_contrast"], record["main_contrast"]):
            contrast["post"], contrast["pre"] = contrast["pre"], contrast["post"]

    _edit(results_copy / "prenorm" / "summary.json", swap)
    after = _render(results_copy, "part3_prenorm.md.j2")
    assert "post-norm ends\nbelow pre-norm in each of the 3 seeds" in after


def test_a_difference_inside_its_interval_reads_as_level(results_copy):
    before = _render(RESULTS, "part1_vae.md.j2")
    assert "our NLL is\nhigher than theirs" in before

    def close_to_the_published_value(record):
        record["test_nll_is"] = record["metrics"]["test_nll_is"] = 86.9  # published: 86.76, SE 0.25
        record["test_nll_is_std_error"] = record["metrics"]["test_nll_is_std_error"] = 0.25

    _edit(results_copy / "vae" / "metrics.json", close_to_the_published_value)
    after = _render(results_copy, "part1_vae.md.j2")
    assert "our NLL is\nlevel with theirs (difference in nats\n+0.1 [-0.3, +0.6], p = 0.575" in after


def test_shares_whose_pairing_is_not_stored_take_the_least_favourable_pairing():
    fixed = paired_shares(0, 88, 200)  # one share is 0 %: the counts fix the pairs
    assert "least favourable" not in fixed.test and fixed.verdict == "lower"
    assert pp(fixed) == "-44.0 [-50.9, -37.0] pp, p < 0.001"
    open_pairing = paired_shares(115, 88, 200)  # 3 to 88 images with the colour in both: not fixed
    assert "least favourable of the 86 pairings" in open_pairing.test
    assert open_pairing.verdict == "level" and open_pairing.low < 0 < open_pairing.high


@pytest.mark.parametrize("difference, low, high, p_value, verb", [
    (+2.0, +1.0, +3.0, 0.001, "higher than"), (-2.0, -3.0, -1.0, 0.001, "lower than"),
    (+0.3, -0.5, +1.1, 0.4, "level with")])
def test_direct_against_pivoting_takes_its_verb_from_the_bootstrap(results_copy, difference, low, high, p_value,
                                                                    verb):
    def set_de_fr_at_the_last_point(record):
        comparisons = record["metrics"]["comparisons"]
        last = max(c["b"]["updates"] for c in comparisons if c["kind"] == "direct_vs_pivot")
        for c in comparisons:
            if (c["kind"], c["direction"], c["b"]["updates"]) == ("direct_vs_pivot", "de-fr", last):
                c["bleu"].update(difference=difference, low=low, high=high, p_value=p_value,
                                 a=c["bleu"]["b"] + difference)
        record["comparisons"] = comparisons

    _edit(results_copy / "nmt" / "comparisons.json", set_de_fr_at_the_last_point)
    text = " ".join(_render(results_copy, "part3_translation.md.j2").split())
    assert f"on de-fr `direct` is {verb} pivoting (BLEU {difference:+.1f} [{low:+.1f}, {high:+.1f}]" in text


@pytest.mark.parametrize("kind", ["multilingual_vs_bilingual", "equal_compute"])
@pytest.mark.parametrize("difference, low, high, p_value, verb", [
    (+2.0, +1.0, +3.0, 0.001, "higher than"), (-2.0, -3.0, -1.0, 0.001, "lower than"),
    (+0.3, -0.5, +1.1, 0.4, "level with")])
def test_multilingual_against_bilingual_takes_its_verb_from_the_bootstrap(results_copy, kind, difference, low, high,
                                                                          p_value, verb):
    """zeroshot's en-de against the bilingual model (same updates; equal compute) at the last point: the verb
    that the sentence groups en-de under follows the test."""
    def set_en_de_at_the_last_point(record):
        comparisons = record["metrics"]["comparisons"]
        last = max(c["b"]["updates"] for c in comparisons if c["kind"] == kind and c["a"]["system"] == "zeroshot")
        changed = 0
        for c in comparisons:
            if (c["kind"], c["a"]["system"], c["direction"], c["b"]["updates"]) == (kind, "zeroshot", "en-de", last):
                c["bleu"].update(difference=difference, low=low, high=high, p_value=p_value,
                                 a=c["bleu"]["b"] + difference)
                changed += 1
        assert changed == 1
        record["comparisons"] = comparisons

    _edit(results_copy / "nmt" / "comparisons.json", set_en_de_at_the_last_point)
    text = " ".join(_render(results_copy, "part3_translation.md.j2").split())
    part = text.split("At equal compute")[kind == "equal_compute"]
    sentence = part[part.index("`zeroshot` is "):]
    claim = sentence.index(f"en-de (BLEU {difference:+.1f} [{low:+.1f}, {high:+.1f}]")
    verbs = {v: sentence.rfind(v, 0, claim) for v in ("higher than", "lower than", "level with")}
    assert max(verbs, key=verbs.get) == verb


def test_q10_counts_the_cells_whose_digit_changes_between_the_last_two_grids(results_copy):
    def read(epochs):
        epochs["10"] = {"labels": [1] * 64, "confidence": [0.99] * 64}
        epochs["80"] = {"labels": [1] * 60 + [7, 7, 2, 2], "confidence": [0.99] * 62 + [0.5, 0.95]}

    _edit(results_copy / "vae" / "sample_classes.json", lambda r: [read(r["metrics"]["epochs"]), read(r["epochs"])])
    text = _render(results_copy, "part1_vae.md.j2")
    assert ("in\n  4 of 64 cells; 3 of these are read with probability\n  $\\ge 0.9$ both times (1 to 7, 1 to 7, "
            "1 to 2)") in text


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
def test_a_second_seed_is_described_apart_and_its_verdicts_checked_against_the_first(results_copy, flip):
    before = _render(RESULTS, "part3_translation.md.j2")
    _edit(results_copy / "nmt" / "comparisons.json", lambda r: _with_a_second_seed(r, flip))
    text = " ".join(_render(results_copy, "part3_translation.md.j2").split())
    before = " ".join(before.split())
    assert text.split("A second training seed")[0] == before.split("A second training seed")[0].replace(
        "(seed 1)", "(seed 1; a second seed below)")  # the second seed leaves the seed-1 text as it was
    paragraph = text[text.index("A second training seed"):text.index("## Zero-shot")]
    assert "the second run of `zeroshot` is" in paragraph and "the second run of `bilingual_en_de` is" in paragraph
    same = "Both seeds give each of these comparisons the same verdict at every point."
    assert (same in paragraph) != flip
    assert ("higher than the bilingual model on en-de (BLEU +2.0 [+1.0, +3.0]" in paragraph) == flip
    if flip:
        last = max(c["b"]["updates"] for c in json.loads((results_copy / "nmt" / "comparisons.json").read_text())[
            "metrics"]["comparisons"] if c["kind"] == "seeds")
        assert f"verdicts differ on en-de at {last:,} updates (lower with seed 1, higher with seed 2)" in paragraph
