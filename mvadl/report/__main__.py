"""Build report/report.{md,pdf,ipynb} from results/ (what ``make report`` runs).

    python -m mvadl.report                       # the report, author from git's user.name
    python -m mvadl.report --author "Ada Lovelace" --pages /tmp/pages
    python -m mvadl.report --check               # is the committed report/report.md up to date?
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from mvadl.report.build import REPORT_DIR, build, render_report, stale_lines
from mvadl.results import results_dir
from mvadl.runner import Context, ToolConfig, main, option


@dataclass
class ReportConfig(ToolConfig):
    author: Optional[str] = option(None, "name on the title page (default: git's user.name; an empty string gives "
                                         "a visible placeholder)")
    results: Optional[Path] = option(None, "results folder (default: results/)")
    out: Path = option(REPORT_DIR, "output folder")
    pages: Optional[Path] = option(None, "also render every PDF page as PNG into this folder")
    markdown_only: bool = option(False, "render report.md only (no PDF, no notebook)")
    check: bool = option(False, "render and compare with the committed report/report.md; exit 1 if it is stale")


def run(config: ReportConfig, ctx: Context) -> int:
    results_root = config.results or results_dir()
    if config.check:
        committed = (config.out / "report.md").read_text(encoding="utf-8")
        diff = stale_lines(committed, render_report(results_root, author=config.author))
        if diff:
            print(f"error: {config.out / 'report.md'}: stale, run `make report` ({len(diff)} lines differ, "
                  f"first: {diff[0]!r})", file=sys.stderr)
            return 1
        print(f"[report] {config.out / 'report.md'} is up to date with {results_root}")
        return 0
    out = build(results_root, config.out, config.author, pdf=not config.markdown_only,
                notebook=not config.markdown_only, pages_dir=config.pages)
    done = [str(p) for p in (out.markdown, out.pdf, out.notebook) if p is not None]
    pages = f", {out.pages} pages" if out.pages else ""
    print(f"[report] {', '.join(done)} ({out.body_words} words in the body{pages}, {ctx.elapsed():.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(run, ReportConfig, prog="python -m mvadl.report", doc=__doc__))
