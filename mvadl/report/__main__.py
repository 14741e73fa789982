"""Build the hand-in report/report.{md,pdf} and report/supplement.{md,pdf} from results/ (``make report``).

    python -m mvadl.report                       # both documents; the title page names `git config user.name`
    python -m mvadl.report --author "Ada Lovelace" --pages /tmp/pages
    python -m mvadl.report --check               # are the committed report.md and supplement.md up to date?
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from mvadl.report.build import DOCUMENTS, REPORT_DIR, build, make_meta, render_document, stale_lines
from mvadl.report.expectations import check_records
from mvadl.results import results_dir
from mvadl.runner import Context, ToolConfig, main, option


@dataclass
class ReportConfig(ToolConfig):
    author: str | None = option(None, "name on the title page (default: $AUTHOR, else `git config user.name`, else "
                                      "'Reference solution, <project>')")
    results: Path | None = option(None, "results folder (default: results/)")
    out: Path = option(REPORT_DIR, "output folder")
    pages: Path | None = option(None, "also render every PDF page as PNG into this folder")
    markdown_only: bool = option(False, "render the Markdown only (no PDF)")
    check: bool = option(False, "render and compare with the committed report.md and supplement.md; exit 1 if "
                                "either is stale")


def run(config: ReportConfig, ctx: Context) -> int:
    results_root = config.results or results_dir()
    check_records(results_root)  # a record made otherwise than its text says stops the build in one line
    if config.check:
        meta = make_meta(results_root, config.author)
        stale = 0
        for doc in DOCUMENTS:
            path = config.out / f"{doc.name}.md"
            diff = stale_lines(path.read_text(encoding="utf-8"), render_document(results_root, doc, meta=meta))
            if diff:
                stale += 1
                print(f"error: {path}: stale, run `make report` ({len(diff)} lines differ, first: {diff[0]!r})",
                      file=sys.stderr)
        if stale:
            return 1
        print(f"[report] {config.out}/{{report,supplement}}.md are up to date with {results_root}")
        return 0
    out = build(results_root, config.out, config.author, pdf=not config.markdown_only, pages_dir=config.pages)
    done = [str(p) for p in (out.markdown, out.pdf, out.supplement, out.supplement_pdf) if p is not None]
    pages = f", {out.pages} pages; supplement {out.supplement_pages} pages" if out.pages else ""
    print(f"[report] {', '.join(done)} ({out.body_words} words in the hand-in's answers{pages}, {ctx.elapsed():.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(run, ReportConfig, prog="python -m mvadl.report", doc=__doc__))
