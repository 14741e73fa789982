"""The character n-gram language identifier (scikit-learn) and the sacreBLEU metrics (public API)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from mvadl.data import DataError
from nlp_experiments.translation.langid import CharNgramLanguageIdentifier
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
    assert set(identifier.vectorizer.vocabulary_) == vocabulary
    # sentence "a": n-grams " ":2, "a":1, " a":1, "a ":1, " a ":1 ("a " and " a " are out of the vocabulary)
    sentence = {" ": 2, "a": 1, " a": 1}
    expected = {lang: math.log(0.5) + sum(c * math.log((counts.get(g, 0) + 1) / (sum(counts.values()) + len(
        vocabulary))) for g, c in sentence.items()) for lang, counts in (("x", counts_x), ("y", counts_y))}
    scores = dict(zip(identifier.languages, identifier.scores(["a"])[0]))
    assert scores == pytest.approx(expected)
    assert identifier.predict("a") == "x"


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


def test_metrics_are_sacrebleu_corpus_scores():
    import sacrebleu

    hyps = ["a dog runs on the grass .", "two men talk", "the red car is fast .", "a cat"]
    refs = ["a dog runs on grass .", "two men are talking .", "a red car .", "a cat sleeps ."]
    assert corpus_score("bleu", hyps, refs) == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score)
    assert corpus_score("chrf", hyps, refs) == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs]).score)
    assert set(METRIC_NAMES) == {"bleu", "chrf"} and corpus_score("bleu", [], []) == 0.0
    assert signature("bleu").startswith("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.")
    assert signature("chrf").startswith("nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.")
    with pytest.raises(ValueError, match="3 hypotheses for 4 references"):
        corpus_score("bleu", hyps[:3], refs)
