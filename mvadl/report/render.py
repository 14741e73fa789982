"""Fill the report's Markdown templates from ``results/`` (Jinja2 with ``StrictUndefined``).

Templates see ``R`` (the results tree, :mod:`mvadl.report.context`), ``DV`` (the numbers and verdicts derived
from it, :mod:`mvadl.report.derived`), ``meta`` (title-page facts), ``REPORTED`` (numbers quoted from published
work, :mod:`mvadl.report.references`) and the filters below. Numbers are formatted
here, in one place, so the text and the tables agree.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import jinja2

from mvadl.report import derived
from mvadl.report.context import ReportDataError, ResultsTree, node_items, node_keys, node_values
from mvadl.report.references import REPORTED

#: Headings after which the body ends (its word count stops at the first of them).
END_OF_BODY_HEADINGS = ("# References", "# Appendix")


def _number(x: Any, what: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise ReportDataError(f"{what}: expected a number, got {x!r}")
    return float(x)


def round_half_up(x: float, digits: int) -> Decimal:
    """``x`` rounded once, half away from zero, from its shortest decimal form: ``55.5523`` -> ``55.6`` and
    ``55.55`` -> ``55.6`` at one decimal (binary rounding of ``55.55`` would give ``55.5``)."""
    return Decimal(repr(float(x))).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)


def fmt_fixed(x: Any, digits: int = 2) -> str:
    """``x`` with ``digits`` decimals, rounded once, half-up (:func:`round_half_up`); a minus sign as in print
    (``-92.03``)."""
    v = _number(x, "num")
    if not math.isfinite(v):
        return f"{v}"
    rounded = round_half_up(v, digits)
    return f"{abs(rounded) if rounded == 0 else rounded:f}"


#: The significance level every verdict of the report uses.
ALPHA = 0.05


def fmt_p(p: Any, digits: int = 2) -> str:
    """A p-value that cannot be misread at the 0.05 threshold: ``p < 0.001`` below 0.001, else ``digits``
    significant digits, except that a value the rounding would carry onto or across 0.05 prints as
    ``p < 0.05`` or ``p > 0.05`` (``0.04995`` -> ``p < 0.05``, never ``p = 0.050``)."""
    v = _number(p, "p")
    if not 0.0 <= v <= 1.0:
        raise ReportDataError(f"p: {v} is not a probability")
    if v < 0.001:
        return "p < 0.001"
    text = fmt_signif(v, digits)
    shown = float(text)
    if v != ALPHA and (shown == ALPHA or (shown < ALPHA) != (v < ALPHA)):
        return "p < 0.05" if v < ALPHA else "p > 0.05"
    return f"p = {text}"


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
    """``+1.2`` / ``-0.4``, rounded like :func:`fmt_fixed`."""
    text = fmt_fixed(x, digits)
    return text if text.startswith("-") else "+" + text


def fmt_bound(x: Any, digits: int = 1) -> str:
    """An interval's bound, signed like :func:`fmt_signed`, with more decimals where ``digits`` would round a
    non-zero bound to zero, so that its side of zero shows: ``0.012`` -> ``+0.01``, ``-0.004`` -> ``-0.004``
    (``+0.0`` and ``-0.0`` would hide whether the interval excludes zero). Exactly 0 prints ``0.0``."""
    v = _number(x, "bound")
    if v == 0:
        return fmt_fixed(v, digits)
    shown = digits
    while round_half_up(v, shown) == 0 and shown < digits + 6:
        shown += 1
    return fmt_signed(v, shown) if round_half_up(v, shown) != 0 else fmt_fixed(0.0, digits)


def fmt_interval(c: Any, digits: int = 1, unit: str = "") -> str:
    """A comparison as ``+1.2 [+0.4, +2.0], p = 0.0040``: the signed difference ``a - b`` and its 95 % interval
    with ``digits`` decimals (a bound that would round to zero gets the decimals that show its sign,
    :func:`fmt_bound`; each number followed by ``unit``), then :func:`fmt_p` of the p-value the verdict uses (the
    Holm-adjusted one where the comparison has it; left out when the test has none)."""
    text = (f"{fmt_signed(c.difference, digits)}{unit} "
            f"[{fmt_bound(c.low, digits)}{unit}, {fmt_bound(c.high, digits)}{unit}]")
    return text if c.p_decisive is None else f"{text}, {fmt_p(c.p_decisive)}"


def fmt_pp(c: Any) -> str:
    """A comparison of shares in percentage points: ``-44.0 [-50.9, -37.3] pp, p < 0.001`` (bounds as in
    :func:`fmt_bound`)."""
    text = f"{fmt_signed(100 * c.difference)} [{fmt_bound(100 * c.low)}, {fmt_bound(100 * c.high)}] pp"
    return text if c.p_decisive is None else f"{text}, {fmt_p(c.p_decisive)}"


def fmt_share(s: Any, digits: int = 1) -> str:
    """A recorded share (``{"share", "low", "high"}``) with its 95 % interval: ``44.0 % [37.3, 50.9]``."""
    share, low, high = (100 * _number(s[key], "share") for key in ("share", "low", "high"))
    return f"{fmt_fixed(share, digits)} % [{fmt_fixed(low, digits)}, {fmt_fixed(high, digits)}]"


def fmt_verdict(c: Any, higher: str = "significantly higher than", lower: str = "significantly lower than",
                none: str = "not significantly different from") -> str:
    """The hand-in's words for a comparison's verdict (the test decides; "level" is never printed)."""
    return c.verb(higher, lower, none)


def by_verdict(rows: list, *order: str) -> list[dict[str, Any]]:
    """Rows (each with its comparison at the last point, ``row["last"]``) grouped by that comparison's verdict, in
    ``order`` (default higher, lower, level), empty groups left out: ``[{"comparison", "rows"}]``, where
    ``comparison`` is the first row's, for the ``verdict`` filter to word the group."""
    groups = []
    for verdict in order or ("higher", "lower", "level"):
        picked = [r for r in rows if r["last"].verdict == verdict]
        if picked:
            groups.append({"comparison": picked[0]["last"], "rows": picked})
    return groups


def deciding(rows: list) -> dict[str, Any] | None:
    """The row (as for :func:`by_verdict`) whose verdict at the last point is nearest to turning: of the
    significant ones, the one whose interval comes nearest to zero; without any, the one with the largest
    difference in size. None without rows."""
    significant = [r for r in rows if r["last"].verdict != "level"]
    if significant:
        return min(significant, key=lambda r: min(abs(r["last"].low), abs(r["last"].high)))
    return max(rows, key=lambda r: abs(r["last"].difference), default=None)


def fmt_direction(contrast: Any, higher: str, lower: str, mixed: str) -> str:
    """The words for a recorded per-seed ``direction`` (``"higher"``/``"lower"`` when the difference has that sign
    in every seed, ``"mixed"`` otherwise): a description of the seeds, not a test."""
    return {"higher": higher, "lower": lower, "mixed": mixed}[contrast["direction"]]


FILTERS = {
    "interval": fmt_interval,
    "direction": fmt_direction,
    "by_verdict": by_verdict,
    "deciding": deciding,
    "pp": fmt_pp,
    "share": fmt_share,
    "verdict": fmt_verdict,
    "ratio": fmt_ratio,
    "signed": fmt_signed,
    "bound": fmt_bound,
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
    "p": fmt_p,
}


@dataclass(frozen=True)
class Meta:
    """Title-page facts that do not come from ``results/``."""

    author: str
    results_fingerprint: str  #: content hash of results/ (printed in the supplement; see build.results_fingerprint)
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
    the References section, which pandoc's citeproc fills with the works the text cites (``[@key]``).

    Raises :class:`ReportDataError` (one line naming the results file and key) when a template asks for
    something the results do not hold, and for an undefined template variable.
    """
    env = make_environment(template_dir)
    tree = ResultsTree(results_root)
    try:
        text = env.get_template(template).render(R=tree, DV=derived.Derived(tree), meta=meta, REPORTED=REPORTED)
    except jinja2.UndefinedError as e:
        raise ReportDataError(f"{template_dir}: template uses an undefined name ({e.message})") from None
    except jinja2.TemplateSyntaxError as e:
        raise ReportDataError(f"{e.filename or template}:{e.lineno}: template syntax error ({e.message})") from None
    # one blank line between blocks, whatever the templates' own spacing
    text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
    if references:
        text += "\n# References\n\n::: {#refs}\n:::\n"
    return text


_MATH = re.compile(r"\$\$.*?\$\$|\$[^$\n]+\$", re.S)
_CODE = re.compile(r"```.*?```", re.S)
_RAW_BLOCK = re.compile(r"```\{=\w+\}.*?```", re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)(\{[^}]*\})?")
_ID = re.compile(r"\{\s*#[^}]*\}")  # a table caption's pandoc id, ``{ #tbl:name}``
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
    text = _ID.sub(" ", text)
    text = _LINK.sub(r" \1 ", text)
    lines = [ln for ln in text.splitlines() if not re.fullmatch(r"\s*\|?[\s:|-]*\|?\s*", ln)]
    return len(_WORD.findall("\n".join(lines)))
