"""mvadl.verdicts.paired_mean_difference: the sign-flip randomization test and paired bootstrap interval."""
import numpy as np
import pytest

from mvadl.verdicts import Comparison, paired_mean_difference


def test_a_clear_paired_shift_is_higher_and_its_interval_covers_it():
    rng = np.random.default_rng(0)
    b = rng.uniform(0.3, 0.7, 200)  # items vary much more than the shift, which the pairing removes
    a = b + 0.05 + rng.normal(0, 0.02, 200)
    c = paired_mean_difference(a, b)
    assert c.n == 200 and c.difference == pytest.approx(np.mean(a - b))
    assert c.a == pytest.approx(a.mean()) and c.b == pytest.approx(b.mean())
    assert c.low < c.difference < c.high and c.low > 0.04 and c.high < 0.06
    assert c.p_value < 0.001 and c.verdict == "higher"
    assert Comparison.from_dict(c.as_dict()) == c
    assert paired_mean_difference(b, a).verdict == "lower"


def test_no_shift_is_level_and_the_test_is_reproducible():
    rng = np.random.default_rng(1)
    b = rng.uniform(0, 1, 50)
    a = b + rng.normal(0, 0.1, 50)
    c = paired_mean_difference(a, b, seed=7)
    assert c.verdict == "level" and c.p_value > 0.05 and c.low < 0 < c.high
    assert paired_mean_difference(a, b, seed=7) == c


def test_exact_sign_flips_for_few_items_and_identical_values():
    # 4 items, all differences +1: 16 sign patterns, 2 of them as extreme as the observed one
    c = paired_mean_difference([2, 3, 4, 5], [1, 2, 3, 4])
    assert c.difference == 1.0 and (c.low, c.high) == (1.0, 1.0) and c.p_value == pytest.approx(2 / 16)
    same = paired_mean_difference([0.5, 0.7], [0.5, 0.7])
    assert (same.difference, same.low, same.high, same.p_value, same.verdict) == (0.0, 0.0, 0.0, 1.0, "level")


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="sizes differ"):
        paired_mean_difference([1, 2], [1])
    with pytest.raises(ValueError, match="finite"):
        paired_mean_difference([1, np.nan], [1, 2])
    with pytest.raises(ValueError, match="0 items"):
        paired_mean_difference([], [])
