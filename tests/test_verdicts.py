"""Verdicts of comparisons (mvadl.verdicts): each test against sacreBLEU or a hand-computed value."""
from __future__ import annotations

import json
import math
import random

import pytest

from mvadl.verdicts import (
    Comparison,
    holm,
    mcnemar_exact,
    mcnemar_from_counts,
    paired_bootstrap,
    seeds_summary,
    wilson_interval,
)
from nlp_experiments.translation.metrics import corpus_score

ANIMALS = ["cat", "dog", "horse", "bird", "goat", "fox"]
COLOURS = ["red", "small", "old", "brown", "quiet", "white"]
PLACES = ["river", "house", "bridge", "market"]

#: 24 made-up reference sentences.
REFERENCES = [f"the {COLOURS[i % 6]} {ANIMALS[(i * 5) % 6]} walks to the {PLACES[i % 4]} every morning ."
              for i in range(24)]
#: System A: the references with one word changed in every third sentence.
GOOD = [ref.replace("every morning", "each morning") if i % 3 == 0 else ref for i, ref in enumerate(REFERENCES)]
#: System B: most of each sentence lost.
POOR = [" ".join(ref.split()[:3]) + " goes away ." for ref in REFERENCES]
#: Barely different from GOOD: better on sentence 0 (the reference itself), worse on sentences 1 and 4.
MIXED = [REFERENCES[0]] + [hyp.replace("walks to", "runs to") if i in (1, 4) else hyp
                           for i, hyp in enumerate(GOOD) if i > 0]

N_SAMPLES = 200


def sacrebleu_paired_p_value(metric: str, hypotheses_a, hypotheses_b, references, n_samples: int) -> float:
    """p-value of system A against baseline B from sacreBLEU's public PairedTest (paired bootstrap)."""
    from sacrebleu.metrics import BLEU, CHRF
    from sacrebleu.significance import PairedTest

    metric_object = {"bleu": BLEU, "chrf": CHRF}[metric]()
    test = PairedTest([("B", list(hypotheses_b)), ("A", list(hypotheses_a))], {metric: metric_object},
                      [list(references)], test_type="bs", n_samples=n_samples)
    _, scores = test()
    (name,) = [key for key in scores if key != "System"]
    return scores[name][1].p_value


@pytest.mark.parametrize("metric", ["bleu", "chrf"])
def test_paired_bootstrap_matches_sacrebleu(metric, monkeypatch):
    monkeypatch.setenv("SACREBLEU_SEED", "12345")
    result = paired_bootstrap(metric, GOOD, POOR, REFERENCES, n_samples=N_SAMPLES, seed=12345)
    assert result.a == pytest.approx(corpus_score(metric, GOOD, REFERENCES), abs=1e-9)
    assert result.b == pytest.approx(corpus_score(metric, POOR, REFERENCES), abs=1e-9)
    assert result.difference == pytest.approx(result.a - result.b)
    assert result.p_value == pytest.approx(sacrebleu_paired_p_value(metric, GOOD, POOR, REFERENCES, N_SAMPLES))
    assert result.n == len(REFERENCES)
    assert "1,000" not in result.test and "200 resamples" in result.test
    assert result.low <= result.difference <= result.high


def test_paired_bootstrap_p_value_matches_sacrebleu_for_close_systems(monkeypatch):
    """A p-value far from its floor 1/(R+1), so the match is not a coincidence of two minimal values."""
    monkeypatch.setenv("SACREBLEU_SEED", "7")
    result = paired_bootstrap("bleu", MIXED, GOOD, REFERENCES, n_samples=N_SAMPLES, seed=7)
    assert result.p_value > 0.05
    assert result.p_value == pytest.approx(
        sacrebleu_paired_p_value("bleu", MIXED, GOOD, REFERENCES, N_SAMPLES))


def test_paired_bootstrap_interval_is_percentile_of_resampled_corpus_scores():
    """Independent re-computation: the same sentence draws, each resample scored with sacreBLEU's corpus_score."""
    import numpy as np

    n_samples, seed = 40, 3
    result = paired_bootstrap("chrf", MIXED, GOOD, REFERENCES, n_samples=n_samples, seed=seed)
    draws = np.random.default_rng(seed).choice(len(REFERENCES), size=(n_samples, len(REFERENCES)), replace=True)
    differences = [corpus_score("chrf", [MIXED[i] for i in row], [REFERENCES[i] for i in row])
                   - corpus_score("chrf", [GOOD[i] for i in row], [REFERENCES[i] for i in row]) for row in draws]
    assert result.low == pytest.approx(np.quantile(differences, 0.025), abs=1e-3)
    assert result.high == pytest.approx(np.quantile(differences, 0.975), abs=1e-3)
    narrower = paired_bootstrap("chrf", MIXED, GOOD, REFERENCES, n_samples=n_samples, seed=seed, level=0.5)
    assert narrower.low == pytest.approx(np.quantile(differences, 0.25), abs=1e-3)
    assert result.low < narrower.low < narrower.high < result.high


def test_paired_bootstrap_verdict_flips_when_systems_are_swapped():
    forward = paired_bootstrap("bleu", GOOD, POOR, REFERENCES, n_samples=N_SAMPLES)
    backward = paired_bootstrap("bleu", POOR, GOOD, REFERENCES, n_samples=N_SAMPLES)
    assert forward.verdict == "higher" and forward.verb() == "higher than" and forward.low > 0
    assert backward.verdict == "lower" and backward.verb() == "lower than" and backward.high < 0
    # same resamples, so the interval is mirrored
    assert backward.low == pytest.approx(-forward.high) and backward.high == pytest.approx(-forward.low)


def test_paired_bootstrap_interval_containing_zero_is_level():
    result = paired_bootstrap("chrf", MIXED, GOOD, REFERENCES, n_samples=N_SAMPLES)
    assert result.difference != 0
    assert result.low < 0 < result.high
    assert result.verdict == "level" and result.verb() == "level with"


def test_paired_bootstrap_identical_systems_are_level():
    result = paired_bootstrap("bleu", GOOD, list(GOOD), REFERENCES, n_samples=N_SAMPLES)
    assert result.difference == 0 and result.low == 0 and result.high == 0
    # sacreBLEU's p-value of identical systems is its floor 1/(R+1): the interval is what makes this "level"
    assert result.p_value == pytest.approx(1 / (N_SAMPLES + 1))
    assert result.verdict == "level" and result.verb("removes", "adds", "leaves unchanged") == "leaves unchanged"


def test_paired_bootstrap_mismatched_sizes_raise():
    with pytest.raises(ValueError, match="24 hypotheses of A, 23 hypotheses of B, 24 references"):
        paired_bootstrap("bleu", GOOD, POOR[:-1], REFERENCES)
    with pytest.raises(ValueError, match="24 hypotheses of A, 24 hypotheses of B, 23 references"):
        paired_bootstrap("bleu", GOOD, POOR, REFERENCES[:-1])
    with pytest.raises(ValueError, match="unknown metric"):
        paired_bootstrap("ter", GOOD, POOR, REFERENCES)


def test_wilson_interval_against_hand_computed_value():
    # 3 of 10: p = 0.3, z = 1.959964; (p + z^2/20 -+ z sqrt(p(1-p)/10 + z^2/400)) / (1 + z^2/10)
    z = 1.959963984540054
    centre, half = 0.3 + z**2 / 20, z * math.sqrt(0.3 * 0.7 / 10 + z**2 / 400)
    low, high = wilson_interval(3, 10)
    assert low == pytest.approx((centre - half) / (1 + z**2 / 10), abs=1e-12)
    assert high == pytest.approx((centre + half) / (1 + z**2 / 10), abs=1e-12)
    assert (round(low, 4), round(high, 4)) == (0.1078, 0.6032)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0
    with pytest.raises(ValueError):
        wilson_interval(11, 10)


def test_mcnemar_p_value_against_hand_computed_binomial():
    # 1 vs 7 discordant pairs: p = 2 * P(X <= 1 | X ~ Bin(8, 1/2)) = 2 * (1 + 8) / 256
    result = mcnemar_from_counts(both=1, only_a=1, only_b=7, neither=12)
    assert result.p_value == pytest.approx(18 / 256, abs=1e-15)
    # 6 vs 16: 2 * sum_{k<=6} C(22, k) / 2^22
    result = mcnemar_from_counts(both=59, only_a=6, only_b=16, neither=80)
    assert result.p_value == pytest.approx(2 * sum(math.comb(22, k) for k in range(7)) / 2**22, abs=1e-15)
    assert mcnemar_from_counts(3, 0, 0, 4).p_value == 1.0


def test_mcnemar_newcombe_interval_against_published_value():
    # Fagerland, Lydersen & Laake (2017), chapter 8, Cavo et al. (2012): estimate -0.0621, 95 % CI -0.1186 to -0.0046
    result = mcnemar_from_counts(both=59, only_a=6, only_b=16, neither=80)
    assert (result.a, result.b, result.n) == (65 / 161, 75 / 161, 161)
    assert round(result.difference, 4) == -0.0621
    assert (round(result.low, 4), round(result.high, 4)) == (-0.1186, -0.0046)
    # the interval excludes 0 but the exact test gives p = 0.052: both must agree, so the verdict is "level"
    assert result.p_value > 0.05 and result.verdict == "level"


def test_mcnemar_newcombe_interval_with_negative_correlation_by_hand():
    # both=2, only_a=10, only_b=8, neither=1, N=21: D = 2*1 - 10*8 = -78 < 0, so phi = D / sqrt(12*9*10*11)
    z = 1.959963984540054

    def wilson(k, n):
        p = k / n
        centre, half = p + z**2 / (2 * n), z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
        return (centre - half) / (1 + z**2 / n), (centre + half) / (1 + z**2 / n)

    (l1, u1), (l2, u2) = wilson(12, 21), wilson(10, 21)
    a, b, phi = 12 / 21, 10 / 21, -78 / math.sqrt(12 * 9 * 10 * 11)
    expected_low = 2 / 21 - math.sqrt((a - l1) ** 2 - 2 * phi * (a - l1) * (u2 - b) + (u2 - b) ** 2)
    expected_high = 2 / 21 + math.sqrt((u1 - a) ** 2 - 2 * phi * (u1 - a) * (b - l2) + (b - l2) ** 2)
    result = mcnemar_from_counts(both=2, only_a=10, only_b=8, neither=1)
    assert result.low == pytest.approx(expected_low, abs=1e-12)
    assert result.high == pytest.approx(expected_high, abs=1e-12)


def test_mcnemar_exact_counts_pairs_and_flips_when_swapped():
    a = [True] * 20 + [False] * 2 + [True] * 10 + [False] * 10
    b = [False] * 20 + [True] * 2 + [True] * 10 + [False] * 10
    forward, backward = mcnemar_exact(a, b), mcnemar_exact(b, a)
    assert forward == mcnemar_from_counts(both=10, only_a=20, only_b=2, neither=10)
    assert forward.verdict == "higher" and forward.low > 0 and forward.p_value < 0.001
    assert backward.verdict == "lower" and backward.verb("adds", "removes") == "removes"
    assert (backward.low, backward.high) == pytest.approx((-forward.high, -forward.low))
    assert backward.p_value == pytest.approx(forward.p_value)
    same = mcnemar_exact(a, a)
    assert same.difference == 0 and same.verdict == "level" and same.verb() == "level with"


def test_mcnemar_rejects_bad_input():
    with pytest.raises(ValueError, match="3 outcomes under A, 2 under B"):
        mcnemar_exact([True, False, True], [True, False])
    with pytest.raises(ValueError):
        mcnemar_from_counts(0, 0, 0, 0)
    with pytest.raises(ValueError):
        mcnemar_from_counts(1, -1, 0, 0)


def comparison(**changes) -> Comparison:
    fields = dict(a=30.0, b=28.8, difference=1.2, low=0.4, high=2.0, p_value=0.004, test="made up", n=50)
    return Comparison(**{**fields, **changes})


def test_verdict_needs_interval_and_p_value():
    assert comparison().verdict == "higher"
    assert comparison(p_value=None).verdict == "higher"
    assert comparison(p_value=0.05).verdict == "level"  # p < 1 - level, strictly
    assert comparison(p_value=0.0499).verdict == "higher"
    assert comparison(low=-0.1).verdict == "level"
    assert comparison(difference=-1.2, low=-2.0, high=-0.4).verdict == "lower"
    assert comparison(difference=-1.2, low=-2.0, high=0.0).verdict == "level"
    assert comparison(level=0.99, p_value=0.02).verdict == "level"
    with pytest.raises(ValueError):
        comparison(low=3.0)


def test_where_interval_and_p_disagree_the_one_that_does_not_reject_decides():
    # the interval excludes 0 but the (Holm-adjusted) p-value does not reach 0.05
    assert comparison(p_value=0.06).verdict == "level"
    assert comparison(p_value=0.004, p_holm=0.06).verdict == "level"
    assert comparison(difference=-1.2, low=-2.0, high=-0.4, p_value=0.01, p_holm=0.05).verdict == "level"
    # p below 0.05 but the interval includes 0 (sacreBLEU's p and the percentile interval are different
    # statistics of the resamples)
    assert comparison(low=-0.1, p_value=0.03, p_holm=0.04).verdict == "level"
    # both reject: the adjusted p decides with the interval
    assert comparison(p_value=0.004, p_holm=0.024).verdict == "higher"


def test_holm_adjusts_by_hand():
    # sorted: 0.005 (x4 = 0.02), 0.01 (x3 = 0.03), 0.03 (x2 = 0.06), 0.04 (x1 = 0.04, but never below 0.06)
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == [1.0, 1.0]  # capped at 1
    assert holm([0.02]) == [0.02] and holm([]) == []
    with pytest.raises(ValueError):
        holm([1.5])
    with pytest.raises(ValueError, match="Holm-adjusted p-value must lie in"):
        comparison(p_value=0.01, p_holm=0.005)


def test_holm_is_monotone_and_never_below_the_raw_p_values():
    rng = random.Random(3)
    for _ in range(200):
        raw = [rng.random() ** 3 for _ in range(rng.randint(1, 8))]
        adjusted = holm(raw)
        assert all(p <= q <= 1.0 for p, q in zip(raw, adjusted))
        ranked = sorted(range(len(raw)), key=lambda i: raw[i])
        assert all(adjusted[i] <= adjusted[j] for i, j in zip(ranked, ranked[1:]))
        # Bonferroni bounds it from above, and the smallest is exactly Bonferroni's
        assert all(q <= min(1.0, len(raw) * p) + 1e-12 for p, q in zip(raw, adjusted))
        assert adjusted[ranked[0]] == pytest.approx(min(1.0, len(raw) * raw[ranked[0]]))


def test_as_dict_from_dict_round_trip():
    original = comparison()
    record = json.loads(json.dumps(original.as_dict()))
    assert record["verdict"] == "higher"
    assert set(record) == {"a", "b", "difference", "low", "high", "p_value", "test", "n", "level", "p_holm",
                           "verdict"}
    adjusted = comparison(p_holm=0.02)
    assert Comparison.from_dict(json.loads(json.dumps(adjusted.as_dict()))) == adjusted
    # a record written before the Holm adjustment reads as a comparison tested on its own
    assert Comparison.from_dict({k: v for k, v in record.items() if k != "p_holm"}).p_holm is None
    assert Comparison.from_dict(record) == original
    # the stored verdict is recomputed, not trusted
    assert Comparison.from_dict({**record, "verdict": "lower"}).verdict == "higher"
    assert Comparison.from_dict(comparison(p_value=None).as_dict()).p_value is None
    with pytest.raises(ValueError, match="unknown comparison keys: p"):
        Comparison.from_dict({**record, "p": 0.1})


def test_seeds_summary():
    summary = seeds_summary([1.0, 2.0, 4.0])
    assert summary["n"] == 3 and summary["mean"] == pytest.approx(7 / 3)
    # sample std: sqrt(((1 - 7/3)^2 + (2 - 7/3)^2 + (4 - 7/3)^2) / 2) = sqrt(7/3)
    assert summary["std"] == pytest.approx(math.sqrt(7 / 3))
    assert seeds_summary([5.0]) == {"mean": 5.0, "std": None, "n": 1}
    with pytest.raises(ValueError):
        seeds_summary([])
