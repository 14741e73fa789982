"""The report: Markdown templates under ``report/templates`` rendered from ``results/`` into two documents, the
hand-in (``report/report.{md,pdf}``) and its supplement (``report/supplement.{md,pdf}``).

``context`` loads every results file as a strict tree (a missing key names the file), ``derived`` computes the
numbers and verdicts the text compares (one function per part, tests from :mod:`mvadl.verdicts`), ``references``
keeps the numbers quoted from published work (the works themselves are in ``report/references.bib``), ``render``
fills the templates (Jinja2, ``StrictUndefined``) and formats numbers, and ``build`` turns the Markdown into Typst
and PDF (pandoc with citeproc, then typst, both from the package index).
"""
