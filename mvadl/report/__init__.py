"""The report: Markdown templates under ``report/`` rendered from ``results/`` into one PDF and a notebook.

``context`` loads every results file as a strict tree (a missing key names the file), ``render`` fills the
templates (Jinja2, ``StrictUndefined``) and formats numbers and tables, ``build`` turns the rendered Markdown
into Typst and PDF (pandoc + typst, both from the package index) and into a Jupyter notebook (jupytext).
"""
