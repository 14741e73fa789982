"""A character n-gram language identifier, fitted in code on the training text (no external model).

scikit-learn fits it: ``CountVectorizer(analyzer="char_wb", ngram_range=(1, 3))`` counts the character
1- to 3-grams of each lower-cased word padded with spaces, and ``MultinomialNB`` with a uniform prior (every
Multi30k language has the same amount of text) estimates

    p(g | l) = (count_l(g) + alpha) / (N_l + alpha * V)

where ``count_l(g)`` is how often n-gram ``g`` occurs in language ``l``'s training text, ``N_l`` the total
count of all n-grams of ``l`` and ``V`` the vocabulary size (``MultinomialNB.feature_log_prob_``). A sentence
with n-gram counts ``c_g`` is then assigned to

    argmax_l  log p(l) + sum_g c_g * log p(g | l)

computed here with NumPy from the fitted log-probabilities (what ``MultinomialNB.predict`` computes; a test
checks they agree), so a saved profile is loaded without setting scikit-learn's fitted attributes by hand.

Used to measure the off-target rate of a translation model: the share of outputs whose identified language
differs from the requested one. Saved as JSON (the n-gram vocabulary and the fitted log-probabilities, no
pickle), so loading a profile cannot run code.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.naive_bayes import MultinomialNB

from mvadl.data import DataError
from mvadl.io import atomic_write_text

FORMAT = "mvadl-langid-char-wb-multinomial-nb/1"
NGRAM_RANGE = (1, 3)


def _vectorizer(vocabulary: Mapping[str, int] | None = None) -> CountVectorizer:
    return CountVectorizer(analyzer="char_wb", ngram_range=NGRAM_RANGE, lowercase=True, vocabulary=vocabulary)


class CharNgramLanguageIdentifier:
    """Multinomial naive Bayes over character n-grams; see the module docstring for the formula.

    ``vectorizer`` counts the n-grams of its vocabulary; ``feature_log_prob`` ``[languages, vocabulary]`` holds
    log p(g | l) and ``class_log_prior`` ``[languages]`` log p(l), rows in the order of ``languages``.
    """

    def __init__(self, vectorizer: CountVectorizer, languages: Sequence[str], feature_log_prob: np.ndarray,
                 class_log_prior: np.ndarray, alpha: float):
        self.vectorizer = vectorizer
        self.languages = [str(lang) for lang in languages]
        self.feature_log_prob = np.asarray(feature_log_prob, dtype=np.float64)
        self.class_log_prior = np.asarray(class_log_prior, dtype=np.float64)
        self.alpha = float(alpha)
        expected = (len(self.languages), len(vectorizer.vocabulary))
        if self.feature_log_prob.shape != expected or self.class_log_prior.shape != expected[:1]:
            raise ValueError(f"feature_log_prob {self.feature_log_prob.shape} and class_log_prior "
                             f"{self.class_log_prior.shape} do not match {expected[0]} languages x {expected[1]} "
                             "n-grams")

    @classmethod
    def fit(cls, sentences: Mapping[str, Iterable[str]], alpha: float = 1.0) -> CharNgramLanguageIdentifier:
        """Fit one n-gram profile per language from ``{lang: sentences}``."""
        texts, labels = [], []
        for lang, lines in sentences.items():
            lines = [line for line in lines if line.strip()]
            if not lines:
                raise ValueError(f"no text for language '{lang}'")
            texts += lines
            labels += [lang] * len(lines)
        counter = _vectorizer()
        counts = counter.fit_transform(texts)
        fitted = MultinomialNB(alpha=alpha, fit_prior=False).fit(counts, labels)
        return cls(_vectorizer(counter.vocabulary_), fitted.classes_, fitted.feature_log_prob_,
                   fitted.class_log_prior_, alpha)

    def scores(self, sentences: Sequence[str]) -> np.ndarray:
        """``[len(sentences), len(languages)]`` log-likelihoods ``sum_g c_g log p(g | l)`` plus the (uniform)
        log-prior, columns in the order of :attr:`languages`."""
        counts = self.vectorizer.transform(list(sentences))  # sparse [sentences, vocabulary]
        return np.asarray(counts @ self.feature_log_prob.T) + self.class_log_prior

    def predict_many(self, sentences: Sequence[str]) -> list[str]:
        """The most likely language of each sentence (the first of equal scores, as scikit-learn's argmax)."""
        if not sentences:
            return []
        return [self.languages[i] for i in self.scores(sentences).argmax(axis=1)]

    def predict(self, sentence: str) -> str:
        """The most likely language of ``sentence``."""
        return self.predict_many([sentence])[0]

    def off_target_rate(self, hypotheses: Sequence[str], target_lang: str) -> float:
        """Share of ``hypotheses`` identified as another language than ``target_lang``."""
        if target_lang not in self.languages:
            raise ValueError(f"language '{target_lang}' has no profile (known: {', '.join(self.languages)})")
        if not hypotheses:
            return 0.0
        return sum(lang != target_lang for lang in self.predict_many(hypotheses)) / len(hypotheses)

    # ------------------------------------------------------------------------------------ saving
    def to_dict(self) -> dict:
        """Everything prediction needs, as JSON-able data: n-gram vocabulary and fitted log-probabilities."""
        return {"format": FORMAT, "ngram_range": list(NGRAM_RANGE), "alpha": self.alpha,
                "languages": self.languages,
                "vocabulary": {gram: int(index) for gram, index in self.vectorizer.vocabulary.items()},
                "class_log_prior": self.class_log_prior.tolist(), "feature_log_prob": self.feature_log_prob.tolist()}

    @classmethod
    def from_dict(cls, data: Mapping) -> CharNgramLanguageIdentifier:
        """The identifier of :meth:`to_dict`'s data: the vectorizer of its vocabulary and its log-probabilities."""
        return cls(_vectorizer(dict(data["vocabulary"])), data["languages"], data["feature_log_prob"],
                   data["class_log_prior"], data["alpha"])

    def save(self, path: str | Path) -> Path:
        return atomic_write_text(path, json.dumps(self.to_dict(), ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> CharNgramLanguageIdentifier:
        """Load a profile written by :meth:`save`; a missing or malformed file is a :class:`DataError`."""
        path = Path(path)
        if not path.is_file():
            raise DataError(f"{path}: language identifier profile not found "
                            "(scripts/prepare_multi30k.sh writes it next to the binarized data)")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != FORMAT:
                raise ValueError(f"format {data.get('format')!r}, expected {FORMAT!r} "
                                 "(re-run scripts/prepare_multi30k.sh --force)")
            return cls.from_dict(data)
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise DataError(f"{path}: not a language identifier profile ({error})") from None
