"""The character n-gram language identifier (fairseq_ext.langid) and the sacreBLEU statistics helpers."""
from __future__ import annotations

import math

import pytest

from fairseq_ext.evaluation.translation_metrics import (
    METRIC_NAMES, corpus_statistics, decode_sentencepiece, score_from_statistics,
)
from fairseq_ext.langid import CharNgramLanguageIdentifier, char_ngrams
from tests.conftest import REAL_DATA_DIR, needs_real_data
from tests.nmt_toy_corpus import toy_captions


def test_char_ngrams_pad_and_lowercase():
    grams = char_ngrams("Ab", orders=(1, 2))
    assert grams == {" ": 2, "a": 1, "b": 1, " a": 1, "ab": 1, "b ": 1}


def test_accuracy_on_held_out_toy_text(tmp_path):
    identifier = CharNgramLanguageIdentifier.fit(toy_captions(200, seed=0))
    held_out = toy_captions(100, seed=1)
    predictions = [(lang, identifier.predict(s)) for lang, lines in held_out.items() for s in lines]
    accuracy = sum(a == b for a, b in predictions) / len(predictions)
    assert accuracy >= 0.98
    reloaded = CharNgramLanguageIdentifier.load(identifier.save(tmp_path / "langid.json"))
    assert [reloaded.predict(s) for _, s in predictions[:20]] == [identifier.predict(s) for _, s in predictions[:20]]


def test_naive_bayes_score_matches_formula():
    """score_l(x) = sum_g c_g log p(g|l), p(g|l) = (count + alpha) / (N_l + alpha V)."""
    identifier = CharNgramLanguageIdentifier.fit({"x": ["ab"], "y": ["b"]}, orders=(1,), alpha=1.0)
    vocabulary = {" ", "a", "b"}
    # language x: counts " ":2 a:1 b:1 (N=4); sentence "a" has n-grams " ":2, "a":1
    expected = 2 * math.log(3 / (4 + len(vocabulary))) + math.log(2 / (4 + len(vocabulary)))
    assert identifier.scores("a")["x"] == pytest.approx(expected)


def test_off_target_rate():
    identifier = CharNgramLanguageIdentifier.fit(toy_captions(200, seed=0))
    fr = toy_captions(10, seed=2)["fr"]
    de = toy_captions(10, seed=2)["de"]
    assert identifier.off_target_rate(fr, "fr") == 0.0
    assert identifier.off_target_rate(fr[:5] + de[:5], "fr") == 0.5
    with pytest.raises(ValueError, match="no profile"):
        identifier.off_target_rate(fr, "cs")
    with pytest.raises(FileNotFoundError, match="prepare_multi30k"):
        CharNgramLanguageIdentifier.load("/nonexistent/langid.json")


@needs_real_data
def test_accuracy_on_real_multi30k_val():
    from mvadl.data import read_parallel

    identifier = CharNgramLanguageIdentifier.fit({k: v[:3000] for k, v in read_parallel(
        "train", ["en", "de", "fr"], REAL_DATA_DIR).items()})
    val = read_parallel("val", ["en", "de", "fr"], REAL_DATA_DIR)
    correct = sum(identifier.predict(s) == lang for lang, lines in val.items() for s in lines)
    assert correct / sum(map(len, val.values())) >= 0.98


def test_summed_statistics_give_corpus_scores():
    import sacrebleu

    hyps = ["a dog runs on the grass .", "two men talk", "the red car is fast .", "a cat"]
    refs = ["a dog runs on grass .", "two men are talking .", "a red car .", "a cat sleeps ."]
    for name, corpus in (("bleu", sacrebleu.corpus_bleu), ("chrf", sacrebleu.corpus_chrf)):
        halves = [corpus_statistics(name, hyps[:2], refs[:2]), corpus_statistics(name, hyps[2:], refs[2:])]
        summed = [a + b for a, b in zip(*halves)]
        assert score_from_statistics(name, summed) == pytest.approx(corpus(hyps, [refs]).score)
    assert set(METRIC_NAMES) == {"bleu", "chrf"}
    assert score_from_statistics("bleu", [0.0] * 10) == 0.0


def test_decode_sentencepiece():
    assert decode_sentencepiece("\u2581Un \u2581chien \u2581cour t .") == "Un chien court."
