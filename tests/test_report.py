"""The report (hand-in and supplement) renders from the committed results, follows them when they change, and
refuses what is missing."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mvadl import REPO_ROOT
from mvadl.report import build as report_build
from mvadl.report.context import ReportDataError, ResultsTree
from mvadl.report.render import body_of, count_words, fmt_percent, fmt_sci, fmt_share, fmt_signif, fmt_thousands

RESULTS = REPO_ROOT / "results"
COMMITTED_MD = REPO_ROOT / "report" / "report.md"
COMMITTED_SUPPLEMENT = REPO_ROOT / "report" / "supplement.md"


@pytest.fixture(scope="module")
def results() -> Path:
    return RESULTS


@pytest.fixture(scope="module")
def meta(results):
    return report_build.make_meta(results, None)


@pytest.fixture(scope="module")
def rendered(results, meta) -> str:
    return report_build.render_document(results, report_build.HANDIN, meta=meta)


@pytest.fixture(scope="module")
def supplement(results, meta) -> str:
    return report_build.render_document(results, report_build.SUPPLEMENT, meta=meta)


@pytest.fixture
def results_copy(tmp_path: Path) -> Path:
    dst = tmp_path / "results"
    shutil.copytree(RESULTS, dst, ignore=shutil.ignore_patterns("*.png", "*.npz", "*.safetensors"))
    return dst


def test_committed_report_is_up_to_date(rendered, supplement):
    for path, text in ((COMMITTED_MD, rendered), (COMMITTED_SUPPLEMENT, supplement)):
        diff = report_build.stale_lines(path.read_text(encoding="utf-8"), text)
        assert not diff, f"{path.relative_to(REPO_ROOT)} is stale (run `make report`): {diff[:6]}"


def test_supplement_names_the_results_it_was_rendered_from(results, rendered, supplement, results_copy):
    fingerprint = report_build.results_fingerprint(results)
    assert re.search(rf'^provenance: ".*{fingerprint[:12]}"$', supplement, flags=re.M)
    assert "fingerprint" not in rendered and "provenance:" not in rendered  # provenance lives in the supplement
    # the fingerprint covers every file: a changed byte anywhere, figure or record, changes it
    copy_fingerprint = report_build.results_fingerprint(results_copy)
    with open(results_copy / "vae" / "metrics.json", "a", encoding="utf-8") as f:
        f.write(" ")
    assert report_build.results_fingerprint(results_copy) != copy_fingerprint


def test_every_work_cited_has_a_bib_entry_and_a_references_section(rendered, supplement):
    from mvadl.report.references import bib_keys, cited_keys

    keys = bib_keys()
    for text in (rendered, supplement):
        body, _, references = text.partition("\n# References\n")
        assert "{#refs}" in references, "no References section for citeproc to fill"
        cited = cited_keys(body)
        assert cited and set(cited) <= keys, set(cited) - keys
        assert not re.search(r"\b[A-Z][a-z]+ et al\. \(?(19|20)\d\d", body), "a citation typed by hand"


def test_handin_names_no_module_command_hardware_or_revision(rendered):
    body = body_of(rendered)
    for forbidden in ("`", "make report", "from_config", "git_revision", "cpu (", "NVIDIA", "H100", "offline",
                      "appendix", "python", ".py"):
        assert forbidden not in body, forbidden


def test_report_answers_every_question_in_order(rendered):
    headings = re.findall(r"^#{1,3} (.*)$", body_of(rendered), flags=re.M)
    questions = [int(m) for h in headings for m in re.findall(r"^Q(\d+)\b", h)]
    assert questions == sorted(questions) and set(questions) == set(range(1, 23)), headings
    part3 = next(i for i, h in enumerate(headings) if h.startswith("Part 3:"))
    q19 = next(i for i, h in enumerate(headings) if h.startswith("Q19"))
    q20 = next(i for i, h in enumerate(headings) if h.startswith("Q20"))
    assert q19 < part3 < q20


def test_body_is_short_and_links_no_source(rendered):
    assert count_words(body_of(rendered)) <= 4500
    links = re.findall(r"\]\(([^)]+)\)", rendered)
    assert links and all(link.startswith("../results/") and link.endswith(".png") for link in links), links
    for link in links:
        assert (COMMITTED_MD.parent / link).is_file(), f"figure {link} does not exist"


def test_every_figure_has_a_caption(rendered):
    captions = re.findall(r"^!\[([^\]]*)\]\(", rendered, flags=re.M)
    assert captions and all(len(c.split()) >= 4 for c in captions), captions


def test_a_changed_result_changes_the_text(results_copy, rendered):
    path = results_copy / "vae" / "metrics.json"
    record = json.loads(path.read_text())
    record["test_nll_is"] = record["metrics"]["test_nll_is"] = 123.456
    path.write_text(json.dumps(record))
    changed = report_build.render_report(results_copy)
    assert "123.46" in changed and "123.46" not in rendered


def test_a_missing_key_names_the_file_and_key(results_copy):
    path = results_copy / "vae" / "metrics.json"
    record = json.loads(path.read_text())
    del record["test_nll_is"]
    path.write_text(json.dumps(record))
    with pytest.raises(ReportDataError, match=r"results/vae/metrics\.json: missing key 'test_nll_is'"):
        report_build.render_report(results_copy)


def test_result_keys_named_like_methods_read_as_keys():
    from mvadl.report.context import ResultNode, node_items, node_keys, node_values

    node = ResultNode({"values": [1, 2], "keys": 3, "items": "x"}, "results/p/n.json")
    assert node.values[1] == 2 and node["keys"] == 3 and node.items == "x"
    assert node_keys(node) == ["values", "keys", "items"] and node_values(node)[1] == 3
    assert dict(node_items(node))["keys"] == 3


def test_cli_reports_a_missing_file_in_one_line_and_writes_nothing(results_copy, tmp_path):
    (results_copy / "nmt" / "budget.json").unlink()
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "mvadl.report", "--results", str(results_copy), "--out", str(out)],
                          capture_output=True, text=True, cwd=REPO_ROOT)
    assert proc.returncode == 1
    assert proc.stderr.strip() == "error: results/nmt/budget.json: missing results file"
    assert not out.exists()


def test_results_tree_errors():
    tree = ResultsTree(RESULTS)
    with pytest.raises(ReportDataError, match=r"results/nope/: missing results folder"):
        _ = tree.nope
    with pytest.raises(ReportDataError, match=r"no element 99 in 'hidden'"):
        _ = tree.vae.metrics.hidden[99]
    assert tree.vae.metrics.hidden[0] == 1024 and "results/vae/metrics.json" in tree.files()


def test_number_formats():
    assert fmt_sci(2.6e-6) == r"$2.6 \times 10^{-6}$"
    assert fmt_sci(9.2e-10, 1, False) == r"9.2 \times 10^{-10}"
    assert fmt_sci(0.0452, 2) == "$0.0452$" and fmt_sci(11.28, 1) == "$11$"
    assert fmt_percent(0.315) == "31.5 %" and fmt_thousands(160000) == "160,000"
    assert fmt_share({"k": 88, "n": 200, "share": 0.44, "low": 0.37307, "high": 0.50945}) == "44.0 % [37.3, 50.9]"
    assert fmt_signif(0.004152, 3) == "0.00415" and fmt_signif(1234.5, 2) == "1234"
    with pytest.raises(ReportDataError, match="expected a number"):
        fmt_percent("n/a")


def test_word_count_skips_math_tables_and_code():
    md = "Two words $a + b = c$ here.\n\n$$\\frac{1}{2}$$\n\n| a | b |\n|---|---|\n| x | y |\n\n```\ncode here\n```\n"
    assert count_words(md) == 3 + 4


def test_pdf_builds_within_the_page_limit(results, tmp_path):
    out = report_build.build(results, tmp_path, author="A. Student")
    assert out.pdf.stat().st_size > 100_000 and out.pages <= 14
    assert out.supplement_pdf.stat().st_size > 100_000 and out.supplement_pages >= 5
    assert out.body_words <= 4500
    from pypdf import PdfReader

    assert "A. Student" in PdfReader(out.pdf).pages[0].extract_text()


@pytest.mark.slow
def test_pdf_is_byte_reproducible_for_one_author(results, tmp_path):
    one = report_build.build(results, tmp_path / "one", author="A. Student")
    two = report_build.build(results, tmp_path / "two", author="A. Student")
    assert one.pdf.read_bytes() == two.pdf.read_bytes()  # same results, same bytes: no build-time stamps
    assert one.supplement_pdf.read_bytes() == two.supplement_pdf.read_bytes()
