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

#: The models ``evaluate`` scores when none are named (plus every ``bilingual_*`` with a checkpoint).
DEFAULT_MODELS = ("zeroshot", "direct")


def evaluation_directions(model: str) -> tuple[str, ...]:
    """The directions a model is scored on: a bilingual model its own two, any other model all six."""
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
    ``zeroshot\nvia en``."""
    if name.startswith("bilingual_"):
        return "bilingual\n" + name.removeprefix("bilingual_").replace("_", "-")
    if name.endswith(_PIVOT_SUFFIX):
        return f"{name.removesuffix(_PIVOT_SUFFIX)}\nvia {PIVOT_LANG}"
    return name
