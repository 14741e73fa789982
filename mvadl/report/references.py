"""The works the report cites live in ``report/references.bib`` (pandoc's citeproc formats the citations and the
References section); this module keeps the numbers the report quotes from them, next to their ``.bib`` key, and
lists the keys a text cites so that a test can require an entry for each.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mvadl import REPO_ROOT

BIBLIOGRAPHY = REPO_ROOT / "report" / "references.bib"

#: Numbers a published work reports and the report sets beside ours, by ``.bib`` key.
REPORTED: dict[str, dict[str, Any]] = {
    "burda2016": {"nll": 86.76, "is_samples": 5000, "epochs": 3280, "latent_units": 50, "hidden_units": 200},
    "wu2021": {"bleu_en_de": 41.0, "updates": 8000},
}

#: A pandoc citation: ``[@key]``, ``[see @key, p. 3]``, ``@key`` in running text, ``[-@key]``.
_CITATION = re.compile(r"(?<![\w.])-?@([A-Za-z][\w:-]*\d{4}[a-z]?)")


def reported(key: str) -> dict[str, Any]:
    """Numbers the report quotes from work ``key``."""
    return REPORTED[key]


def bib_keys(path: Path = BIBLIOGRAPHY) -> set[str]:
    """The entry keys of a BibTeX file."""
    return set(re.findall(r"^@\w+\{([^,\s]+),", path.read_text(encoding="utf-8"), flags=re.M))


def cited_keys(markdown: str) -> list[str]:
    """The ``.bib`` keys a Markdown text cites, in the order of their first citation."""
    return list(dict.fromkeys(_CITATION.findall(markdown)))
