"""The languages, translation directions and model configurations of the Multi30k experiments."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

#: The languages in the order given to fairseq (``--langs``): language-token indices depend on it, so training
#: and generation must use the same order.
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

#: The annotations of options naming a language or a model (the command line offers, and accepts, just these).
Lang = Literal[LANGS]
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


def run_name(model: str, seed: int) -> str:
    """The name of the run that trains ``model`` with ``seed``: the model's name for :data:`REFERENCE_SEED`,
    else ``MODEL_seedS``."""
    return model if seed == REFERENCE_SEED else f"{model}{_SEED_SUFFIX}{seed}"


def split_run_name(name: str) -> tuple[str, int]:
    """``(model, seed)`` of a run or system name (:func:`run_name`, optionally + :func:`pivot_name`):
    ``zeroshot_seed2_pivot_en`` -> ``("zeroshot", 2)``."""
    base = name.removesuffix(_PIVOT_SUFFIX)
    model, marker, seed = base.rpartition(_SEED_SUFFIX)
    if marker and seed.isdigit() and model in MODEL_PAIRS:
        return model, int(seed)
    return base, REFERENCE_SEED


def evaluation_directions(model: str) -> tuple[str, ...]:
    """The directions a model (or a run of it, :func:`run_name`) is scored on: a bilingual model its own two,
    any other model all six."""
    model = split_run_name(model)[0]
    return MODEL_PAIRS[model] if model.startswith("bilingual_") and model in MODEL_PAIRS else DIRECTIONS


def models_to_evaluate(models: str | None, checkpoints: str | Path) -> list[str]:
    """The comma-separated ``models``, or by default ``zeroshot,direct`` and every ``bilingual_*`` folder
    found in ``checkpoints``."""
    if models:
        return [m for m in models.split(",") if m]
    found = sorted(p.name for p in Path(checkpoints).glob("bilingual_*") if p.is_dir())
    return [*DEFAULT_MODELS, *found]


def pivot_name(model: str) -> str:
    """The name under which pivoting through English with ``model`` is scored."""
    return model + _PIVOT_SUFFIX


def model_label(name: str) -> str:
    """A model's name as figures show it: ``bilingual_en_de`` -> ``bilingual\nen-de``, ``zeroshot_pivot_en`` ->
    ``zeroshot\nvia en``, ``zeroshot_seed2`` -> ``zeroshot\nseed 2``."""
    model, seed = split_run_name(name)
    if seed != REFERENCE_SEED:
        return f"{model_label(run_name(model, REFERENCE_SEED) + name.removeprefix(run_name(model, seed)))}\nseed {seed}"
    if name.startswith("bilingual_"):
        return "bilingual\n" + name.removeprefix("bilingual_").replace("_", "-")
    if name.endswith(_PIVOT_SUFFIX):
        return f"{name.removesuffix(_PIVOT_SUFFIX)}\nvia {PIVOT_LANG}"
    return name
