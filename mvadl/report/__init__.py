"""The report: Markdown templates under ``report/templates`` rendered from ``results/`` into two documents, the
hand-in (``report/report.{md,pdf,ipynb}``) and its supplement (``report/supplement.{md,pdf}``).

``context`` loads every results file as a strict tree (a missing key names the file), ``derived`` computes the
numbers and verdicts the text compares (one function per part, tests from :mod:`mvadl.verdicts`), ``references``
lists the works cited, ``render`` fills the templates (Jinja2, ``StrictUndefined``) and formats numbers, and
``build`` turns the Markdown into Typst and PDF (pandoc + typst, both from the package index) and the hand-in
into a notebook of one Markdown cell per question.
"""
