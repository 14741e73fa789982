"""``python -m mvadl.report``: build report/report.{md,pdf,ipynb} from results/ (what ``make report`` runs)."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from mvadl.report.build import REPORT_DIR, build, render_report
from mvadl.report.context import ReportDataError
from mvadl.results import results_dir


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m mvadl.report", description=__doc__)
    p.add_argument("--author", default=None, help="name on the title page (default: git's user.name; an empty string gives a visible placeholder)")
    p.add_argument("--results", type=Path, default=None, help="results folder (default: results/)")
    p.add_argument("--out", type=Path, default=REPORT_DIR, help="output folder (default: report/)")
    p.add_argument("--pages", type=Path, default=None, help="also render every PDF page as PNG into this folder")
    p.add_argument("--markdown-only", action="store_true", help="render report.md only (no PDF, no notebook)")
    p.add_argument("--check", action="store_true",
                   help="render and compare with the committed report/report.md; exit 1 if it is stale")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    results_root = args.results or results_dir()
    start = time.perf_counter()
    try:
        if args.check:
            from mvadl.report.build import stale_lines
            committed = (args.out / "report.md").read_text(encoding="utf-8")
            diff = stale_lines(committed, render_report(results_root, author=args.author))
            if diff:
                print(f"error: {args.out / 'report.md'}: stale, run `make report` ({len(diff)} lines differ, "
                      f"first: {diff[0]!r})", file=sys.stderr)
                return 1
            print(f"[report] {args.out / 'report.md'} is up to date with {results_root}")
            return 0
        out = build(results_root, args.out, args.author, pdf=not args.markdown_only,
                    notebook=not args.markdown_only, pages_dir=args.pages)
    except ReportDataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    done = [str(p) for p in (out.markdown, out.pdf, out.notebook) if p is not None]
    pages = f", {out.pages} pages" if out.pages else ""
    print(f"[report] {', '.join(done)} ({out.body_words} words in the body{pages}, "
          f"{time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
