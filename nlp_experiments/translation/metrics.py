"""sacreBLEU BLEU and chrF through its public API (``sacrebleu.metrics.BLEU`` / ``CHRF``).

Every score is ``metric.corpus_score(hypotheses, [references]).score`` of sacreBLEU's default metric object:
BLEU with 13a tokenization, mixed case and exponential smoothing; chrF2 (character 6-grams, beta 2). The
signature string (``metric.get_signature()``) goes into the results with the scores, so a number can be
compared with sacreBLEU's elsewhere. Tested with sacreBLEU 2.6.0, the version ``setup.py`` pins.
"""
from __future__ import annotations

from collections.abc import Sequence
from functools import cache

METRIC_NAMES = ("bleu", "chrf")


@cache
def sacrebleu_metric(name: str):
    """sacreBLEU's default BLEU (13a tokenization, cased, exp smoothing) or chrF (chrF2) object."""
    from sacrebleu.metrics import BLEU, CHRF

    if name == "bleu":
        return BLEU()
    if name == "chrf":
        return CHRF()
    raise ValueError(f"unknown metric '{name}' (known: {', '.join(METRIC_NAMES)})")


def corpus_score(name: str, hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus score (0-100) of ``hypotheses`` against one reference each; 0 when there is nothing to score."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    if not hypotheses:
        return 0.0
    return float(sacrebleu_metric(name).corpus_score(list(hypotheses), [list(references)]).score)


def signature(name: str) -> str:
    """sacreBLEU's signature string of the metric (tokenization, casing, version ...)."""
    return str(sacrebleu_metric(name).get_signature())

