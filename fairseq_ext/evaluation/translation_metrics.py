"""sacreBLEU BLEU and chrF from summable sufficient statistics.

Corpus BLEU and corpus chrF are both functions of statistics summed over sentences (BLEU: hypothesis and
reference lengths, matched and total n-grams for n = 1..4; chrF: matched/hypothesis/reference character
and word n-gram counts). Summing them per batch and scoring once at the end therefore gives exactly
``sacrebleu.corpus_bleu`` / ``corpus_chrf`` of the whole set, which is what validation in several batches
(and on several workers) needs.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Sequence

METRIC_NAMES = ("bleu", "chrf")


@lru_cache(maxsize=None)
def sacrebleu_metric(name: str):
    """sacreBLEU's default BLEU (13a tokenization, cased, exp smoothing) or chrF (chrF2) object."""
    from sacrebleu.metrics import BLEU, CHRF

    if name == "bleu":
        return BLEU()
    if name == "chrf":
        return CHRF()
    raise ValueError(f"unknown metric '{name}' (known: {', '.join(METRIC_NAMES)})")


def corpus_statistics(name: str, hypotheses: Sequence[str], references: Sequence[str]) -> list[float]:
    """Sufficient statistics of ``hypotheses`` against one reference each, summed over sentences."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    metric = sacrebleu_metric(name)
    per_sentence = metric._extract_corpus_statistics(list(hypotheses), [list(references)])
    width = len(per_sentence[0]) if per_sentence else statistics_width(name)
    return [float(sum(row[i] for row in per_sentence)) for i in range(width)]


@lru_cache(maxsize=None)
def statistics_width(name: str) -> int:
    """Number of statistics :func:`corpus_statistics` returns for ``name``."""
    metric = sacrebleu_metric(name)
    return len(metric._extract_corpus_statistics(["a"], [["a"]])[0])


def score_from_statistics(name: str, statistics: Sequence[float]) -> float:
    """Corpus score (0-100) from summed statistics; 0 when there is nothing to score."""
    if not any(statistics):
        return 0.0
    metric = sacrebleu_metric(name)
    return float(metric._compute_score_from_stats([int(round(s)) for s in statistics]).score)


def signature(name: str) -> str:
    """sacreBLEU's signature string of the metric (tokenization, casing, version ...)."""
    return str(sacrebleu_metric(name).get_signature())


def decode_sentencepiece(pieces: str) -> str:
    """Space-separated SentencePiece pieces -> text: ``"▁a ▁do g"`` -> ``"a dog"`` (fairseq's
    ``--post-process sentencepiece``)."""
    return "".join(pieces.split()).replace("\u2581", " ").strip()
