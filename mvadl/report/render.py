"""Fill the report's Markdown templates from ``results/`` (Jinja2 with ``StrictUndefined``).

Templates see ``R`` (the results tree, :mod:`mvadl.report.context`), ``DV`` (the numbers and verdicts derived
from it, :mod:`mvadl.report.derived`), ``meta`` (title-page facts) and the filters below. Numbers are formatted
here, in one place, so the text and the tables agree.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from mvadl.report import derived
from mvadl.report.context import ReportDataError, ResultsTree, node_items, node_keys, node_values
from mvadl.report.references import references_markdown

#: Headings after which the body ends (its word count stops at the first of them).
END_OF_BODY_HEADINGS = ("# References", "# Appendix")


def _number(x: Any, what: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise ReportDataError(f"{what}: expected a number, got {x!r}")
    return float(x)


def fmt_fixed(x: Any, digits: int = 2) -> str:
    """``x`` with ``digits`` decimals; a minus sign as in print (``-92.03``)."""
    return f"{_number(x, 'num'):.{digits}f}"


def fmt_thousands(x: Any) -> str:
    """An integer with thousands separators: ``160000`` -> ``160,000``."""
    return f"{round(_number(x, 'thousands')):,}"


def fmt_percent(x: Any, digits: int = 1) -> str:
    """A fraction as a percentage: ``0.315`` -> ``31.5 %``."""
    return f"{100 * _number(x, 'pct'):.{digits}f} %"


def fmt_sci(x: Any, digits: int = 1, math_mode: bool = True) -> str:
    r"""Scientific notation in LaTeX: ``2.6e-06`` -> ``$2.6 \times 10^{-6}$`` (plain ``x`` if 0.01 <= |x| < 1e4)."""
    v = _number(x, "sci")
    if v == 0 or not math.isfinite(v):
        body = f"{v:g}"
    else:
        exponent = math.floor(math.log10(abs(v)))
        mantissa = v / 10 ** exponent
        if round(abs(mantissa), digits) >= 10:
            mantissa, exponent = mantissa / 10, exponent + 1
        if -2 <= exponent <= 3:
            body = f"{v:.{max(digits - exponent, 0)}f}"
        else:
            body = f"{mantissa:.{digits}f} \\times 10^{{{exponent}}}"
    return f"${body}$" if math_mode else body


def fmt_signif(x: Any, digits: int = 3) -> str:
    """``digits`` significant digits, no exponent for everyday magnitudes: ``0.004152`` -> ``0.00415``."""
    v = _number(x, "sig")
    if v == 0:
        return "0"
    decimals = max(digits - 1 - math.floor(math.log10(abs(v))), 0)
    return f"{v:.{decimals}f}"


def fmt_duration(seconds: Any) -> str:
    """A wall time for prose: ``85.1`` -> ``85 s``, ``3562`` -> ``59 min``, ``9000`` -> ``2.5 h``."""
    s = _number(seconds, "duration")
    if s < 120:
        return f"{s:.0f} s"
    if s < 2 * 3600:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"


def fmt_ratio(x: Any) -> str:
    """A gradient ratio, everywhere the same way: two significant digits in scientific notation."""
    return fmt_sci(x, 1)


def fmt_signed(x: Any, digits: int = 1) -> str:
    """``+1.2`` / ``-0.4``."""
    return f"{_number(x, 'signed'):+.{digits}f}"


FILTERS = {
    "ratio": fmt_ratio,
    "signed": fmt_signed,
    "items": node_items,
    "keys": node_keys,
    "values": node_values,
    **derived.FILTERS,
    "num": fmt_fixed,
    "thousands": fmt_thousands,
    "pct": fmt_percent,
    "sci": fmt_sci,
    "sig": fmt_signif,
    "duration": fmt_duration,
}


@dataclass(frozen=True)
class Meta:
    """Title-page facts that do not come from ``results/``."""

    author: str
    results_fingerprint: str  #: content hash of results/ (see mvadl.report.build.results_fingerprint)
    results_date: str  #: the date of the newest record under results/


def make_environment(template_dir: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters.update(FILTERS)
    return env


def render(template_dir: Path, results_root: Path, meta: Meta, template: str = "report.md.j2",
           references: bool = False) -> str:
    """Render ``template`` (which includes the sections) and return the Markdown; with ``references``, append
    the References section of the works the text cites.

    Raises :class:`ReportDataError` (one line naming the results file and key) when a template asks for
    something the results do not hold, and for an undefined template variable.
    """
    env = make_environment(template_dir)
    tree = ResultsTree(results_root)
    try:
        text = env.get_template(template).render(R=tree, DV=derived.Derived(tree), meta=meta)
    except jinja2.UndefinedError as e:
        raise ReportDataError(f"{template_dir}: template uses an undefined name ({e.message})") from None
    except jinja2.TemplateSyntaxError as e:
        raise ReportDataError(f"{e.filename or template}:{e.lineno}: template syntax error ({e.message})") from None
    # one blank line between blocks, whatever the templates' own spacing
    text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
    if references:
        text += "\n" + references_markdown(body_of(text))
    return text


_MATH = re.compile(r"\$\$.*?\$\$|\$[^$\n]+\$", re.S)
_CODE = re.compile(r"```.*?```", re.S)
_RAW_BLOCK = re.compile(r"```\{=\w+\}.*?```", re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)(\{[^}]*\})?")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_WORD = re.compile(r"[A-Za-z0-9][\w'’.,%/-]*")


_TITLE_BLOCK = re.compile(r"\A---\n(.*?)\n---\n", re.S)


def split_title_block(markdown: str) -> tuple[str, str]:
    """``(yaml, rest)``: the YAML title block (without its ``---`` fences; empty if none) and the text after it."""
    m = _TITLE_BLOCK.match(markdown)
    return (m.group(1), markdown[m.end():]) if m else ("", markdown)


def body_of(markdown: str) -> str:
    """The report without its YAML title block, and without what follows the body (References, an appendix)."""
    body = split_title_block(markdown)[1]
    for heading in END_OF_BODY_HEADINGS:
        body = re.split(rf"^{re.escape(heading)}\s*$", body, maxsplit=1, flags=re.M)[0]
    return body


def count_words(markdown: str) -> int:
    """Words of prose, captions and table cells; math, code, comments and raw blocks are not counted."""
    text = _RAW_BLOCK.sub(" ", markdown)
    text = _CODE.sub(" ", text)
    text = _COMMENT.sub(" ", text)
    text = _MATH.sub(" ", text)
    text = _IMAGE.sub(r" \1 ", text)
    text = _LINK.sub(r" \1 ", text)
    lines = [ln for ln in text.splitlines() if not re.fullmatch(r"\s*\|?[\s:|-]*\|?\s*", ln)]
    return len(_WORD.findall("\n".join(lines)))
