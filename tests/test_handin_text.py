"""The hand-in reads as a course hand-in: within its page and word limits, statistics in plain words, no build
jargon, and no sentence that the data contradict (each checked on a results copy in which the data say
otherwise)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from mvadl import REPO_ROOT
from mvadl.report import build as report_build
from mvadl.report.build import TEMPLATE_DIR, make_meta
from mvadl.report.render import body_of, count_words, fmt_fixed, fmt_p, render
from tests.q19_records import results_for_report

RESULTS = REPO_ROOT / "results"
COMMITTED = REPO_ROOT / "report"
#: Run names that are not English words ("direct" is, and reads as one).
RUN_NAMES = ("zeroshot", "bilingual_en_de", "bilingual_en_fr", "zeroshot_pivot_en", "_seed")


@pytest.fixture(scope="module")
def handin(tmp_path_factory) -> str:
    results = results_for_report(tmp_path_factory.mktemp("handin_results"))
    return report_build.render_document(results, report_build.HANDIN, author="A. Student")


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
    return " ".join(render(TEMPLATE_DIR, results, make_meta(results, "A. Student"), template).split())


def test_committed_handin_is_within_its_page_and_word_limits():
    from pypdf import PdfReader

    assert len(PdfReader(COMMITTED / "report.pdf").pages) <= 14
    assert count_words(body_of((COMMITTED / "report.md").read_text(encoding="utf-8"))) <= 4500


def test_handin_has_no_build_jargon(handin):
    body = body_of(handin)
    assert not re.findall(r"`[^`]*`", body), "code font in the hand-in"
    prose = re.sub(r"!\[[^\]]*\]\([^)]*\)(\{[^}]*\})?", "", body)  # a caption may quote a figure's legend
    for name in RUN_NAMES:
        assert name not in prose, name
    assert "test_2016_flickr" not in re.sub(r"\]\([^)]*\)", "]", body) and "_flickr" not in body
    assert "Multi30k test 2016 (Flickr)" in body


def test_handin_uses_no_level_verdict_and_no_storage_sentence(handin):
    body = body_of(handin)
    assert not re.search(r"\blevel with\b|\bis level\b|\bare level\b|\blevel otherwise\b", body)
    assert not re.search(r"\b(stored?|records?|recorded|fingerprint|provenance)\b", body, flags=re.I)


def test_handin_opens_with_the_rule_and_what_the_bootstrap_measures(handin):
    body = body_of(handin)
    first = body[:body.index("# Part 1")]
    assert "significantly" in first and "no significant difference" in first
    assert "not the variation between training runs" in first


@pytest.mark.parametrize("p, text", [
    (0.04995004995004995, "p < 0.05"), (0.0501, "p > 0.05"), (0.05, "p = 0.050"), (0.0004, "p < 0.001"),
    (0.0123, "p = 0.012"), (0.34, "p = 0.34"), (0.0499, "p < 0.05"), (0.0449, "p = 0.045"), (1.0, "p = 1.0")])
def test_p_values_cannot_be_misread_at_the_threshold(p, text):
    assert fmt_p(p) == text


def test_numbers_are_rounded_once_half_up():
    assert fmt_fixed(55.5523, 1) == "55.6" and fmt_fixed(55.55, 1) == "55.6" and fmt_fixed(2.675, 2) == "2.68"
    assert fmt_fixed(-0.04, 1) == "0.0" and fmt_fixed(-1.25, 1) == "-1.3"


def test_section_3_table_rounds_the_unrounded_score_once(results_copy):
    def set_en_fr(record):
        scores = record["metrics"]["scores"]["bilingual_en_fr"]
        last = max(scores, key=int)
        scores[last]["test"]["en-fr"]["bleu"] = 55.5523
        record["scores"] = record["metrics"]["scores"]

    _edit(results_copy / "nmt" / "curves.json", set_en_fr)
    assert "| bilingual en-fr model | | | 55.6 |" in _render(results_copy, "part3_translation.md.j2")


def test_author_comes_from_the_option_then_git_then_the_project(monkeypatch, tmp_path):
    monkeypatch.delenv("AUTHOR", raising=False)
    assert report_build.resolve_author("Ada Lovelace") == "Ada Lovelace"
    monkeypatch.setenv("AUTHOR", "Grace Hopper")
    assert report_build.resolve_author(None) == "Grace Hopper"
    monkeypatch.delenv("AUTHOR")
    monkeypatch.setattr(report_build, "git_user_name", lambda cwd=REPO_ROOT: "Alan Turing")
    assert report_build.resolve_author(None) == "Alan Turing"
    monkeypatch.setattr(report_build, "git_user_name", lambda cwd=REPO_ROOT: None)
    assert report_build.resolve_author(None) == report_build.default_author()


def test_git_user_name_reads_git_config(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "config", "user.name", "Emmy Noether"], check=True)
    assert report_build.git_user_name(tmp_path) == "Emmy Noether"


# ---------------------------------------------------------------- sentences that follow the data


def test_q2_d2_says_the_reference_is_biased_only_when_the_naive_estimate_lies_above_it(results_copy):
    before = _render(RESULTS, "part1_vae.md.j2")
    assert "the IS reference is itself biased low" in before and "smaller than the spread" not in before

    def converged(record):
        for models in (record["metrics"]["models"], record["models"]):
            for m in models:
                if m["z_dim"] == 2:
                    m["bias_mean"][-1] = 0.1 * m["noise_std"][-1]

    _edit(results_copy / "vae" / "naive_mc.json", converged)
    after = _render(results_copy, "part1_vae.md.j2")
    assert "biased low" not in after and "lies within twice the spread over repeats" in after


def test_q2_drop_is_the_change_of_the_absolute_bias(handin):
    row = next(line for line in handin.splitlines() if line.startswith("| 2 ("))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert float(cells[6]) < 0  # D = 2: |bias| grows from 10^3 to 10^4 (the bias crosses zero)


def test_q21_warm_up_sentence_follows_the_low_learning_rate_runs(results_copy):
    before = _render(RESULTS, "part3_prenorm.md.j2")
    assert "needed warm-up at both learning rates" in before
    assert "not, in the end, at the lower one" not in before

    def no_warmup_wins(record):  # the study's summary records the contrast (nlp_experiments.prenorm.summary)
        for metrics in (record["metrics"], record):
            low = min(metrics["warmup_contrast"], key=lambda c: c["lr"])
            low["without_minus_with_bits"]["direction"] = "lower"

    _edit(results_copy / "prenorm" / "summary.json", no_warmup_wins)
    after = _render(results_copy, "part3_prenorm.md.j2")
    assert "needed warm-up at both" not in after and "but not at" in after


def test_q21_shallow_pair_sentence_follows_the_runs(results_copy):
    assert "post-norm model ends below its pre-norm twin" in _render(RESULTS, "part3_prenorm.md.j2")

    def post_worse(record):  # the study's summary records the pair's contrast (nlp_experiments.prenorm.summary)
        for metrics in (record["metrics"], record):
            metrics["shallow_contrast"]["post_minus_pre_bits"]["direction"] = "higher"

    _edit(results_copy / "prenorm" / "summary.json", post_worse)
    text = _render(results_copy, "part3_prenorm.md.j2")
    assert "post-norm model ends above its pre-norm twin" in text and "does not appear at" not in text


def test_q18_states_the_measured_gaps_and_marks_the_clipping_as_a_hypothesis(results_copy):
    before = _render(RESULTS, "part2_diffusion.md.j2")
    assert "Their FIDs differ by" in before or "FIDs differ by" in before
    assert "a hypothesis we did not test" in before and "matters most with few, large steps" not in before
    assert "unreliable" not in before and "need the fewest evaluations" not in before

    def no_clipping(record):
        for cfg in (record["config"]["scheduler_configs"]["DDPM"],):
            cfg["clip_sample"] = False

    _edit(results_copy / "diffusion" / "scheduler_metrics.json", no_clipping)
    assert "clips its estimate" not in _render(results_copy, "part2_diffusion.md.j2")


@pytest.mark.parametrize("phrase", [
    'Given "a seven"', "uniform grey", "holes", "equal compute, which is the question",
    "slower learning of the shared model", "initial noise fixes the layout", "everything the model associates",
    "highest-contrast", "does not appear at this", "effective dimension, not the nominal",
    "does not detectably change"])
def test_untested_or_wrong_sentences_are_gone(handin, phrase):
    assert phrase not in " ".join(handin.split())


def test_q19_answers_first_with_few_intervals_and_tests_nothing_at_scale_one(handin):
    text = " ".join(handin.split())
    q19 = text[text.index("## Q19"):text.index("# Part 3")]
    first = q19[:q19.index("**Model.**")]
    assert "the negative prompt" in first and " pp, p " in first and "exact McNemar test on the pairs" in first
    assert len(re.findall(r"\[[-+]?\d", q19)) <= 3, "intervals belong in the supplement"
    assert "±" not in q19 and "pairs are identical images, so nothing is tested" in q19
    assert "another seed" in q19 and "Prompt following" in q19


def test_section_3_answers_are_numbered_in_the_exercise_order(handin):
    headings = re.findall(r"^## (3\.\d) ", handin, flags=re.M)
    assert headings == ["3.1", "3.2", "3.3"]
    assert handin.count("## Q19") == 1 and "# Q19" not in handin.replace("## Q19", "")


def test_translation_examples_render_as_a_table_in_the_supplement_when_recorded(results_copy):
    (results_copy / "nmt" / "examples.json").unlink(missing_ok=True)
    assert "Example sentences" not in _render(results_copy, "part3_translation.md.j2")
    assert "Example sentences" not in _render(results_copy, "appendix_translation.md.j2")
    examples = {"direction": "de-fr", "examples": [
        {"source": "Ein Hund rennt.", "reference": "Un chien court.",
         "outputs": {"zeroshot": {"text": "A dog runs.", "language": "en"},
                     "zeroshot_pivot_en": {"text": "Un chien court.", "language": "fr"},
                     "direct": {"text": "Un chien court.", "language": "fr"}}}]}
    (results_copy / "nmt" / "examples.json").write_text(json.dumps({"metrics": examples, **examples}))
    assert "Example sentences are in the supplement" in _render(results_copy, "part3_translation.md.j2")
    text = _render(results_copy, "appendix_translation.md.j2")
    assert "| English-centric model | A dog runs. (en) |" in text and "Example sentences" in text
