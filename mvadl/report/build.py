"""Rendered Markdown -> Typst -> PDF (pandoc and typst from the package index), PNG pages, and a notebook.

No TeX is needed: ``pypandoc-binary`` ships pandoc, which writes Typst (LaTeX math included), and the
``typst`` package compiles it. The notebook is the same Markdown as Jupyter cells (jupytext), with the
figures embedded as cell attachments so the ``.ipynb`` opens on its own.
"""
from __future__ import annotations

import base64
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from mvadl import REPO_ROOT
from mvadl.io import atomic_path, atomic_write_text
from mvadl.report.context import ReportDataError
from mvadl.report.render import Meta, body_of, count_words, render, split_title_block

REPORT_DIR = REPO_ROOT / "report"
TEMPLATE_DIR = REPORT_DIR / "templates"
#: Shown on the title page when no author is given and git has no user.name.
AUTHOR_PLACEHOLDER = "[author name: make report AUTHOR='Your Name']"

_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)(\{[^}]*\})?")
#: How templates link a figure: relative to report/, i.e. ``../results/<part>/<file>.png``.
FIGURE_PREFIX = "../results/"


def figure_path(link: str, results_root: Path) -> Path:
    """The file behind a figure link of the report, looked up in the results folder being rendered."""
    if not link.startswith(FIGURE_PREFIX):
        raise ReportDataError(f"report/templates: figure link {link!r} does not start with {FIGURE_PREFIX!r}")
    path = Path(results_root).resolve() / link[len(FIGURE_PREFIX):]
    if not path.is_file():
        raise ReportDataError(f"{path}: figure referenced by the report does not exist")
    return path
_RAW_TYPST = re.compile(r"```\{=typst\}\n.*?```\n?", re.S)


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def default_author() -> str:
    return _git("config", "user.name") or AUTHOR_PLACEHOLDER


def results_provenance(results_root: Path) -> tuple[str, str]:
    """``(commit, date)`` of the last commit that changed ``results/`` (``unknown`` outside a git checkout)."""
    line = _git("log", "-1", "--format=%h %cs", "--", str(results_root))
    if not line:
        return "unknown", "unknown"
    commit, date = line.split()
    return commit, date


@dataclass
class BuildOutput:
    markdown: Path
    pdf: Path | None
    notebook: Path | None
    body_words: int
    pages: int | None


def render_report(results_root: Path, author: str | None = None, template_dir: Path = TEMPLATE_DIR) -> str:
    commit, date = results_provenance(results_root)
    if author is None:
        author = default_author()
    meta = Meta(author=author or AUTHOR_PLACEHOLDER, results_revision=commit, results_date=date)
    return render(template_dir, results_root, meta)


def markdown_to_typst(markdown: str) -> str:
    import pypandoc

    return pypandoc.convert_text(markdown, "typst", format="markdown",
                                 extra_args=["--standalone", f"--template={REPORT_DIR / 'template.typ'}"])


def compile_pdf(typst_source: Path, pdf: Path, pages_dir: Path | None = None, ppi: int = 80,
                timestamp: int | None = None) -> int:
    """Compile ``typst_source`` into ``pdf`` (atomically); optionally also one PNG per page. Returns the page count.

    Figures are absolute paths (see :func:`absolute_figures`), so the compile root is the file system's.
    """
    import typst

    root = Path(typst_source).resolve().anchor
    with atomic_path(pdf) as tmp:
        typst.compile(str(typst_source), output=str(tmp), root=root, format="pdf", timestamp=timestamp)
    if pages_dir is not None:
        pages_dir.mkdir(parents=True, exist_ok=True)
        for old in pages_dir.glob("page-*.png"):
            old.unlink()
        typst.compile(str(typst_source), output=str(pages_dir / "page-{0p}.png"), root=root,
                      format="png", ppi=ppi)
    return count_pdf_pages(pdf)


def count_pdf_pages(pdf: Path) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![A-Za-z])", pdf.read_bytes()))


def absolute_figures(markdown: str, results_root: Path) -> str:
    """Figure links turned into absolute paths of the results folder being rendered (for pandoc/Typst)."""
    return _IMAGE.sub(lambda m: f"![{m.group(1)}]({figure_path(m.group(2), results_root)}){m.group(3) or ''}",
                      markdown)


def markdown_to_notebook(markdown: str, results_root: Path, notebook: Path) -> None:
    """The rendered Markdown as a notebook of Markdown cells (the title block as a heading cell), figures
    embedded as attachments."""
    import jupytext
    import nbformat

    title, body = split_title_block(markdown)
    nb = jupytext.reads(title_cell(title) + "\n\n" + _RAW_TYPST.sub("", body), fmt="md")
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{index:03d}"  # stable ids: the same results give the same notebook
        if cell.cell_type != "markdown":
            continue
        attachments = {}

        def embed(m: re.Match) -> str:
            path = figure_path(m.group(2), results_root)
            name = f"{path.parent.name}_{path.name}"
            attachments[name] = {"image/png": base64.b64encode(path.read_bytes()).decode("ascii")}
            return f"![{m.group(1)}](attachment:{name})"

        cell.source = _IMAGE.sub(embed, cell.source)
        if attachments:
            cell["attachments"] = attachments
    nbformat.validate(nb)
    atomic_write_text(notebook, nbformat.writes(nb) + "\n")


def title_cell(title_block: str) -> str:
    """The YAML title block as a Markdown heading, for the notebook."""
    import yaml

    if not title_block:
        return ""
    fields = yaml.safe_load(title_block)
    return "\n".join([f"# {fields['title']}", "", fields["subtitle"], "",
                      f"**{fields['author']}**, {fields['date']}, {fields['revision']}", "", fields["abstract"]])


def _date_timestamp(markdown: str) -> int | None:
    """The title block's date as a Unix time, so the same results give the same PDF bytes."""
    import datetime as dt

    m = re.search(r'^date: "(\d{4}-\d{2}-\d{2})"$', markdown, flags=re.M)
    if not m:
        return None
    return int(dt.datetime.strptime(m.group(1), "%Y-%m-%d").replace(tzinfo=dt.timezone.utc).timestamp())


def build(results_root: Path, out_dir: Path = REPORT_DIR, author: str | None = None, pdf: bool = True,
          notebook: bool = True, pages_dir: Path | None = None) -> BuildOutput:
    """Render the templates into ``out_dir/report.md`` and build ``report.pdf`` / ``report.ipynb`` from it.

    Nothing is written unless rendering succeeded; each output is written atomically.
    """
    markdown = render_report(results_root, author)
    typst_source = markdown_to_typst(absolute_figures(markdown, results_root)) if pdf else None
    md_path = atomic_write_text(out_dir / "report.md", markdown)
    result = BuildOutput(md_path, None, None, count_words(body_of(markdown)), None)
    if pdf:
        typ_path = atomic_write_text(out_dir / "report.typ", typst_source)
        result.pdf = out_dir / "report.pdf"
        result.pages = compile_pdf(typ_path, result.pdf, pages_dir, timestamp=_date_timestamp(markdown))
    if notebook:
        result.notebook = out_dir / "report.ipynb"
        markdown_to_notebook(markdown, results_root, result.notebook)
    return result


#: Title-block lines that depend on who builds and on git history, not on the results' content.
_VOLATILE = re.compile(r"^(author|date|revision):")


def stale_lines(committed: str, rendered: str) -> list[str]:
    """Lines that differ between the committed and a fresh rendering, ignoring author/date/revision."""
    import difflib

    def keep(text: str) -> list[str]:
        return [ln for ln in text.splitlines() if not _VOLATILE.match(ln)]

    old, new = keep(committed), keep(rendered)
    if old == new:
        return []
    diff = list(difflib.unified_diff(old, new, lineterm="", n=0))[2:]  # skip the ---/+++ file header
    return [ln for ln in diff if not ln.startswith("@@")]
