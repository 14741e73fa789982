"""Shipped translation models: where they live, what they hold, and their check before use.

A shipped model is a folder ``artifacts/nmt_MODEL/vN/`` (written by :mod:`~nlp_experiments.translation.ship`,
never overwritten) with ``model.pt``, the shared dictionary (``dict.txt`` and its ``dict.LANG.txt`` links),
``spm.model``, ``langid.json``, ``languages.txt`` (the model's languages in fairseq's order), ``training.json``,
``ship.json`` and ``SHA256SUMS`` over every other file. :func:`verify_shipped` checks a folder against its
``SHA256SUMS`` before anything loads it, and a folder of :data:`SHIPPED_MODELS` (the shipped models, one entry
each: version, update count, the pinned sha256 of ``model.pt``) also against its pin (:func:`pinned_sha256`).
Shipping another model is one entry there: ``translate`` then verifies it against its pin, and ``make verify``
re-computes its BLEU (:mod:`mvadl.verify.shipped`).

The two folders shipped before ``SHA256SUMS`` covered ``ship.json`` and before the language list was stored
(``nmt_direct/v1`` and ``v2``) are recognised by the sha256 of their ``SHA256SUMS`` (:data:`LEGACY_SUMS`): for
them ``ship.json`` may be unlisted, and their languages are :data:`LEGACY_LANGUAGES`, the list their
training used.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mvadl import REPO_ROOT
from mvadl.data import DataError

ARTIFACTS_DIR = REPO_ROOT / "artifacts"
WEIGHTS = "model.pt"
SUMS_FILE = "SHA256SUMS"
#: The language list of a shipped folder and of a prepared data-bin: one language a line, in fairseq's
#: ``--langs`` order (the language tokens' indices in the dictionary depend on it).
LANGUAGES_FILE = "languages.txt"
#: The sha256 of the ``SHA256SUMS`` of the folders shipped before it listed ``ship.json`` and before
#: ``languages.txt``: nmt_direct/v1 and nmt_direct/v2.
LEGACY_SUMS = frozenset({
    "72449f3bd8472c360bb7e907505a344624def82f7f48d77133dd9f0834fc61f3",  # nmt_direct/v1
    "5fed8f325a55058c4fee8140cc798748f2d3db57d04e058db6e9fb74b34d46b7",  # nmt_direct/v2
})
#: The languages of the legacy folders (what ``--langs`` was when they were trained).
LEGACY_LANGUAGES = ("en", "de", "fr")


@dataclass(frozen=True)
class ShippedModel:
    """A shipped translation model: its version folder (``artifacts/nmt_MODEL/VERSION``), the update count of the
    averaged checkpoint it was shipped from (the curves record's key, ``scores.MODEL.UPDATES``), and the sha256 of
    its ``model.pt``, checked before use."""

    version: str
    updates: int
    sha256: str


#: The shipped translation models, by run name (the curves record's system): adding one is this one entry.
SHIPPED_MODELS: dict[str, ShippedModel] = {
    "direct": ShippedModel("v3", 6400, "5ac3985eb6528ff5abfb4b3255eab168b299d0b6418c7d1bb0ed2b753855f813"),
    "zeroshot": ShippedModel("v1", 6400, "0be5bc587cc33fb2b6fca20046a1658e30c426f30cac5c431e1061a4bd6b4a74"),
    "bilingual_en_de": ShippedModel("v1", 6400, "6f259011495b9da9db1ec604181e0308265f52322ac29c5a45e9c0c6034d8519"),
    "bilingual_en_fr": ShippedModel("v1", 6400, "f642f3dc946d71bf6116e4d5cc716911e1fc9e4a6075ed7d499029350a505b31"),
}


def shipped_dir(model: str, version: str, root: Path = ARTIFACTS_DIR) -> Path:
    return Path(root) / f"nmt_{model}" / version


def pinned_sha256(folder: str | Path, models: Mapping[str, ShippedModel] | None = None,
                  root: Path | None = None) -> str | None:
    """The pinned sha256 of ``model.pt`` when ``folder`` is the folder of one of ``models`` (default
    :data:`SHIPPED_MODELS`, under ``root``, default :data:`ARTIFACTS_DIR`; paths compared resolved), else None."""
    models = SHIPPED_MODELS if models is None else models
    folder = Path(folder).resolve()
    for model, shipped in models.items():
        if shipped_dir(model, shipped.version, ARTIFACTS_DIR if root is None else root).resolve() == folder:
            return shipped.sha256
    return None


def _sha256(path: Path) -> str:
    from vae_diffusion.core.artifacts import sha256_file

    return sha256_file(path)


def is_legacy(folder: Path) -> bool:
    """Whether ``folder`` is one of the folders shipped before ``ship.json`` and the languages were covered."""
    sums = Path(folder) / SUMS_FILE
    return sums.is_file() and _sha256(sums) in LEGACY_SUMS


def verify_shipped(folder: str | Path, pinned_weights: str | None = None) -> Path:
    """Check a shipped folder before use; returns it. Every file ``SHA256SUMS`` lists must be there with its
    digest; every other regular file must be listed (``dict.LANG.txt`` links to a listed file excepted, and
    ``ship.json`` in a legacy folder); ``pinned_weights``, when given (a shipped model's pin), must be the
    listed and actual sha256 of ``model.pt``. Anything else is a :class:`DataError` naming the file."""
    folder = Path(folder)
    sums_path = folder / SUMS_FILE
    if not sums_path.is_file():
        raise DataError(f"{sums_path}: missing (a shipped model lists its files' sha256 there; "
                        f"python -m nlp_experiments.translation.ship writes it)")
    try:
        listed = dict(reversed(line.split("  ", 1)) for line in
                      sums_path.read_text(encoding="utf-8").splitlines() if line.strip())
    except ValueError:
        raise DataError(f"{sums_path}: not in sha256sum format") from None
    for name, digest in sorted(listed.items()):
        path = folder / name
        if not path.is_file():
            raise DataError(f"{path}: listed in {SUMS_FILE} but missing")
        if _sha256(path) != digest:
            raise DataError(f"{path}: sha256 differs from {SUMS_FILE} (the file was changed or is incomplete)")
    allowed = {"ship.json"} if is_legacy(folder) else set()
    for path in sorted(folder.iterdir()):
        if path.name == SUMS_FILE or path.name in listed or path.name in allowed:
            continue
        if path.is_symlink() and path.resolve().parent == folder.resolve() and path.resolve().name in listed:
            continue
        raise DataError(f"{path}: not listed in {sums_path}")
    if WEIGHTS not in listed:
        raise DataError(f"{sums_path}: does not list {WEIGHTS}")
    if pinned_weights is not None and listed[WEIGHTS] != pinned_weights:
        raise DataError(f"{folder / WEIGHTS}: sha256 {listed[WEIGHTS]} is not the pinned {pinned_weights} (the "
                        f"shipped model was replaced; the pins are SHIPPED_MODELS in {__name__})")
    return folder


def read_languages(folder: str | Path) -> tuple[str, ...]:
    """The languages stored with a prepared data-bin or a shipped model (:data:`LANGUAGES_FILE`), in fairseq's
    order; a legacy shipped folder's are :data:`LEGACY_LANGUAGES`. A folder without them is a
    :class:`DataError`."""
    path = Path(folder) / LANGUAGES_FILE
    if path.is_file():
        languages = tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
        if not languages or len(set(languages)) != len(languages):
            raise DataError(f"{path}: expected distinct languages, one a line, got {list(languages)}")
        return languages
    if is_legacy(folder):
        return LEGACY_LANGUAGES
    raise DataError(f"{path}: missing (the languages of the model, one a line; prepare writes it with the "
                    f"data-bin, ship with the model)")


def write_languages(folder: str | Path, languages: tuple[str, ...] | list[str]) -> None:
    from mvadl.io import atomic_write_text

    atomic_write_text(Path(folder) / LANGUAGES_FILE, "".join(f"{lang}\n" for lang in languages))
