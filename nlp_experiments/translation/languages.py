"""The languages, translation directions and model configurations of the Multi30k experiments."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

#: The languages of the reference runs, in the order given to fairseq (``--langs``): prepare's default. Every
#: later command reads the list stored with the data (``languages.txt`` of the data-bin and of a shipped model,
#: :mod:`~nlp_experiments.translation.artifacts`), since the language tokens' indices depend on it.
LANGS = ("en", "de", "fr")

#: The six directions between en, de and fr, in the order of the results tables.
DIRECTIONS = ("en-de", "de-en", "en-fr", "fr-en", "de-fr", "fr-de")

#: Model configuration -> the language pairs it is trained on (assignment section 3: ``zeroshot`` never sees
#: de<->fr, ``direct`` does; the bilingual baselines use the same architecture on one pair).
MODEL_PAIRS = {
    "zeroshot": ("en-de", "de-en", "en-fr", "fr-en"),
    "direct": DIRECTIONS,
    "bilingual_en_de": ("en-de", "de-en"),
    "bilingual_en_fr": ("en-fr", "fr-en"),
}

#: The annotation of options naming a model (the command line offers, and accepts, just these).
ModelName = Literal[tuple(MODEL_PAIRS)]

#: The directions between the non-English languages: the zero-shot ones, also translated through English.
PIVOT_LANG = "en"
PIVOT_DIRECTIONS = ("de-fr", "fr-de")
_PIVOT_SUFFIX = f"_pivot_{PIVOT_LANG}"

#: The training seed of the reference runs: a run with another seed S is named ``MODEL_seedS`` (its checkpoints,
#: logs, records and system outputs), so that it never overwrites the reference run.
REFERENCE_SEED = 1
_SEED_SUFFIX = "_seed"

#: The models ``evaluate`` scores when none are named (plus every ``bilingual_*`` with a checkpoint).
DEFAULT_MODELS = ("zeroshot", "direct")

#: The systems of the reference seed in words, as the report and the figures name them (the curves record
#: carries them, ``system_names``); a run of another seed is named after the system it repeats
#: (:func:`reference_system`).
SYSTEM_NAMES = {
    "zeroshot": "English-centric model",
    "direct": "model with de-fr data",
    "bilingual_en_de": "bilingual en↔de model",
    "bilingual_en_fr": "bilingual en↔fr model",
    "zeroshot_pivot_en": "pivot through English",
}


def run_name(model: str, seed: int) -> str:
    """The name of the run that trains ``model`` with ``seed``: the model's name for :data:`REFERENCE_SEED`,
    else ``MODEL_seedS`` (S in decimal, without leading zeros). Seeds are non-negative."""
    if seed < 0:
        raise ValueError(f"seed {seed}: seeds are non-negative")
    return model if seed == REFERENCE_SEED else f"{model}{_SEED_SUFFIX}{seed}"


def split_run_name(name: str) -> tuple[str, int]:
    """``(model, seed)`` of a run or system name, the exact inverse of :func:`run_name` (optionally +
    :func:`pivot_name`): ``zeroshot_seed2_pivot_en`` -> ``("zeroshot", 2)``, ``zeroshot`` -> ``("zeroshot", 1)``.

    A name :func:`run_name` never writes is a ``ValueError``: ``MODEL_seed1`` (the reference seed's run is
    ``MODEL``), ``MODEL_seed01`` (a leading zero), ``MODEL_seed-2`` (a negative seed), ``MODEL_seed``."""
    base = name.removesuffix(_PIVOT_SUFFIX)
    model, marker, seed = base.rpartition(_SEED_SUFFIX)
    if not marker:
        return base, REFERENCE_SEED
    if not model or not seed.isascii() or not seed.isdigit() or str(int(seed)) != seed or \
            int(seed) == REFERENCE_SEED:
        raise ValueError(f"{name}: not a run name (MODEL for seed {REFERENCE_SEED}, else MODEL{_SEED_SUFFIX}S with "
                         f"S >= 0 written without leading zeros)")
    return model, int(seed)


def run_of(system: str) -> str:
    """The training run behind a system: the run itself, or the run a pivot system translates with
    (``zeroshot_seed2_pivot_en`` -> ``zeroshot_seed2``)."""
    return run_name(*split_run_name(system))


def reference_system(system: str) -> str:
    """The system of the reference seed that ``system`` repeats (itself for the reference seed):
    ``zeroshot_seed2_pivot_en`` -> ``zeroshot_pivot_en``."""
    model, seed = split_run_name(system)
    return run_name(model, REFERENCE_SEED) + system.removeprefix(run_name(model, seed))


def evaluation_directions(model: str) -> tuple[str, ...]:
    """The directions a model (or a run of it, :func:`run_name`) is scored on: a bilingual model its own two,
    any other model all six."""
    model = split_run_name(model)[0]
    return MODEL_PAIRS[model] if model.startswith("bilingual_") and model in MODEL_PAIRS else DIRECTIONS


def models_to_evaluate(models: list[str], checkpoints: str | Path) -> list[str]:
    """``models``, or when none are given ``zeroshot``, ``direct`` and every bilingual model of the reference
    seed with a folder in ``checkpoints`` (the runs of other seeds, ``MODEL_seedS``, are not picked up)."""
    if models:
        return list(models)
    found = sorted(p.name for p in Path(checkpoints).glob("bilingual_*") if p.is_dir() and p.name in MODEL_PAIRS)
    return [*DEFAULT_MODELS, *found]


def pivot_name(model: str) -> str:
    """The name under which pivoting through English with ``model`` is scored."""
    return model + _PIVOT_SUFFIX


def model_label(name: str) -> str:
    """A model's name as figures show it: ``bilingual_en_de`` -> ``bilingual\nen-de``, ``zeroshot_pivot_en`` ->
    ``zeroshot\nvia en``, ``zeroshot_seed2`` -> ``zeroshot\nseed 2``."""
    seed = split_run_name(name)[1]
    if seed != REFERENCE_SEED:
        return f"{model_label(reference_system(name))}\nseed {seed}"
    if name.startswith("bilingual_"):
        return "bilingual\n" + name.removeprefix("bilingual_").replace("_", "-")
    if name.endswith(_PIVOT_SUFFIX):
        return f"{name.removesuffix(_PIVOT_SUFFIX)}\nvia {PIVOT_LANG}"
    return name
