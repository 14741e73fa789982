"""What the evaluations of a trained unconditional pipeline share (``evaluate``, ``scheduler_study``,
``scheduler_ablation``): their common options, loading the pipeline, the real digits they compare against,
and the training cost read from the pipeline folder.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch

from mvadl.data import DataError
from mvadl.runner import option
from mvadl.seeding import numpy_generator
from vae_diffusion.core.classifier import ClassifierOptions
from vae_diffusion.core.images import DataOptions, mnist_split, to_unit_range
from vae_diffusion.core.pipelines import load_local_pipeline
from vae_diffusion.diffusion.unet import DEFAULT_PIPELINE

logger = logging.getLogger(__name__)
#: A sample counts as legible when the classifier puts it in one class with at least this probability.
CONFIDENT = 0.9


@dataclass
class PipelineEvaluationOptions(ClassifierOptions, DataOptions):
    """The options every evaluation of a trained pipeline shares: seed, data, pipeline, classifier."""

    model: str = option(DEFAULT_PIPELINE, "local diffusers pipeline folder")


def load_unconditional_pipeline(path, device):
    """A local diffusers pipeline with an unconditional ``unet`` (``unet(x, t).sample``) and a ``scheduler``."""
    pipeline = load_local_pipeline(path, device, hint="train one with python -m vae_diffusion.diffusion.train")
    components = getattr(pipeline, "components", {})
    missing = [name for name in ("unet", "scheduler") if components.get(name) is None]
    if missing:
        raise DataError(f"{path}: the {type(pipeline).__name__} has no {' or '.join(missing)} "
                        f"(components: {', '.join(sorted(components))})")
    if getattr(pipeline.unet.config, "cross_attention_dim", None) is not None:
        raise DataError(f"{path}: the {type(pipeline).__name__}'s UNet is text-conditioned; "
                        "these evaluations take an unconditional pipeline")
    return pipeline


def real_digits(split: str, n: int, data_dir=None, *, seed: int = 0, check_count: bool = True) -> torch.Tensor:
    """n real digits ``[n, 1, 28, 28]`` in [0, 1]: the first n of the test split, or for the train split a
    random n drawn from the stream ``derive_seed(seed, "train_subset")`` (the real-vs-real floor)."""
    images, _ = mnist_split(split, data_dir, check_count=check_count)
    if split == "train":
        rng = numpy_generator(seed, "train_subset")
        images = images[np.sort(rng.choice(len(images), min(n, len(images)), replace=False))]
    return to_unit_range(images[:n])


def training_cost(record: dict | None) -> dict:
    """``training_seconds`` and ``training_images_seen`` from the training record saved with the pipeline
    (:func:`vae_diffusion.core.pipelines.read_training_record`); None for a pipeline trained elsewhere."""
    if record is None:
        return {"training_seconds": None, "training_images_seen": None}
    return {"training_seconds": record["training_time_s"], "training_images_seen": record["images_seen"]}
