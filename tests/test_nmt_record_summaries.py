"""What the translation records summarize themselves, so that the report only looks it up: whether the curves
still rise and the best zero-shot BLEU (curves.json), the spread between training seeds and where another
seed's verdicts differ from the reference seed's (comparisons.json). Tiny records, built by hand."""
from __future__ import annotations

import pytest

from mvadl.verdicts import Comparison
from nlp_experiments.translation.comparisons import other_seeds, seed_spread
from nlp_experiments.translation.curves import still_rising, zero_shot_best
from nlp_experiments.translation.languages import MODEL_PAIRS, SYSTEM_NAMES, reference_system


def _scores(bleu_by_updates: dict[int, float], directions) -> dict:
    return {str(u): {"test": {d: {"bleu": bleu} for d in directions}} for u, bleu in bleu_by_updates.items()}


def test_still_rising_counts_the_trained_directions_of_the_reference_runs_between_their_last_shared_points():
    scores = {
        "zeroshot": _scores({1600: 1.0, 3200: 2.0, 6400: 3.0}, MODEL_PAIRS["zeroshot"]),
        "direct": _scores({1600: 1.0, 3200: 2.0, 6400: 3.0}, MODEL_PAIRS["direct"]),
        # 2400 is not shared and 12800 not reached by every run: 3200 -> 6400 is what counts
        "bilingual_en_de": _scores({1600: 1.0, 2400: 9.0, 3200: 2.0, 6400: 3.0, 12800: 0.0}, ("en-de", "de-en")),
        # neither a pivot system (not a run) nor another seed's run counts, even where it falls
        "zeroshot_pivot_en": _scores({1600: 9.0, 3200: 9.0, 6400: 0.0}, ("de-fr", "fr-de")),
        "zeroshot_seed2": _scores({3200: 9.0, 6400: 0.0}, MODEL_PAIRS["zeroshot"]),
    }
    assert still_rising(scores) == {"seed": 1, "from": 3200, "to": 6400, "rose": 12, "of": 12}
    scores["direct"]["6400"]["test"]["de-fr"]["bleu"] = 2.0  # level is not higher
    scores["zeroshot"]["6400"]["test"]["en-fr"]["bleu"] = 1.0
    assert still_rising(scores) == {"seed": 1, "from": 3200, "to": 6400, "rose": 10, "of": 12}
    # the zero-shot directions a run is scored on but not trained on are not counted
    scores["zeroshot"]["6400"]["test"]["de-fr"] = {"bleu": 0.0}
    assert still_rising(scores)["of"] == 12
    assert still_rising(scores, seed=2) == {"seed": 2, "from": 3200, "to": 6400, "rose": 0, "of": 4}


def test_still_rising_needs_two_shared_points():
    scores = {"direct": _scores({1600: 1.0}, MODEL_PAIRS["direct"]),
              "zeroshot": _scores({1600: 1.0, 3200: 2.0}, MODEL_PAIRS["zeroshot"])}
    assert still_rising(scores) == {"seed": 1, "from": None, "to": None, "rose": 0, "of": 0}
    assert still_rising({}) == {"seed": 1, "from": None, "to": None, "rose": 0, "of": 0}


def test_zero_shot_best_is_the_highest_bleu_of_every_run_of_the_model_on_its_untrained_directions():
    scores = {
        "zeroshot": _scores({1600: 0.2, 3200: 0.5}, ("en-de", "de-fr", "fr-de")),
        "zeroshot_seed2": _scores({3200: 0.7}, ("de-fr",)) | {"6400": {"test": {"fr-de": {"bleu": 0.1}}}},
        "zeroshot_pivot_en": _scores({3200: 30.0}, ("de-fr", "fr-de")),  # through English: not zero-shot
        "direct": _scores({3200: 20.0}, ("de-fr", "fr-de")),  # trained on de-fr
        "bilingual_en_de": _scores({3200: 25.0}, ("en-de", "de-en")),
    }
    scores["zeroshot"]["3200"]["test"]["en-de"]["bleu"] = 25.0  # a trained direction
    assert zero_shot_best(scores) == {"zeroshot": {"runs": ["zeroshot", "zeroshot_seed2"],
                                                   "directions": ["de-fr", "fr-de"],
                                                   "best_bleu": {"de-fr": 0.7, "fr-de": 0.5}}}
    assert zero_shot_best({"direct": scores["direct"]}) == {}


def _test(difference: float, low: float, high: float, p: float, p_holm: float | None = None) -> dict:
    return Comparison(a=10.0 + difference, b=10.0, difference=difference, low=low, high=high, p_value=p,
                      test="paired bootstrap", n=100, p_holm=p_holm).as_dict()


def _compared(kind: str, direction: str, a: tuple[str, int], b: tuple[str, int], seed: int, bleu: dict) -> dict:
    def side(system: str, updates: int) -> dict:
        run = system.removesuffix("_pivot_en")
        return {"system": system, "updates": updates, "run": run}

    return {"kind": kind, "direction": direction, "seed": seed, "a": side(*a), "b": side(*b), "bleu": bleu,
            "chrf": bleu}


LEVEL, LOWER, HIGHER = _test(0.3, -0.5, 1.1, 0.4), _test(-2.0, -3.0, -1.0, 0.001), _test(2.0, 1.0, 3.0, 0.001)


def test_seed_spread_counts_the_seed_comparisons_and_their_largest_difference():
    compared = [_compared("seeds", "en-de", ("zeroshot_seed2", 3200), ("zeroshot", 3200), 2, LEVEL),
                _compared("seeds", "de-en", ("zeroshot_seed2", 3200), ("zeroshot", 3200), 2, LOWER),
                # significant by its raw p only: the Holm-adjusted p decides
                _compared("seeds", "de-fr", ("zeroshot_seed2_pivot_en", 3200), ("zeroshot_pivot_en", 3200), 2,
                          _test(1.5, 0.5, 2.5, 0.01, p_holm=0.2)),
                _compared("multilingual_vs_bilingual", "en-de", ("zeroshot", 3200), ("bilingual_en_de", 3200), 1,
                          _test(-9.0, -10.0, -8.0, 0.001))]
    assert seed_spread(compared) == {"comparisons": 3, "significant": 1, "largest_difference": 2.0}
    assert seed_spread(compared[3:]) == {"comparisons": 0, "significant": 0, "largest_difference": None}


def test_other_seeds_lists_the_repeated_runs_and_where_their_verdicts_differ():
    vs_bilingual = "multilingual_vs_bilingual"
    compared = [
        _compared(vs_bilingual, "en-de", ("zeroshot", 3200), ("bilingual_en_de", 3200), 1, LOWER),
        _compared(vs_bilingual, "de-en", ("zeroshot", 3200), ("bilingual_en_de", 3200), 1, LEVEL),
        _compared(vs_bilingual, "en-de", ("zeroshot", 6400), ("bilingual_en_de", 6400), 1, LOWER),
        _compared(vs_bilingual, "en-de", ("direct", 6400), ("bilingual_en_de", 6400), 1, HIGHER),
        _compared(vs_bilingual, "en-de", ("zeroshot_seed2", 3200), ("bilingual_en_de_seed2", 3200), 2, LOWER),
        _compared(vs_bilingual, "de-en", ("zeroshot_seed2", 3200), ("bilingual_en_de_seed2", 3200), 2, HIGHER),
        _compared(vs_bilingual, "en-de", ("zeroshot_seed2", 6400), ("bilingual_en_de_seed2", 6400), 2, LOWER),
        _compared("equal_compute", "en-de", ("zeroshot_seed2", 6400), ("bilingual_en_de_seed2", 3200), 2, LEVEL),
        _compared("seeds", "en-de", ("zeroshot_seed2", 3200), ("zeroshot", 3200), 2, LEVEL),
        _compared("seeds", "en-de", ("zeroshot_seed2", 6400), ("zeroshot", 6400), 2, LEVEL),
        _compared("seeds", "de-fr", ("zeroshot_seed2_pivot_en", 6400), ("zeroshot_pivot_en", 6400), 2, LEVEL),
        _compared("seeds", "en-de", ("bilingual_en_de_seed2", 6400), ("bilingual_en_de", 6400), 2, LEVEL),
    ]
    [repeat] = other_seeds(compared)
    assert {k: repeat[k] for k in ("seed", "reference_seed", "runs", "models", "systems", "points")} == {
        "seed": 2, "reference_seed": 1, "runs": ["bilingual_en_de_seed2", "zeroshot_seed2"],
        "models": ["bilingual_en_de", "zeroshot"],
        "systems": {"zeroshot_seed2": "zeroshot", "zeroshot_seed2_pivot_en": "zeroshot_pivot_en",
                    "bilingual_en_de_seed2": "bilingual_en_de"},
        "points": [3200, 6400]}
    assert repeat["verdicts"][vs_bilingual] == {
        "last": 6400, "agree_at_last": True,
        "differ": [{"direction": "de-en", "updates": 3200, "system": "zeroshot", "reference": LEVEL,
                    "repeat": HIGHER}]}
    # a kind the reference seed did not run at that point has nothing to differ from
    assert repeat["verdicts"]["equal_compute"] == {"last": 3200, "differ": [], "agree_at_last": True}

    compared[6]["bleu"] = HIGHER  # seed 2 now differs at the last point too
    assert other_seeds(compared)[0]["verdicts"][vs_bilingual]["agree_at_last"] is False
    assert other_seeds([c for c in compared if c["seed"] == 1]) == []


@pytest.mark.parametrize("system, reference", [("zeroshot_seed2", "zeroshot"), ("zeroshot", "zeroshot"),
                                               ("zeroshot_seed2_pivot_en", "zeroshot_pivot_en"),
                                               ("bilingual_en_de_seed12", "bilingual_en_de")])
def test_reference_system_names_the_system_a_run_repeats(system, reference):
    assert reference_system(system) == reference


def test_every_reference_system_has_a_name_in_words():
    assert set(SYSTEM_NAMES) == {*MODEL_PAIRS, "zeroshot_pivot_en"}
    assert len(set(SYSTEM_NAMES.values())) == len(SYSTEM_NAMES)
