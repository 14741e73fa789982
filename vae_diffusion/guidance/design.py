"""Measured design choices of the text-to-digit model: training speed and prompt following per training minute.

    python -m vae_diffusion.guidance.design              # 2 CPU cores: ~35 min
    python -m vae_diffusion.guidance.design --quick      # smoke test

Every variant (:data:`VARIANTS`) sets the options under study (resolution, where the caption enters the UNet,
loss weighting, learning rate) and keeps every other option of ``TrainConfig``; all are trained from the same
seed for ``--steps`` optimizer steps of ``--batch-size`` images (the learning-rate schedule scaled to that
length), then scored on the same images (image i from ``derive_seed(seed, "image", i)``, the seeds of the
negative-prompt study) on prompts they must follow: "a <digit>" (the share whose digit the MNIST classifier
reads, and the images showing no digit) and "a <colour> <digit>" (the share whose strokes have the colour
named). Recorded per variant: images/s of training, training minutes, and each score (with its Wilson interval,
``shares``), also per training minute; and the image seeds. Writes results/guidance/design.json.
"""
from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from mvadl.runner import Context, main, option
from vae_diffusion.core.classifier import ClassifierOptions, load_classifier
from vae_diffusion.core.images import DataOptions
from vae_diffusion.guidance.evaluation import experiment_seeds, follows_prompts, load_guided_pipeline
from vae_diffusion.guidance.training import TrainConfig, train

logger = logging.getLogger(__name__)

#: The options each variant sets (every variant sets all of them, so later changes of TrainConfig's defaults do
#: not change what a variant means).
STUDIED = ("resolution", "widths", "attention_levels", "pooled_text", "snr_gamma", "learning_rate")
_BASE = dict(widths=[32, 64, 96], snr_gamma=None, learning_rate=1e-3)
_FAST = dict(_BASE, resolution=28, attention_levels=1, pooled_text=True)
VARIANTS: dict[str, dict] = {
    "32 px, cross-attention at 16+8 px": dict(_BASE, resolution=32, attention_levels=2, pooled_text=False),
    "32 px, + pooled text": dict(_BASE, resolution=32, attention_levels=2, pooled_text=True),
    "28 px, + pooled text": dict(_BASE, resolution=28, attention_levels=2, pooled_text=True),
    "28 px, pooled text, attention at 7 px only": _FAST,
    "... + min-SNR 5": dict(_FAST, snr_gamma=5.0),
    "... + lr 2e-3": dict(_FAST, learning_rate=2e-3),
    "... + widths 64/128/128": dict(_FAST, widths=[64, 128, 128]),
}


@dataclass
class DesignConfig(ClassifierOptions, DataOptions):
    """The design study (the reference run's settings)."""

    variants: list[str] = option(list(VARIANTS), "variants to train, by name (see VARIANTS)")
    steps: int = option(250, "optimizer steps per variant")
    batch_size: int = option(64, "images per optimizer step")
    warmup_steps: int = option(50, "linear learning-rate warm-up steps")
    samples: int = option(100, "seeds per check ('a <digit>' and 'a <colour> <digit>')")
    guidance_scale: float = option(5.0, "classifier-free guidance scale of the checks")
    num_inference_steps: int = option(20, "DDIM steps of the checks")
    output_dir: str = option("runs/guidance_design", "receives one training folder per variant")
    QUICK: ClassVar[dict] = {"steps": 2, "batch_size": 8, "warmup_steps": 0, "samples": 10,
                             "num_inference_steps": 2, "output_dir": "runs/quick/guidance_design"}


def variant_config(name: str, config: DesignConfig, **overrides) -> TrainConfig:
    """``TrainConfig`` of variant ``name``: its studied options, one epoch of ``config.steps`` steps."""
    if name not in VARIANTS:
        raise ValueError(f"unknown variant {name!r}; known: {', '.join(VARIANTS)}")
    slug = "".join(c if c.isalnum() else "_" for c in name).strip("_")
    return TrainConfig(seed=config.seed, data_dir=config.data_dir, output_dir=str(Path(config.output_dir) / slug),
                       epochs=1, steps_per_epoch=config.steps, batch_size=config.batch_size,
                       warmup_steps=config.warmup_steps, **VARIANTS[name], **overrides)


def run(config: DesignConfig, ctx: Context) -> Path:
    classifier = load_classifier(config.classifier, ctx.device)
    seeds = experiment_seeds(config.seed, config.samples)
    if config.quick:  # the same code path at toy size
        toy = {k: v for k, v in TrainConfig.QUICK.items() if k not in ("epochs", "steps_per_epoch", "batch_size",
                                                                      "warmup_steps", "widths", "output_dir")}
    else:
        toy = {}
    variants = []
    for name in config.variants:
        trained = train(variant_config(name, config, **toy), ctx.device, ctx.revision)
        minutes = trained.metrics["training_time_s"] / 60
        pipe = load_guided_pipeline(trained.pipeline_dir, ctx.device)
        scores = follows_prompts(pipe, classifier, seeds, config.guidance_scale, config.num_inference_steps)
        logger.info("%s: %.1f images/s, %.1f min; digit read %.0f%%, colour obeyed %.0f%%, no digit %d/%d", name,
                    trained.metrics["images_per_s"], minutes, 100 * scores["digit_rate"],
                    100 * scores["colour_obeyed_rate"], scores["no_digit_count"], scores["n_samples"])
        variants.append({"name": name, "options": {k: trained.config[k] for k in STUDIED},
                         "parameters": trained.metrics["parameters"], "images_per_s": trained.metrics["images_per_s"],
                         "training_minutes": minutes, "final_loss": trained.metrics["final_epoch_loss"], **scores,
                         "digit_rate_per_minute": scores["digit_rate"] / minutes,
                         "colour_obeyed_rate_per_minute": scores["colour_obeyed_rate"] / minutes})
    return ctx.record("guidance", "design", {"variants": variants, "image_seeds": seeds}, config=config.as_dict())


if __name__ == "__main__":
    sys.exit(main(run, DesignConfig, prog="python -m vae_diffusion.guidance.design", doc=__doc__))
