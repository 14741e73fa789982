"""What ``mva_multilingual_translation`` scores its validation translations with, inside the plugin, so that
``--user-dir fairseq_ext`` needs nothing of this project but the plugin folder.

* :func:`corpus_score`: sacreBLEU's default BLEU (13a tokenization, cased, exponential smoothing) and chrF2
  objects, the metrics ``nlp_experiments.translation.metrics`` scores the test sets with
  (``tests/test_fairseq_plugin.py`` checks that both give the same numbers).
* :class:`LanguageProfile`: the language identifier of the off-target rate, applied from its saved profile
  (``langid.json``, fitted and written by ``nlp_experiments.translation.langid`` in
  ``scripts/prepare_multi30k.sh``). The profile is a multinomial naive Bayes over the character 1- to 3-grams of
  each word: a sentence with n-gram counts ``c_g`` is in language

      argmax_l  log p(l) + sum_g c_g * log p(g | l)

  with ``log p(l)`` the profile's ``class_log_prior`` and ``log p(g | l)`` its ``feature_log_prob``. The counts
  come from scikit-learn's ``CountVectorizer(analyzer="char_wb")`` with the profile's vocabulary, as when it was
  fitted.
"""
from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np

METRIC_NAMES = ("bleu", "chrf")
#: The profile format this plugin reads (``nlp_experiments.translation.langid.FORMAT``).
PROFILE_FORMAT = "mvadl-langid-char-wb-multinomial-nb/1"


def corpus_score(name: str, hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """sacreBLEU corpus BLEU or chrF (0-100) of ``hypotheses`` against one reference each; 0 for no sentence."""
    from sacrebleu.metrics import BLEU, CHRF

    metrics = {"bleu": BLEU, "chrf": CHRF}
    if name not in metrics:
        raise ValueError(f"unknown metric '{name}' (known: {', '.join(METRIC_NAMES)})")
    if not hypotheses:
        return 0.0
    return float(metrics[name]().corpus_score(list(hypotheses), [list(references)]).score)


class LanguageProfile:
    """A saved language identifier profile (``langid.json``), applied as the module docstring says."""

    def __init__(self, path: str):
        from sklearn.feature_extraction.text import CountVectorizer

        with open(path, encoding="utf-8") as f:
            profile = json.load(f)
        if profile.get("format") != PROFILE_FORMAT:
            raise ValueError(f"{path}: format {profile.get('format')!r}, expected {PROFILE_FORMAT!r} "
                             "(re-run scripts/prepare_multi30k.sh --force)")
        self.languages = [str(lang) for lang in profile["languages"]]
        self.counter = CountVectorizer(analyzer="char_wb", ngram_range=tuple(profile["ngram_range"]),
                                       lowercase=True, vocabulary=profile["vocabulary"])
        self.log_prior = np.asarray(profile["class_log_prior"], dtype=np.float64)
        self.log_prob = np.asarray(profile["feature_log_prob"], dtype=np.float64)  # languages x n-grams

    def predict_many(self, sentences: Sequence[str]) -> list[str]:
        """The most likely language of each sentence."""
        if not sentences:
            return []
        scores = self.counter.transform(list(sentences)) @ self.log_prob.T + self.log_prior
        return [self.languages[i] for i in np.asarray(scores).argmax(axis=1)]
