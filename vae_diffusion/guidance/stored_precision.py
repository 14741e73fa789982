"""Can the text-to-digit model ship in fp16? Its prompt following with fp32 and with fp16-rounded weights.

    python -m vae_diffusion.guidance.stored_precision --model checkpoints/text_to_digit/pipeline   # 2 CPU cores: ~5 min
    python -m vae_diffusion.guidance.stored_precision --model /tmp/t2d/pipeline --quick            # smoke test

The pipeline is scored twice on the same images (image i from ``derive_seed(seed, "image", i)``, the seeds of
the negative-prompt study) with prompts that name a digit and a stroke colour ("a green seven"): once with its
fp32 weights, once with every weight rounded to fp16 (what a ``save_pretrained`` in fp16 stores; sampling runs in
fp32 both times). The measures are the Q19 prompt-following shares: the digit the MNIST classifier reads is the
one named, and the strokes have the colour named. Each share has its Wilson interval, and fp16 against fp32 is an
exact McNemar test on the same images (:func:`mvadl.verdicts.mcnemar_exact`).

The margin: fp16 is chosen when, for both measures, the McNemar test finds no significant difference and the
fp16 share lies inside the 95 % Wilson interval of the fp32 share (its own sampling noise). The record's
``chosen_dtype`` is what ``python -m vae_diffusion.ship --model text_to_digit --dtype`` is given. Writes
results/guidance/stored_precision.json.
"""
from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from mvadl.runner import Context, main, option
from mvadl.verdicts import mcnemar_exact
from vae_diffusion.core.artifacts import sha256_file
from vae_diffusion.core.classifier import ClassifierOptions, load_classifier
from vae_diffusion.core.precision import round_to_fp16
from vae_diffusion.guidance.evaluation import colour_prompt_following, experiment_seeds, load_guided_pipeline
from vae_diffusion.guidance.model import DEFAULT_RUN_DIR

logger = logging.getLogger(__name__)
#: The prompt-following outcomes compared (per image) between the two precisions.
MEASURES = ("digit_read", "colour_obeyed")


@dataclass
class StoredPrecisionConfig(ClassifierOptions):
    """Score the text-to-digit pipeline with fp32 and fp16-rounded weights on the same images."""

    model: str = option(str(Path(DEFAULT_RUN_DIR) / "pipeline"), "the trained TextToDigitPipeline folder to check")
    samples: int = option(200, "images per precision ('a <colour> <digit>' prompts)")
    guidance_scale: float = option(5.0, "classifier-free guidance scale (that of the negative-prompt study)")
    num_inference_steps: int = option(25, "sampler steps (those of the negative-prompt study)")
    QUICK: ClassVar[dict] = {"samples": 10, "num_inference_steps": 2}


def fp16_within_noise(fp32: dict, fp16: dict, comparison: dict) -> bool:
    """The margin of the module docstring for one measure: McNemar finds no significant difference and the fp16
    share lies in the fp32 share's Wilson interval (``fp32``/``fp16``: :func:`~vae_diffusion.guidance.
    evaluation.share` dicts; ``comparison``: ``Comparison.as_dict()``)."""
    return comparison["verdict"] == "level" and fp32["low"] <= fp16["share"] <= fp32["high"]


def compare_precisions(fp32: dict, fp16: dict) -> dict:
    """Per measure: both shares, the McNemar comparison of fp16 against fp32 on the same images, the images whose
    outcome differs, and whether fp16 stays within the margin; and the dtype chosen."""
    measures = {}
    for key in MEASURES:
        a, b = fp32["per_image"][key], fp16["per_image"][key]
        comparison = mcnemar_exact(b, a).as_dict()
        measures[key] = {"fp32": fp32["shares"][key], "fp16": fp16["shares"][key], "fp16_vs_fp32": comparison,
                         "images_differing": int(np.sum(np.array(a) != np.array(b))),
                         "within_noise": fp16_within_noise(fp32["shares"][key], fp16["shares"][key], comparison)}
    chosen = "fp16" if all(m["within_noise"] for m in measures.values()) else "fp32"
    return {"measures": measures, "chosen_dtype": chosen}


def run(config: StoredPrecisionConfig, ctx: Context) -> Path:
    classifier = load_classifier(config.classifier, ctx.device)
    seeds = experiment_seeds(config.seed, config.samples)
    scores = {}
    for dtype in ("fp32", "fp16"):
        pipe = load_guided_pipeline(config.model, ctx.device)
        if dtype == "fp16":
            round_to_fp16(pipe.unet), round_to_fp16(pipe.text_encoder)
        scores[dtype] = colour_prompt_following(pipe, classifier, seeds, config.guidance_scale,
                                                config.num_inference_steps)
        logger.info("%s weights: digit read %d/%d, colour obeyed %d/%d", dtype,
                    scores[dtype]["shares"]["digit_read"]["k"], config.samples,
                    scores[dtype]["shares"]["colour_obeyed"]["k"], config.samples)
    result = compare_precisions(scores["fp32"], scores["fp16"])
    logger.info("stored precision chosen: %s", result["chosen_dtype"])
    return ctx.record("guidance", "stored_precision",
                      {**result, "n_samples": config.samples, "image_seeds": seeds,
                       "per_image": {dtype: s["per_image"] for dtype, s in scores.items()},
                       "classifier_sha256": sha256_file(config.classifier)},
                      config=config.as_dict())


if __name__ == "__main__":
    sys.exit(main(run, StoredPrecisionConfig, prog="python -m vae_diffusion.guidance.stored_precision",
                  doc=__doc__))
