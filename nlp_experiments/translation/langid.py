"""A character n-gram language identifier, fitted in code on the training text (no external model).

scikit-learn does the work: ``CountVectorizer(analyzer="char_wb", ngram_range=(1, 3))`` counts the character
1- to 3-grams of each lower-cased word padded with spaces, and a multinomial naive Bayes classifier with a
uniform prior (every Multi30k language has the same amount of text) assigns a sentence with n-gram counts
``c_g`` to

    argmax_l  sum_g c_g * log p(g | l),    p(g | l) = (count_l(g) + alpha) / (N_l + alpha * V)

where ``count_l(g)`` is how often n-gram ``g`` occurs in language ``l``'s training text, ``N_l`` the total
count of all n-grams of ``l`` and ``V`` the vocabulary size (``MultinomialNB.feature_log_prob_``).

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
    """Multinomial naive Bayes over character n-grams (scikit-learn); see the module docstring for the formula."""

    def __init__(self, vectorizer: CountVectorizer, classifier: MultinomialNB):
        self.vectorizer = vectorizer
        self.classifier = classifier

    @property
    def languages(self) -> list[str]:
        return [str(lang) for lang in self.classifier.classes_]

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
        vectorizer = _vectorizer()
        counts = vectorizer.fit_transform(texts)
        classifier = MultinomialNB(alpha=alpha, fit_prior=False).fit(counts, labels)
        return cls(vectorizer, classifier)

    def scores(self, sentences: Sequence[str]) -> np.ndarray:
        """``[len(sentences), len(languages)]`` log-likelihoods ``sum_g c_g log p(g | l)`` plus the (uniform)
        log-prior, columns in the order of :attr:`languages`."""
        return self.classifier.predict_joint_log_proba(self.vectorizer.transform(list(sentences)))

    def predict_many(self, sentences: Sequence[str]) -> list[str]:
        """The most likely language of each sentence."""
        if not sentences:
            return []
        return [str(lang) for lang in self.classifier.predict(self.vectorizer.transform(list(sentences)))]

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
        nb = self.classifier
        return {"format": FORMAT, "ngram_range": list(NGRAM_RANGE), "alpha": nb.alpha,
                "languages": self.languages,
                "vocabulary": {gram: int(index) for gram, index in self.vectorizer.vocabulary_.items()},
                "class_log_prior": nb.class_log_prior_.tolist(), "feature_log_prob": nb.feature_log_prob_.tolist()}

    @classmethod
    def from_dict(cls, data: Mapping) -> CharNgramLanguageIdentifier:
        """Rebuild the vectorizer with its fixed vocabulary and the classifier with its fitted parameters."""
        vectorizer = _vectorizer(dict(data["vocabulary"]))
        classifier = MultinomialNB(alpha=data["alpha"], fit_prior=False)
        classifier.classes_ = np.array(data["languages"])
        classifier.class_log_prior_ = np.array(data["class_log_prior"], dtype=np.float64)
        classifier.feature_log_prob_ = np.array(data["feature_log_prob"], dtype=np.float64)
        classifier.n_features_in_ = classifier.feature_log_prob_.shape[1]
        if classifier.feature_log_prob_.shape != (len(classifier.classes_), len(data["vocabulary"])):
            raise ValueError("feature_log_prob does not match the languages x vocabulary")
        return cls(vectorizer, classifier)

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
