"""Verdicts of comparisons: the verb the report may use ("higher", "lower", "level") comes from a stated test.

A :class:`Comparison` holds the two measured values ``a`` (the system of interest) and ``b`` (the other one),
their difference ``a - b``, a confidence interval of that difference, the test's p-value (and, where the
comparison belongs to a family of tests, its Holm-adjusted p-value ``p_holm``) and the number of paired units
the test resampled or paired. Its :attr:`Comparison.verdict` is, with ``alpha = 1 - level`` and ``p`` the
Holm-adjusted p-value when there is one, else the raw one:

* ``"higher"`` when the whole interval lies above 0 (``low > 0``) and, when a p-value is known, ``p < alpha``;
* ``"lower"`` when the whole interval lies below 0 (``high < 0``) and likewise ``p < alpha``;
* ``"level"`` otherwise: the data do not tell the two apart at that level (which is not a proof that they are
  equal; the report says "no significant difference").

Where the interval and the p-value disagree, the one that does NOT reject decides: an interval that excludes 0
with ``p >= alpha``, or ``p < alpha`` with an interval that includes 0, is "level". Both directions occur: the
percentile interval and sacreBLEU's p-value come from different statistics of the same resamples (the signed
differences, and the centred absolute ones), and the interval is per comparison while ``p_holm`` accounts for
the whole family (:func:`holm`), so a printed interval never contradicts a printed verdict.

Multiple comparisons: :func:`holm` adjusts the p-values of one family of comparisons (Holm 1979), which keeps
the probability of any false "higher"/"lower" in the family at most ``alpha``. The experiment that runs the
tests decides what a family is and records ``p_holm`` beside ``p_value``
(:mod:`nlp_experiments.translation.comparisons`: one comparison kind at one update count for one training seed,
per metric).

The tests, and why each one:

* :func:`paired_bootstrap` (BLEU, chrF): sacreBLEU's paired bootstrap resampling (Koehn 2004), the test sacreBLEU
  itself runs for ``--paired-bs``. Corpus metrics are not means of per-sentence scores, so the sentences are
  resampled with replacement and each resample's corpus score is recomputed from summed sufficient statistics.
  The p-value is sacreBLEU's own (equal to ``sacrebleu.significance.PairedTest(test_type="bs")`` for the same
  seed); the interval is the percentile interval of the resampled differences ``a* - b*``.
* :func:`mcnemar_exact` / :func:`mcnemar_from_counts` (a yes/no outcome on the same items under two
  conditions, e.g. "the image shows the concept" with and without a negative prompt): the exact McNemar test.
  Only discordant items carry information about the difference; under the null hypothesis each of them is
  equally likely to favour either condition, so ``only_a ~ Binomial(only_a + only_b, 1/2)`` and the p-value is the
  two-sided exact binomial test. The interval of the paired difference of proportions is Newcombe's score interval
  (method 10 of Newcombe 1998), which stays inside [-1, 1] and behaves at 0 % and 100 %, where the Wald interval
  collapses.
* :func:`wilson_interval` (one share on its own): the Wilson score interval, same reasons.
* :func:`seeds_summary` (a quantity measured once per seed): mean and sample standard deviation over the seeds,
  with ``n`` so that the report can say how many.

The report prints a comparison through its own filters (:mod:`mvadl.report.render`: ``interval``, ``pp``,
``verdict``), with the numbers rounded once.

References: P. Koehn, "Statistical significance tests for machine translation evaluation", EMNLP 2004.
S. Holm, "A simple sequentially rejective multiple test procedure", Scandinavian Journal of Statistics 6
(1979) 65-70. R. G. Newcombe, "Improved confidence intervals for the difference between binomial proportions
based on paired data", Statistics in Medicine 17 (1998) 2635-2650. M. W. Fagerland, S. Lydersen, P. Laake,
"Statistical Analysis of Contingency Tables", CRC 2017, chapter 8 (the paired 2x2 table).
"""
from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Comparison:
    """Two measured values, the interval of their difference ``a - b`` and the test that produced it.

    ``a``: value of the system of interest; ``b``: value of the other system; ``difference = a - b``;
    ``[low, high]``: the ``level`` confidence interval of ``a - b``; ``p_value``: the test's two-sided p-value
    (``None`` when the test gives none); ``test``: the test in plain words; ``n``: the number of paired units
    (sentences, images, seeds); ``p_holm``: the Holm-adjusted p-value within the comparison's family
    (:func:`holm`; ``None`` for a comparison tested on its own), which the verdict then uses.
    """

    a: float
    b: float
    difference: float
    low: float
    high: float
    p_value: float | None
    test: str
    n: int
    level: float = 0.95
    p_holm: float | None = None

    def __post_init__(self):
        if not 0.0 < self.level < 1.0:
            raise ValueError(f"level must lie in (0, 1), got {self.level}")
        if not self.low <= self.high:
            raise ValueError(f"interval [{self.low}, {self.high}] has low > high")
        if self.p_value is not None and not 0.0 <= self.p_value <= 1.0:
            raise ValueError(f"p-value must lie in [0, 1], got {self.p_value}")
        if self.p_holm is not None and not (self.p_value is not None and self.p_value <= self.p_holm <= 1.0):
            raise ValueError(f"Holm-adjusted p-value must lie in [p, 1] = [{self.p_value}, 1], got {self.p_holm}")

    @property
    def p_decisive(self) -> float | None:
        """The p-value the verdict uses: ``p_holm`` when the comparison belongs to a family, else ``p_value``."""
        return self.p_holm if self.p_holm is not None else self.p_value

    @property
    def verdict(self) -> str:
        """``"higher"`` if ``low > 0``, ``"lower"`` if ``high < 0`` (each also needing :attr:`p_decisive`
        ``< 1 - level`` when a p-value is known), else ``"level"``: where interval and p disagree, the one that
        does not reject decides."""
        # round() so that level=0.95 means alpha=0.05 exactly, not 0.05000000000000004
        alpha = round(1.0 - self.level, 12)
        significant = self.p_decisive is None or self.p_decisive < alpha
        if significant and self.low > 0:
            return "higher"
        if significant and self.high < 0:
            return "lower"
        return "level"

    def verb(self, higher: str = "higher than", lower: str = "lower than", level: str = "level with") -> str:
        """The words for :attr:`verdict` (e.g. ``verb("removes", "adds", "leaves unchanged")``)."""
        return {"higher": higher, "lower": lower, "level": level}[self.verdict]

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict of every field plus ``"verdict"``."""
        record: dict[str, Any] = {
            "a": float(self.a), "b": float(self.b), "difference": float(self.difference),
            "low": float(self.low), "high": float(self.high),
            "p_value": None if self.p_value is None else float(self.p_value),
            "test": str(self.test), "n": int(self.n), "level": float(self.level),
            "p_holm": None if self.p_holm is None else float(self.p_holm),
        }
        record["verdict"] = self.verdict
        return record

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Comparison:
        """Inverse of :meth:`as_dict`; a stored ``"verdict"`` is ignored (recomputed), any other unknown key is an
        error, and so is a missing one (except ``level``, default 0.95, and ``p_holm``, default none)."""
        names = {field.name for field in dataclasses.fields(cls)}
        unknown = set(d) - names - {"verdict"}
        if unknown:
            raise ValueError(f"unknown comparison keys: {', '.join(sorted(unknown))}")
        return cls(**{key: value for key, value in d.items() if key in names})


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values of one family of ``m`` tests, in the order given.

    With the raw p-values sorted, ``p_(1) <= ... <= p_(m)``, the adjusted ones are
    ``p~_(i) = min(1, max_{j <= i} (m - j + 1) p_(j))``; rejecting every test with ``p~ < alpha`` keeps the
    family-wise error rate at most ``alpha`` under any dependence between the tests (Holm 1979). Ties keep the
    order given. (scipy has Benjamini-Hochberg, ``scipy.stats.false_discovery_control``, but not Holm.)
    """
    p_values = [float(p) for p in p_values]
    if any(not 0.0 <= p <= 1.0 for p in p_values):
        raise ValueError(f"p-values must lie in [0, 1], got {p_values}")
    m = len(p_values)
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(sorted(range(m), key=lambda i: p_values[i])):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def paired_bootstrap(metric: str, hypotheses_a: Sequence[str], hypotheses_b: Sequence[str],
                     references: Sequence[str], n_samples: int = 1000, seed: int = 12345,
                     level: float = 0.95) -> Comparison:
    """sacreBLEU's paired bootstrap resampling test of corpus ``metric`` ("bleu" or "chrf") for system A vs B,
    with the percentile interval of the difference.

    ``a``, ``b``: corpus scores of A and B (sacreBLEU's default metric objects, one reference per sentence);
    ``n``: number of sentences. With ``S`` the per-sentence sufficient statistics (n-gram matches and counts) and
    ``I_1..I_R`` (``R = n_samples``) index vectors of length ``n`` drawn with replacement from
    ``numpy.random.default_rng(seed)``, resample ``r`` scores ``a*_r = score(sum_{i in I_r} S_a[i])`` and
    ``b*_r`` likewise (the same sentences for both systems: that is the pairing). Then

    * p-value (sacreBLEU's, Moses' ``bootstrap-hypothesis-difference-significance.pl``): with
      ``d_r = |a*_r - b*_r|`` and the observed ``d = |a - b|``,
      ``p = (1 + #{r : d_r - mean(d) > d}) / (R + 1)``;
    * interval: the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of ``a*_r - b*_r``.

    Equal systems have ``d_r = 0`` for every ``r``, hence sacreBLEU's ``p = 1 / (R + 1)``; their interval is
    ``[0, 0]``, so the verdict is still "level".
    """
    import numpy as np
    from sacrebleu.significance import _compute_p_value

    from nlp_experiments.translation.metrics import sacrebleu_metric

    if not len(hypotheses_a) == len(hypotheses_b) == len(references):
        raise ValueError(f"sizes differ: {len(hypotheses_a)} hypotheses of A, {len(hypotheses_b)} hypotheses of B, "
                         f"{len(references)} references")
    if not references:
        raise ValueError("nothing to compare: 0 sentences")
    if n_samples < 1:
        raise ValueError(f"n_samples must be at least 1, got {n_samples}")
    scorer = sacrebleu_metric(metric)
    reference_streams = [list(references)]
    n = len(references)

    # Adapted from sacrebleu/significance.py (2.6.0), _paired_bs_test: the same draws, statistics and scores,
    # keeping the signed resampled differences for the interval. sacreBLEU's public PairedTest returns the
    # p-value but not those differences, so this calls four private functions (_compute_p_value,
    # _extract_corpus_statistics, _aggregate_and_compute, _compute_score_from_stats): setup.py pins sacreBLEU
    # exactly, and tests/test_verdicts.py checks the p-value against the public PairedTest.
    rng = np.random.default_rng(seed)
    indices = rng.choice(n, size=(n_samples, n), replace=True)
    observed, resampled = [], []
    for hypotheses in (hypotheses_a, hypotheses_b):
        sentence_stats = scorer._extract_corpus_statistics(list(hypotheses), reference_streams)
        observed.append(scorer._aggregate_and_compute(sentence_stats).score)
        sentence_stats = np.array(sentence_stats, dtype="float32")
        resampled.append(np.array([scorer._compute_score_from_stats(sentence_stats[row].sum(0)).score
                                   for row in indices]))
    score_a, score_b = observed
    differences = resampled[0] - resampled[1]
    absolute = np.abs(differences)
    p_value = _compute_p_value(absolute - absolute.mean(), abs(score_a - score_b))
    low, high = np.quantile(differences, [(1.0 - level) / 2, (1.0 + level) / 2])
    return Comparison(
        a=float(score_a), b=float(score_b), difference=float(score_a - score_b), low=float(low), high=float(high),
        p_value=float(p_value), n=n, level=level,
        test=f"paired bootstrap resampling of sentences (sacreBLEU {metric}), {n_samples:,} resamples")


def wilson_interval(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a share ``k / n``: with ``p = k / n`` and ``z`` the ``(1 + level) / 2`` normal
    quantile, ``(p + z^2/(2n) -+ z sqrt(p(1-p)/n + z^2/(4n^2))) / (1 + z^2/n)`` (scipy's ``binomtest``)."""
    from scipy.stats import binomtest

    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n >= 1, got k={k}, n={n}")
    interval = binomtest(int(k), int(n)).proportion_ci(confidence_level=level, method="wilson")
    return float(interval.low), float(interval.high)


def mcnemar_from_counts(both: int, only_a: int, only_b: int, neither: int, level: float = 0.95) -> Comparison:
    """Exact McNemar test and Newcombe's score interval from the paired 2x2 table of outcomes under A and B.

    ``both``: items with the outcome under A and under B; ``only_a``/``only_b``: under one condition only;
    ``neither``. With ``N`` the total, ``a = (both + only_a) / N``, ``b = (both + only_b) / N`` and
    ``difference = a - b = (only_a - only_b) / N``.

    p-value (exact McNemar): two-sided binomial test of ``only_a`` successes in ``only_a + only_b`` trials with
    probability 1/2 (``p = 1`` when there is no discordant item).

    Interval (Newcombe 1998, method 10; Fagerland et al. 2017, chapter 8, "square-and-add"): with
    ``[l1, u1]``, ``[l2, u2]`` the Wilson intervals of ``a`` and ``b``, and the continuity-corrected
    phi coefficient ``phi = C / sqrt((both+only_a)(only_b+neither)(both+only_b)(only_a+neither))`` where,
    with ``D = both * neither - only_a * only_b``, ``C = D - N/2`` if ``D > N/2``, ``C = 0`` if ``0 <= D <= N/2``,
    ``C = D`` if ``D < 0`` (``phi = 0`` when a margin is 0):

        low  = difference - sqrt((a - l1)^2 - 2 phi (a - l1)(u2 - b) + (u2 - b)^2)
        high = difference + sqrt((u1 - a)^2 - 2 phi (u1 - a)(b - l2) + (b - l2)^2)
    """
    from scipy.stats import binomtest

    counts = {"both": both, "only_a": only_a, "only_b": only_b, "neither": neither}
    if any(int(count) != count or count < 0 for count in counts.values()):
        raise ValueError(f"counts must be non-negative integers, got {counts}")
    both, only_a, only_b, neither = (int(count) for count in counts.values())
    total = both + only_a + only_b + neither
    if total == 0:
        raise ValueError("nothing to compare: 0 items")
    discordant = only_a + only_b
    p_value = binomtest(only_a, discordant, 0.5).pvalue if discordant else 1.0

    share_a, share_b = (both + only_a) / total, (both + only_b) / total
    difference = (only_a - only_b) / total
    low_a, high_a = wilson_interval(both + only_a, total, level)
    low_b, high_b = wilson_interval(both + only_b, total, level)
    margins = (both + only_a) * (only_b + neither) * (both + only_b) * (only_a + neither)
    cross = both * neither - only_a * only_b
    corrected = cross - total / 2 if cross > total / 2 else (0.0 if cross >= 0 else cross)
    phi = corrected / math.sqrt(margins) if margins else 0.0
    below, above_b = share_a - low_a, high_b - share_b
    above_a, below_b = high_a - share_a, share_b - low_b
    low = difference - math.sqrt(max(0.0, below**2 - 2 * phi * below * above_b + above_b**2))
    high = difference + math.sqrt(max(0.0, above_a**2 - 2 * phi * above_a * below_b + below_b**2))
    return Comparison(
        a=share_a, b=share_b, difference=difference, low=low, high=high, p_value=float(p_value), n=total,
        level=level,
        test=f"exact McNemar test ({only_a} vs {only_b} discordant pairs), Newcombe's paired score interval")


def mcnemar_exact(a: Sequence[bool], b: Sequence[bool], level: float = 0.95) -> Comparison:
    """:func:`mcnemar_from_counts` of the outcomes ``a[i]``, ``b[i]`` of item ``i`` under conditions A and B."""
    if len(a) != len(b):
        raise ValueError(f"sizes differ: {len(a)} outcomes under A, {len(b)} under B")
    pairs = [(bool(x), bool(y)) for x, y in zip(a, b)]
    return mcnemar_from_counts(
        both=sum(x and y for x, y in pairs), only_a=sum(x and not y for x, y in pairs),
        only_b=sum(y and not x for x, y in pairs), neither=sum(not x and not y for x, y in pairs), level=level)


def paired_mean_difference(a: Sequence[float], b: Sequence[float], n_resamples: int = 10_000, seed: int = 12345,
                           level: float = 0.95) -> Comparison:
    """A quantity measured on the same items under conditions A and B (``a[i]``, ``b[i]``; e.g. the stroke-mask
    IoU of image i with its same-seed partner and with another seed's image): the mean paired difference
    ``mean(a - b)``, scipy's paired sign-flip randomization test and its paired bootstrap percentile interval.

    ``a``, ``b``: the means of ``a`` and ``b``; ``difference = mean(d)`` with ``d = a - b``; ``n``: the items.
    p-value: ``scipy.stats.permutation_test(permutation_type="samples")``, which swaps A and B within each item
    (flips the sign of ``d_i``) at random, ``n_resamples`` times (every one of the ``2^n`` sign patterns when
    there are no more), two-sided. Under the null hypothesis that the two conditions are exchangeable within each
    item, ``mean(d)`` is as likely as its sign-flipped versions. No distribution is assumed, which suits bounded
    (IoU) and skewed (distances) values. Interval: ``scipy.stats.bootstrap(paired=True, method="percentile")``,
    items resampled with replacement. Both draw from ``numpy.random.default_rng(seed)``; the test is one on means,
    like the interval, so the two answer the same question.
    """
    import numpy as np
    from scipy.stats import bootstrap, permutation_test

    x, y = np.asarray(a, float), np.asarray(b, float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"sizes differ: {x.shape} values under A, {y.shape} under B")
    if not len(x):
        raise ValueError("nothing to compare: 0 items")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("values must be finite (leave out the items without a value under both conditions)")
    d = x - y
    difference = float(d.mean())

    def mean_difference(u, v, axis=-1):
        return np.mean(u - v, axis=axis)

    if np.all(d == d[0]):  # every resample has the same mean: the interval is that point
        low = high = difference
        p_value = 1.0 if difference == 0 else float(
            permutation_test((x, y), mean_difference, permutation_type="samples", vectorized=True,
                             n_resamples=n_resamples, rng=np.random.default_rng(seed)).pvalue)
    else:
        rng = np.random.default_rng(seed)
        p_value = float(permutation_test((x, y), mean_difference, permutation_type="samples", vectorized=True,
                                         n_resamples=n_resamples, rng=rng).pvalue)
        interval = bootstrap((x, y), mean_difference, paired=True, vectorized=True, n_resamples=n_resamples,
                             method="percentile", confidence_level=level, rng=rng).confidence_interval
        low, high = float(interval.low), float(interval.high)
    return Comparison(
        a=float(x.mean()), b=float(y.mean()), difference=difference, low=low, high=high,
        p_value=min(1.0, p_value), n=len(d), level=level,
        test=f"paired sign-flip randomization test of the mean difference and paired bootstrap percentile "
             f"interval, {n_resamples:,} resamples")


def seeds_summary(values: Sequence[float]) -> dict[str, Any]:
    """``{"mean", "std", "n"}`` of a quantity measured once per seed; ``std`` is the sample standard deviation
    ``sqrt(sum (x - mean)^2 / (n - 1))``, ``None`` for a single seed."""
    values = [float(value) for value in values]
    if not values:
        raise ValueError("no values to summarise")
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else None,
            "n": len(values)}
