"""The unigram levels of the pre/post-norm study: hand-computed values on a toy text."""
from __future__ import annotations

import math

import pytest

from nlp_experiments.prenorm.unigram import tokens, unigram_levels


def test_tokens_add_one_end_of_line_per_line(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text(" a b\n\n a\n", encoding="utf-8")
    assert tokens(path) == ["a", "b", "</s>", "</s>", "a", "</s>"]


def test_unigram_levels_by_hand():
    train = ["a", "a", "b", "</s>"]  # p = 1/2, 1/4, 1/4
    valid = ["a", "</s>"]
    levels = unigram_levels(train, valid)
    assert levels["train_entropy_bits"] == pytest.approx(1.5)
    assert levels["valid_cross_entropy_bits"] == pytest.approx((1 + 2) / 2)
    assert levels["valid_ppl"] == pytest.approx(2 ** 1.5)
    assert unigram_levels(train + ["<unk>"], ["zzz"])["valid_cross_entropy_bits"] == pytest.approx(-math.log2(1 / 5))
    with pytest.raises(ValueError, match="not in the training text"):
        unigram_levels(train, ["zzz"])
