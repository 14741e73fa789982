"""A character n-gram language identifier, trained in code on the training text (no external model).

Each language gets a multinomial naive Bayes profile over character n-grams (n = 1..3 by default) of
``" " + lowercased sentence + " "``. A sentence ``x`` with n-gram counts ``c_g`` is assigned

    argmax_l  sum_g c_g * log p(g | l),    p(g | l) = (count_l(g) + alpha) / (N_l + alpha * V)

(uniform prior: every Multi30k language has the same amount of text), where ``N_l`` is the number of
n-grams seen for language ``l`` and ``V`` the size of the union of the kept n-gram vocabularies.
Only the ``max_ngrams`` most frequent n-grams per language are kept, which keeps the profile file small.

Used to measure the off-target rate of a translation model: the share of outputs whose identified
language differs from the requested one.
"""
from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Iterable, Mapping, Sequence


def char_ngrams(sentence: str, orders: Sequence[int] = (1, 2, 3)) -> Counter:
    """Counts of the character n-grams of ``" " + sentence.lower() + " "`` for each order in ``orders``."""
    text = f" {' '.join(sentence.lower().split())} "
    counts: Counter = Counter()
    for n in orders:
        counts.update(text[i:i + n] for i in range(len(text) - n + 1))
    return counts


class CharNgramLanguageIdentifier:
    """Naive Bayes over character n-grams; see the module docstring for the formula."""

    def __init__(self, log_probs: Mapping[str, Mapping[str, float]], unseen_log_prob: Mapping[str, float],
                 orders: Sequence[int] = (1, 2, 3)):
        if not log_probs:
            raise ValueError("a language identifier needs at least one language")
        self.log_probs = {lang: dict(table) for lang, table in log_probs.items()}
        self.unseen_log_prob = dict(unseen_log_prob)
        self.orders = tuple(orders)

    @property
    def languages(self) -> list[str]:
        return sorted(self.log_probs)

    @classmethod
    def fit(cls, sentences: Mapping[str, Iterable[str]], orders: Sequence[int] = (1, 2, 3),
            max_ngrams: int = 3000, alpha: float = 1.0) -> "CharNgramLanguageIdentifier":
        """Build one profile per language from ``{lang: sentences}``."""
        counts: dict[str, Counter] = {}
        for lang, lines in sentences.items():
            total: Counter = Counter()
            for line in lines:
                total.update(char_ngrams(line, orders))
            if not total:
                raise ValueError(f"no text for language '{lang}'")
            counts[lang] = Counter(dict(total.most_common(max_ngrams)))
        vocabulary = set().union(*counts.values())
        log_probs, unseen = {}, {}
        for lang, table in counts.items():
            denominator = sum(table.values()) + alpha * len(vocabulary)
            log_probs[lang] = {g: math.log((c + alpha) / denominator) for g, c in table.items()}
            unseen[lang] = math.log(alpha / denominator)
        return cls(log_probs, unseen, orders)

    def scores(self, sentence: str) -> dict[str, float]:
        """Log-likelihood of ``sentence`` under each language's profile."""
        grams = char_ngrams(sentence, self.orders)
        return {lang: sum(c * table.get(g, self.unseen_log_prob[lang]) for g, c in grams.items())
                for lang, table in self.log_probs.items()}

    def predict(self, sentence: str) -> str:
        """The most likely language of ``sentence`` (ties broken by language code)."""
        scores = self.scores(sentence)
        return max(sorted(scores), key=scores.__getitem__)

    def off_target_rate(self, hypotheses: Sequence[str], target_lang: str) -> float:
        """Share of ``hypotheses`` identified as another language than ``target_lang``."""
        if target_lang not in self.log_probs:
            raise ValueError(f"language '{target_lang}' has no profile (known: {', '.join(self.languages)})")
        if not hypotheses:
            return 0.0
        return sum(self.predict(h) != target_lang for h in hypotheses) / len(hypotheses)

    def to_dict(self) -> dict:
        return {"orders": list(self.orders), "log_probs": self.log_probs, "unseen_log_prob": self.unseen_log_prob}

    def save(self, path: str | Path) -> Path:
        from mvadl.io import atomic_write_text

        path = Path(path)
        atomic_write_text(path, json.dumps(self.to_dict(), ensure_ascii=False) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> "CharNgramLanguageIdentifier":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"language identifier profile not found: {path} "
                                    "(scripts/prepare_multi30k.sh writes it next to the binarized data)")
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(data["log_probs"], data["unseen_log_prob"], data["orders"])
