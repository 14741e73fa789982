"""The report renders from the committed results, follows them when they change, and refuses what is missing."""
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
from mvadl.report.render import body_of, count_words, fmt_percent, fmt_sci, fmt_signif, fmt_thousands

RESULTS = REPO_ROOT / "results"
COMMITTED_MD = REPO_ROOT / "report" / "report.md"


@pytest.fixture(scope="module")
def rendered() -> str:
    return report_build.render_report(RESULTS, author="")


@pytest.fixture
def results_copy(tmp_path: Path) -> Path:
    dst = tmp_path / "results"
    shutil.copytree(RESULTS, dst, ignore=shutil.ignore_patterns("*.png", "*.npz", "*.safetensors"))
    return dst


def test_committed_report_is_up_to_date(rendered):
    diff = report_build.stale_lines(COMMITTED_MD.read_text(encoding="utf-8"), rendered)
    assert not diff, f"report/report.md is stale (run `make report`): {diff[:6]}"


def test_report_answers_every_question_in_order(rendered):
    headings = re.findall(r"^#{1,3} (.*)$", body_of(rendered), flags=re.M)
    questions = [int(m) for h in headings for m in re.findall(r"^Q(\d+)\b", h)]
    assert questions == sorted(questions) and set(questions) == set(range(1, 23)), headings
    part3 = next(i for i, h in enumerate(headings) if h.startswith("Part 3:"))
    q19 = next(i for i, h in enumerate(headings) if h.startswith("Q19"))
    q20 = next(i for i, h in enumerate(headings) if h.startswith("Q20"))
    assert q19 < part3 < q20


def test_body_is_short_and_links_no_source(rendered):
    assert count_words(body_of(rendered)) <= 6000
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
    changed = report_build.render_report(results_copy, author="")
    assert "123.46" in changed and "123.46" not in rendered


def test_a_missing_key_names_the_file_and_key(results_copy):
    path = results_copy / "vae" / "metrics.json"
    record = json.loads(path.read_text())
    del record["test_nll_is"]
    path.write_text(json.dumps(record))
    with pytest.raises(ReportDataError, match=r"results/vae/metrics\.json: missing key 'test_nll_is'"):
        report_build.render_report(results_copy, author="")


def test_cli_reports_a_missing_file_in_one_line_and_writes_nothing(results_copy, tmp_path):
    (results_copy / "nmt" / "scores.json").unlink()
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "mvadl.report", "--results", str(results_copy), "--out", str(out)],
                          capture_output=True, text=True, cwd=REPO_ROOT)
    assert proc.returncode == 1
    assert proc.stderr.strip() == "error: results/nmt/scores.json: missing results file"
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
    assert fmt_signif(0.004152, 3) == "0.00415" and fmt_signif(1234.5, 2) == "1234"
    with pytest.raises(ReportDataError, match="expected a number"):
        fmt_percent("n/a")


def test_word_count_skips_math_tables_and_code():
    md = "Two words $a + b = c$ here.\n\n$$\\frac{1}{2}$$\n\n| a | b |\n|---|---|\n| x | y |\n\n```\ncode here\n```\n"
    assert count_words(md) == 3 + 4


def test_pdf_and_notebook_build(tmp_path):
    out = report_build.build(RESULTS, tmp_path, author="A. Student")
    assert out.pdf.stat().st_size > 100_000 and out.pages >= 10
    nb = json.loads(out.notebook.read_text())
    cells = [c for c in nb["cells"] if c["cell_type"] == "markdown"]
    assert "A. Student" in "".join(cells[0]["source"])
    attached = [c for c in cells if c.get("attachments")]
    assert attached and all("attachment:" in "".join(c["source"]) for c in attached)
    assert "../results/" not in json.dumps(nb)
    again = report_build.build(RESULTS, tmp_path / "again", author="A. Student")
    assert again.pdf.read_bytes() == out.pdf.read_bytes()  # same results, same bytes: no build-time stamps
    assert again.notebook.read_text() == out.notebook.read_text()
