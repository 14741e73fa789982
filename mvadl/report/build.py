"""Rendered Markdown -> Typst -> PDF (pandoc and typst from the package index), PNG pages, and a notebook,
for the two documents: the hand-in (``report``) and the ``supplement``.

No TeX is needed: ``pypandoc-binary`` ships pandoc, which writes Typst (LaTeX math included), and the
``typst`` package compiles it. The notebook is the hand-in's Markdown as Jupyter cells, one per question, with
the figures embedded as cell attachments so the ``.ipynb`` opens on its own.
"""
from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from mvadl import REPO_ROOT
from mvadl.io import atomic_path, atomic_write_text
from mvadl.report.context import ReportDataError
from mvadl.report.render import Meta, body_of, count_words, render, split_title_block

REPORT_DIR = REPO_ROOT / "report"
TEMPLATE_DIR = REPORT_DIR / "templates"


@dataclass(frozen=True)
class Document:
    """One document of the build: ``<name>.md`` (+ ``.typ``, ``.pdf``; ``.ipynb`` for the hand-in)."""

    name: str
    template: str
    references: bool
    notebook: bool


#: The hand-in (answers, figures, references) and the supplement (settings, studies, reproduction, provenance).
HANDIN = Document("report", "report.md.j2", references=True, notebook=True)
SUPPLEMENT = Document("supplement", "supplement.md.j2", references=True, notebook=False)
DOCUMENTS = (HANDIN, SUPPLEMENT)

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


def project_name() -> str:
    """The project's name: the README's title up to its colon."""
    try:
        title = (REPO_ROOT / "README.md").read_text(encoding="utf-8").splitlines()[0]
    except (OSError, IndexError):
        return "MVA deep-learning assignment"
    return title.lstrip("# ").split(":")[0].strip()


def default_author() -> str:
    """The title page's line when no author is given."""
    return f"Reference solution, {project_name()}"


def results_fingerprint(results_root: Path) -> str:
    """SHA-256 over the sorted list of ``<relative path> <sha256 of the file>`` lines of every file under
    ``results_root``: it changes exactly when a result (record or figure) changes, whatever git says."""
    root = Path(results_root)
    lines = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        lines.append(f"{path.relative_to(root).as_posix()} {hashlib.sha256(path.read_bytes()).hexdigest()}\n")
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()


def results_date(results_root: Path) -> str:
    """The day of the newest record under ``results_root`` (its ``created_utc``), ``unknown`` if none has one."""
    import json

    days = []
    for path in Path(results_root).rglob("*.json"):
        try:
            created = json.loads(path.read_text(encoding="utf-8")).get("created_utc")
        except (UnicodeDecodeError, json.JSONDecodeError, AttributeError):
            continue
        if isinstance(created, str) and re.match(r"\d{4}-\d{2}-\d{2}", created):
            days.append(created[:10])
    return max(days) if days else "unknown"


@dataclass
class BuildOutput:
    markdown: Path
    pdf: Path | None
    notebook: Path | None
    body_words: int
    pages: int | None
    supplement: Path | None = None
    supplement_pdf: Path | None = None
    supplement_pages: int | None = None


def make_meta(results_root: Path, author: str | None) -> Meta:
    return Meta(author=author or default_author(), results_fingerprint=results_fingerprint(results_root),
                results_date=results_date(results_root))


def render_document(results_root: Path, document: Document = HANDIN, author: str | None = None,
                    template_dir: Path = TEMPLATE_DIR, meta: Meta | None = None) -> str:
    return render(template_dir, results_root, meta or make_meta(results_root, author), document.template,
                  references=document.references)


def render_report(results_root: Path, author: str | None = None, template_dir: Path = TEMPLATE_DIR) -> str:
    """The hand-in's Markdown."""
    return render_document(results_root, HANDIN, author, template_dir)


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


_RAW_TYPST = re.compile(r"```\{=typst\}\n.*?```\n?", re.S)
_FENCE = re.compile(r"^(```|\$\$)")


def notebook_cells(body: str) -> list[str]:
    """The body split into one Markdown chunk per section: a new chunk starts at every ``#`` or ``##`` heading
    (outside code blocks and display math)."""
    chunks, current, inside = [], [], False
    for line in body.splitlines():
        if line.startswith("```"):
            inside = not inside
        elif line.strip() == "$$" or (line.startswith("$$") and line.count("$$") == 1):
            inside = not inside
        if not inside and re.match(r"#{1,2} ", line) and any(ln.strip() for ln in current):
            chunks.append("\n".join(current).strip())
            current = []
        current.append(line)
    if any(ln.strip() for ln in current):
        chunks.append("\n".join(current).strip())
    return chunks


def markdown_to_notebook(markdown: str, results_root: Path, notebook: Path) -> None:
    """The rendered Markdown as a notebook: a title cell, then one Markdown cell per question or section,
    figures embedded as attachments. It has no code cell, so it executes as is with a Python kernel."""
    import nbformat

    title, body = split_title_block(markdown)
    sources = ([title_cell(title)] if title else []) + notebook_cells(_RAW_TYPST.sub("", body))
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                   "language_info": {"name": "python"}}
    for index, source in enumerate(sources):
        attachments = {}

        def embed(m: re.Match, attachments: dict = attachments) -> str:
            path = figure_path(m.group(2), results_root)
            name = f"{path.parent.name}_{path.name}"
            attachments[name] = {"image/png": base64.b64encode(path.read_bytes()).decode("ascii")}
            return f"![{m.group(1)}](attachment:{name})"

        cell = nbformat.v4.new_markdown_cell(_IMAGE.sub(embed, source))
        cell["id"] = f"cell-{index:03d}"  # stable ids: the same results give the same notebook
        if attachments:
            cell["attachments"] = attachments
        nb.cells.append(cell)
    nbformat.validate(nb)
    atomic_write_text(notebook, nbformat.writes(nb) + "\n")


def title_cell(title_block: str) -> str:
    """The YAML title block as a Markdown heading, for the notebook."""
    import yaml

    fields = yaml.safe_load(title_block)
    return "\n".join([f"# {fields['title']}", "", fields["subtitle"], "",
                      f"**{fields['author']}**", "", fields["provenance"], "", fields["abstract"]])


def _date_timestamp(markdown: str) -> int | None:
    """The title block's date as a Unix time, so the same results give the same PDF bytes."""
    import datetime as dt

    m = re.search(r'^date: "(\d{4}-\d{2}-\d{2})"$', markdown, flags=re.M)
    if not m:
        return None
    return int(dt.datetime.strptime(m.group(1), "%Y-%m-%d").replace(tzinfo=dt.timezone.utc).timestamp())


def _pdf(markdown: str, results_root: Path, out_dir: Path, name: str, pages_dir: Path | None) -> tuple[Path, int]:
    typ_path = atomic_write_text(out_dir / f"{name}.typ",
                                 markdown_to_typst(absolute_figures(markdown, results_root)))
    pdf = out_dir / f"{name}.pdf"
    return pdf, compile_pdf(typ_path, pdf, pages_dir, timestamp=_date_timestamp(markdown))


def build(results_root: Path, out_dir: Path = REPORT_DIR, author: str | None = None, pdf: bool = True,
          notebook: bool = True, pages_dir: Path | None = None) -> BuildOutput:
    """Render both documents into ``out_dir/{report,supplement}.md`` and build their PDFs, and the hand-in's
    notebook. ``pages_dir`` receives PNG pages in ``report/`` and ``supplement/`` subfolders.

    Nothing is written unless both documents rendered; each output is written atomically.
    """
    meta = make_meta(results_root, author)
    texts = {doc.name: render_document(results_root, doc, meta=meta) for doc in DOCUMENTS}
    for text in texts.values():  # every figure exists before anything is written
        absolute_figures(text, results_root)
    handin, supplement = texts[HANDIN.name], texts[SUPPLEMENT.name]
    result = BuildOutput(atomic_write_text(out_dir / f"{HANDIN.name}.md", handin), None, None,
                         count_words(body_of(handin)), None)
    result.supplement = atomic_write_text(out_dir / f"{SUPPLEMENT.name}.md", supplement)
    if pdf:
        result.pdf, result.pages = _pdf(handin, results_root, out_dir, HANDIN.name,
                                        pages_dir / HANDIN.name if pages_dir else None)
        result.supplement_pdf, result.supplement_pages = _pdf(
            supplement, results_root, out_dir, SUPPLEMENT.name, pages_dir / SUPPLEMENT.name if pages_dir else None)
    if notebook:
        result.notebook = out_dir / f"{HANDIN.name}.ipynb"
        markdown_to_notebook(handin, results_root, result.notebook)
    return result


#: Title-block lines that depend on who builds, not on the results' content.
_VOLATILE = re.compile(r"^author:")


def stale_lines(committed: str, rendered: str) -> list[str]:
    """Lines that differ between the committed and a fresh rendering, ignoring the author line."""
    import difflib

    def keep(text: str) -> list[str]:
        return [ln for ln in text.splitlines() if not _VOLATILE.match(ln)]

    old, new = keep(committed), keep(rendered)
    if old == new:
        return []
    diff = list(difflib.unified_diff(old, new, lineterm="", n=0))[2:]  # skip the ---/+++ file header
    return [ln for ln in diff if not ln.startswith("@@")]
