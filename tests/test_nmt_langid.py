"""The character n-gram language identifier (fitted by scikit-learn, scored with NumPy) and the sacreBLEU
metrics (public API)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from mvadl.data import DataError
from nlp_experiments.translation.langid import NGRAM_RANGE, CharNgramLanguageIdentifier
from nlp_experiments.translation.metrics import METRIC_NAMES, corpus_score, signature
from tests.conftest import REAL_DATA_DIR, needs_real_data
from tests.nmt_toy_corpus import toy_captions


def test_accuracy_on_held_out_toy_text_and_json_round_trip(tmp_path):
    identifier = CharNgramLanguageIdentifier.fit(toy_captions(200, seed=0))
    held_out = toy_captions(100, seed=1)
    sentences = [s for lines in held_out.values() for s in lines]
    truth = [lang for lang, lines in held_out.items() for _ in lines]
    predicted = identifier.predict_many(sentences)
    assert sum(a == b for a, b in zip(truth, predicted)) / len(truth) >= 0.98
    path = identifier.save(tmp_path / "langid.json")
    assert json.loads(path.read_text())["format"].startswith("mvadl-langid")  # data, not a pickle
    reloaded = CharNgramLanguageIdentifier.load(path)
    assert reloaded.predict_many(sentences) == predicted
    np.testing.assert_array_equal(reloaded.scores(sentences[:20]), identifier.scores(sentences[:20]))


def test_naive_bayes_score_matches_formula():
    """score_l(x) = sum_g c_g log p(g|l) + log prior, p(g|l) = (count_l(g) + alpha) / (N_l + alpha V), over the
    character 1-3-grams of each word padded with spaces (char_wb)."""
    identifier = CharNgramLanguageIdentifier.fit({"x": ["ab"], "y": ["b"]}, alpha=1.0)
    # char_wb n-grams of " ab ": " ", "a", "b", " " | " a", "ab", "b " | " ab", "ab "; of " b ": " ", "b", " ",
    # " b", "b ", " b "
    counts_x = {" ": 2, "a": 1, "b": 1, " a": 1, "ab": 1, "b ": 1, " ab": 1, "ab ": 1}
    counts_y = {" ": 2, "b": 1, " b": 1, "b ": 1, " b ": 1}
    vocabulary = set(counts_x) | set(counts_y)
    assert set(identifier.vectorizer.vocabulary) == vocabulary
    # sentence "a": n-grams " ":2, "a":1, " a":1, "a ":1, " a ":1 ("a " and " a " are out of the vocabulary)
    sentence = {" ": 2, "a": 1, " a": 1}
    expected = {lang: math.log(0.5) + sum(c * math.log((counts.get(g, 0) + 1) / (sum(counts.values()) + len(
        vocabulary))) for g, c in sentence.items()) for lang, counts in (("x", counts_x), ("y", counts_y))}
    scores = dict(zip(identifier.languages, identifier.scores(["a"])[0]))
    assert scores == pytest.approx(expected)
    assert identifier.predict("a") == "x"


def test_numpy_scores_and_predictions_equal_scikit_learns():
    """The identifier scores with NumPy from the fitted log-probabilities; scikit-learn's own MultinomialNB, fitted
    on the same counts, gives the same joint log-likelihoods and the same predictions, before and after saving."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.naive_bayes import MultinomialNB

    train = toy_captions(60, seed=3)
    texts = [s for lines in train.values() for s in lines]
    labels = [lang for lang, lines in train.items() for _ in lines]
    vectorizer = CountVectorizer(analyzer="char_wb", ngram_range=NGRAM_RANGE, lowercase=True)
    reference = MultinomialNB(alpha=0.5, fit_prior=False).fit(vectorizer.fit_transform(texts), labels)
    identifier = CharNgramLanguageIdentifier.fit(train, alpha=0.5)
    held_out = [s for lines in toy_captions(30, seed=4).values() for s in lines] + ["zzz", "", "A Dog ."]
    expected = reference.predict_joint_log_proba(vectorizer.transform(held_out))
    reloaded = CharNgramLanguageIdentifier.from_dict(json.loads(json.dumps(identifier.to_dict())))
    for model in (identifier, reloaded):
        assert model.languages == list(reference.classes_)
        np.testing.assert_allclose(model.scores(held_out), expected, rtol=1e-12, atol=0)
        assert model.predict_many(held_out) == list(reference.predict(vectorizer.transform(held_out)))
    bad = {**identifier.to_dict(), "languages": ["de", "en"]}
    with pytest.raises(ValueError, match="do not match 2 languages"):
        CharNgramLanguageIdentifier.from_dict(bad)


def test_off_target_rate_and_errors(tmp_path):
    identifier = CharNgramLanguageIdentifier.fit(toy_captions(200, seed=0))
    fr = toy_captions(10, seed=2)["fr"]
    de = toy_captions(10, seed=2)["de"]
    assert identifier.off_target_rate(fr, "fr") == 0.0
    assert identifier.off_target_rate(fr[:5] + de[:5], "fr") == 0.5
    assert identifier.off_target_rate([], "fr") == 0.0
    with pytest.raises(ValueError, match="no profile"):
        identifier.off_target_rate(fr, "cs")
    with pytest.raises(DataError, match="langid.json: language identifier profile not found.*prepare_multi30k"):
        CharNgramLanguageIdentifier.load(tmp_path / "langid.json")
    (tmp_path / "old.json").write_text(json.dumps({"orders": [1, 2, 3], "log_probs": {}}))
    with pytest.raises(DataError, match="old.json: not a language identifier profile.*--force"):
        CharNgramLanguageIdentifier.load(tmp_path / "old.json")


@needs_real_data
def test_accuracy_on_real_multi30k_val():
    from mvadl.data import read_parallel

    identifier = CharNgramLanguageIdentifier.fit({k: v[:3000] for k, v in read_parallel(
        "train", ["en", "de", "fr"], REAL_DATA_DIR).items()})
    val = read_parallel("val", ["en", "de", "fr"], REAL_DATA_DIR)
    correct = sum(p == lang for lang, lines in val.items() for p in identifier.predict_many(lines))
    assert correct / sum(map(len, val.values())) >= 0.98


def test_corpus_bleu_equals_the_formula_by_hand():
    """BLEU = BP * exp(mean_n log p_n), p_n the clipped n-gram precisions (n = 1..4), BP = exp(1 - r / c) when
    the hypotheses (c tokens) are shorter than the references (r tokens); here every p_n > 0, so smoothing plays
    no part. Hypothesis "the cat sat on the mat" (6 tokens), reference "the cat sat on a red mat" (7 tokens):
    p_1 = 5/6 ("the" is clipped to its one occurrence), p_2 = 3/5, p_3 = 2/4, p_4 = 1/3."""
    hyp, ref = ["the cat sat on the mat"], ["the cat sat on a red mat"]
    expected = 100 * math.exp(1 - 7 / 6) * (5 / 6 * 3 / 5 * 2 / 4 * 1 / 3) ** (1 / 4)
    assert corpus_score("bleu", hyp, ref) == pytest.approx(expected, rel=1e-9)
    assert corpus_score("bleu", ref, hyp) != pytest.approx(expected)  # hypotheses first, references second
    assert corpus_score("bleu", hyp * 3, hyp * 3) == pytest.approx(100.0)
    assert corpus_score("chrf", hyp, hyp) == pytest.approx(100.0) and corpus_score("chrf", ["xyz"], ["abc"]) == 0.0
    assert corpus_score("chrf", ["the cat sat"], ["the cat sat on the mat"]) < corpus_score(
        "chrf", ["the cat sat on a mat"], ["the cat sat on the mat"])


def test_metric_names_and_signatures():
    assert set(METRIC_NAMES) == {"bleu", "chrf"} and corpus_score("bleu", [], []) == 0.0
    hyps = ["a dog runs on the grass .", "two men talk", "the red car is fast .", "a cat"]
    refs = ["a dog runs on grass .", "two men are talking .", "a red car .", "a cat sleeps ."]
    assert signature("bleu").startswith("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.")
    assert signature("chrf").startswith("nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.")
    with pytest.raises(ValueError, match="3 hypotheses for 4 references"):
        corpus_score("bleu", hyps[:3], refs)
