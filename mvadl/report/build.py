"""Rendered Markdown -> Typst -> PDF (pandoc and typst from the package index) and PNG pages, for the two
documents: the hand-in (``report``) and the ``supplement``.

No TeX is needed: ``pypandoc-binary`` ships pandoc, which writes Typst (LaTeX math included) and formats the
citations and the References from ``report/references.bib`` (``--citeproc``); the ``typst`` package compiles it;
``pypdf`` counts the pages.
"""
from __future__ import annotations

import hashlib
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from mvadl import REPO_ROOT
from mvadl.io import atomic_path, atomic_write_text
from mvadl.report.context import ReportDataError
from mvadl.report.references import BIBLIOGRAPHY
from mvadl.report.render import Meta, body_of, count_words, render

REPORT_DIR = REPO_ROOT / "report"
TEMPLATE_DIR = REPORT_DIR / "templates"


@dataclass(frozen=True)
class Document:
    """One document of the build: ``<name>.md``, ``.typ`` and ``.pdf``."""

    name: str
    template: str
    references: bool


#: The hand-in (answers, figures, references) and the supplement (settings, studies, reproduction, provenance).
HANDIN = Document("report", "report.md.j2", references=True)
SUPPLEMENT = Document("supplement", "supplement.md.j2", references=True)
DOCUMENTS = (HANDIN, SUPPLEMENT)

_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)(\{[^}]*\})?")
#: A cross-reference in the templates: ``@fig:name`` to an image with the pandoc id ``{ #fig:name}``, ``@tbl:name``
#: to a table whose caption ends in ``{ #tbl:name}`` (the space keeps Jinja from reading ``{#`` as a comment).
#: Typst numbers both ("Figure 3", "Table S2" in the supplement); a reference to a missing label stops the
#: compilation.
_CROSSREF = re.compile(r"(?<![\w@`])@((?:fig|tbl):[A-Za-z0-9_-]*[A-Za-z0-9])")
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
    """The title page's line when neither an author nor a git user name is known."""
    return f"Reference solution, {project_name()}"


def git_user_name(cwd: Path = REPO_ROOT) -> str | None:
    """``git config user.name`` (None when git is missing or the name is not set)."""
    try:
        proc = subprocess.run(["git", "config", "user.name"], cwd=cwd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    name = proc.stdout.strip()
    return name if proc.returncode == 0 and name else None


def resolve_author(author: str | None = None) -> str:
    """The name on the title page: ``author`` (``--author``), else the ``AUTHOR`` environment variable, else
    ``git config user.name`` (so a student who clones the project gets their own name), else the project line."""
    for name in (author, os.environ.get("AUTHOR")):
        if name and name.strip():
            return name.strip()
    return git_user_name() or default_author()


def results_fingerprint(results_root: Path) -> str:
    """SHA-256 over the sorted list of ``<relative path> <sha256 of the file>`` lines of every file under
    ``results_root``: it changes exactly when a result (record or figure) changes, whatever git says."""
    root = Path(results_root)
    lines = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")):
        try:  # hidden files are the temporary files of a writer in progress; one may vanish while we read
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except FileNotFoundError:
            continue
        lines.append(f"{path.relative_to(root).as_posix()} {digest}\n")
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
    body_words: int
    pages: int | None
    supplement: Path | None = None
    supplement_pdf: Path | None = None
    supplement_pages: int | None = None


def make_meta(results_root: Path, author: str | None) -> Meta:
    return Meta(author=resolve_author(author), results_fingerprint=results_fingerprint(results_root),
                results_date=results_date(results_root))


def render_document(results_root: Path, document: Document = HANDIN, author: str | None = None,
                    template_dir: Path = TEMPLATE_DIR, meta: Meta | None = None) -> str:
    return render(template_dir, results_root, meta or make_meta(results_root, author), document.template,
                  references=document.references)


def render_report(results_root: Path, author: str | None = None, template_dir: Path = TEMPLATE_DIR) -> str:
    """The hand-in's Markdown."""
    return render_document(results_root, HANDIN, author, template_dir)


def typst_crossrefs(markdown: str) -> str:
    """``@fig:name`` / ``@tbl:name`` handed to Typst as raw references (citeproc would take them for citations)."""
    return _CROSSREF.sub(r"`@\1`{=typst}", markdown)


def markdown_to_typst(markdown: str) -> str:
    """Pandoc's Typst, with the citations and the References formatted by citeproc from ``references.bib``
    (its default style, Chicago author-date) and the cross-references to figures and tables left to Typst."""
    import pypandoc

    return pypandoc.convert_text(typst_crossrefs(markdown), "typst", format="markdown",
                                 extra_args=["--standalone", f"--template={REPORT_DIR / 'template.typ'}",
                                             "--citeproc", f"--bibliography={BIBLIOGRAPHY}"])


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
    from pypdf import PdfReader

    return len(PdfReader(pdf).pages)


def absolute_figures(markdown: str, results_root: Path) -> str:
    """Figure links turned into absolute paths of the results folder being rendered (for pandoc/Typst)."""
    return _IMAGE.sub(lambda m: f"![{m.group(1)}]({figure_path(m.group(2), results_root)}){m.group(3) or ''}",
                      markdown)


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
          pages_dir: Path | None = None) -> BuildOutput:
    """Render both documents into ``out_dir/{report,supplement}.md`` and build their PDFs. ``pages_dir``
    receives PNG pages in ``report/`` and ``supplement/`` subfolders.

    Nothing is written unless both documents rendered; each output is written atomically.
    """
    meta = make_meta(results_root, author)
    texts = {doc.name: render_document(results_root, doc, meta=meta) for doc in DOCUMENTS}
    for text in texts.values():  # every figure exists before anything is written
        absolute_figures(text, results_root)
    handin, supplement = texts[HANDIN.name], texts[SUPPLEMENT.name]
    result = BuildOutput(atomic_write_text(out_dir / f"{HANDIN.name}.md", handin), None,
                         count_words(body_of(handin)), None)
    result.supplement = atomic_write_text(out_dir / f"{SUPPLEMENT.name}.md", supplement)
    if pdf:
        result.pdf, result.pages = _pdf(handin, results_root, out_dir, HANDIN.name,
                                        pages_dir / HANDIN.name if pages_dir else None)
        result.supplement_pdf, result.supplement_pages = _pdf(
            supplement, results_root, out_dir, SUPPLEMENT.name, pages_dir / SUPPLEMENT.name if pages_dir else None)
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
