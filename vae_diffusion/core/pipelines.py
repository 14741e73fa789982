"""Local diffusers pipelines: loading one from a folder (never downloading), and the training record kept with it.

A pipeline folder is what ``save_pretrained`` wrote (``model_index.json`` + one subfolder per component).
Our trainers add ``training_record.json`` next to them: the training config and cost of the weights, so an
evaluation reads what it needs from the folder it is given, not from ``results/``.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mvadl.data import DataError
from mvadl.io import atomic_write_text
from mvadl.results import to_jsonable
from vae_diffusion.core.artifacts import SUMS_FILE, verify_artifact

logger = logging.getLogger(__name__)
TRAINING_RECORD = "training_record.json"


def load_local_pipeline(path: str | Path, device=None, *, classes: Mapping[str, type] | None = None,
                        hint: str = "", pinned: tuple[str, str] | None = None):
    """``from_pretrained(path, local_files_only=True)`` of the pipeline saved in ``path``.

    A shipped folder (one with ``SHA256SUMS``, :mod:`vae_diffusion.ship`) is verified first, and against
    ``pinned`` = ``(file, sha256)`` when the caller's default pins one (:func:`~vae_diffusion.core.artifacts.
    verify_artifact`); ``pinned`` without ``SHA256SUMS`` is a DataError too.

    The class is the one named in the folder's config (``DiffusionPipeline.load_config``): one of ``classes``
    (our own pipelines, which diffusers does not know by name) or a diffusers pipeline. A folder that is not a
    saved pipeline, or whose components do not load, is a :class:`~mvadl.data.DataError` naming it; ``hint``
    says where a pipeline comes from.
    """
    from diffusers import DiffusionPipeline
    from diffusers.utils import logging as diffusers_logging

    path = Path(path)
    hint = f"; {hint}" if hint else ""
    if not path.is_dir():
        raise DataError(f"{path}: pipeline folder not found{hint}")
    if pinned is not None or (path / SUMS_FILE).is_file():
        verify_artifact(path, pinned)
    try:
        config = DiffusionPipeline.load_config(str(path), local_files_only=True)
    except OSError:
        raise DataError(f"{path}: not a saved diffusers pipeline (no model_index.json){hint}") from None
    cls = (classes or {}).get(config.get("_class_name"), DiffusionPipeline)
    bar_was_enabled = diffusers_logging.is_progress_bar_enabled()
    diffusers_logging.disable_progress_bar()  # "Loading pipeline components..." would share stderr with errors
    try:
        pipeline = cls.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError) as error:
        raise DataError(f"{path}: the {config.get('_class_name')} does not load "
                        f"({str(error).strip().splitlines()[0]})") from None
    finally:
        if bar_was_enabled:
            diffusers_logging.enable_progress_bar()
    if hasattr(pipeline, "set_progress_bar_config"):
        pipeline.set_progress_bar_config(disable=True)
    return pipeline if device is None else pipeline.to(device)


def write_training_record(pipeline_dir: str | Path, record: Mapping[str, Any]) -> Path:
    """Save ``record`` (training config and cost) as ``<pipeline_dir>/training_record.json``."""
    return atomic_write_text(Path(pipeline_dir) / TRAINING_RECORD, json.dumps(to_jsonable(record), indent=2) + "\n")


def read_training_record(pipeline_dir: str | Path) -> dict | None:
    """The record :func:`write_training_record` saved with a pipeline; ``None`` (logged) for a pipeline trained
    elsewhere. A record that is not JSON is a :class:`~mvadl.data.DataError`."""
    path = Path(pipeline_dir) / TRAINING_RECORD
    if not path.is_file():
        logger.warning("%s: no %s (a pipeline trained elsewhere): training cost not recorded", pipeline_dir,
                       TRAINING_RECORD)
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise DataError(f"{path}: not JSON ({error})") from None
