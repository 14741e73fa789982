"""Can the Q18 DDPM ship in fp16? Its samples' FID with fp32 and with fp16-rounded weights, against FID's own noise.

    python -m vae_diffusion.diffusion.stored_precision --model checkpoints/ddpm_mnist/pipeline   # 2 CPU cores: ~6 min
    python -m vae_diffusion.diffusion.stored_precision --model PATH --quick                      # smoke test

The pipeline samples n images (``--samples``) from one initial noise (``initial_noise(n, shape, seed)``) with one
deterministic solver at few steps (``--scheduler DDIM --steps 20``, built and run as one cell of the scheduler
study), twice: once with its fp32 weights, once with every weight rounded to fp16 (what ``python -m
vae_diffusion.ship --dtype fp16`` stores; sampling runs in fp32 both times), so image i of one set and image i of
the other differ by the weights alone. Each set gets the scheduler study's FID and KID against the first n MNIST
test digits (on the classifier's features); the pairs get their RMS pixel distance, and the share of confident
samples (classifier max probability >= ``evaluation.CONFIDENT``) an exact McNemar test of fp16 against fp32 on the
same images (:func:`mvadl.verdicts.mcnemar_exact`).

FID's own noise: the fp32 weights also sample ``--noise-seeds`` further initial noises (noise i from the seed
``derive_seed(seed, "noise", i)``, i = 1, 2, ...), and the spread of the fp32 FID over all its initial noises
(max - min) is the margin. fp16 is chosen when |FID(fp16) - FID(fp32)| at the same noise is no larger than that
spread and the McNemar test finds no significant difference. The record's ``chosen_dtype`` is what
``python -m vae_diffusion.ship --model ddpm --dtype`` is given.

Time: a forward pass of the Q18 UNet takes about 7 ms per image on 2 CPU cores (fp32, batch 100), so the defaults'
500 images x 20 steps x 5 sets (fp32 and fp16 at one noise, fp32 at 3 more) take about 6 minutes.
Writes results/diffusion/stored_precision.json.
"""
from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

import torch

from mvadl.runner import Context, main, option
from mvadl.seeding import derive_seed
from mvadl.verdicts import mcnemar_exact
from vae_diffusion.core.artifacts import sha256_file
from vae_diffusion.core.classifier import load_classifier, predict_in_batches
from vae_diffusion.core.images import to_mnist_range
from vae_diffusion.core.metrics import ClassifierFeatures, FeatureDistances, rms_distance
from vae_diffusion.core.precision import round_to_fp16
from vae_diffusion.diffusion.evaluation import (
    CONFIDENT,
    PipelineEvaluationOptions,
    load_unconditional_pipeline,
    real_digits,
)
from vae_diffusion.diffusion.sampling import SCHEDULERS, initial_noise, make_scheduler, sample_in_batches, unet_denoiser

logger = logging.getLogger(__name__)

#: The names --scheduler accepts: the deterministic solvers, whose image is a function of its initial noise and
#: the weights alone.
DeterministicScheduler = Literal[tuple(name for name, (_, _, stochastic) in SCHEDULERS.items() if not stochastic)]


@dataclass
class StoredPrecisionConfig(PipelineEvaluationOptions):
    """Sample the DDPM with fp32 and fp16-rounded weights from the same noise; the fp32 FID's spread over noises."""

    samples: int = option(500, "images per set (and test digits they are compared with)")
    scheduler: DeterministicScheduler = option("DDIM", "deterministic solver the images are sampled with")
    steps: int = option(20, "inference steps")
    noise_seeds: int = option(3, "further initial noises sampled with the fp32 weights (FID's own spread)")
    batch_size: int = option(100, "images sampled at once")
    QUICK: ClassVar[dict] = {"samples": 8, "steps": 2, "noise_seeds": 1}

    def __post_init__(self) -> None:
        if self.noise_seeds < 1:
            raise ValueError(f"--noise-seeds {self.noise_seeds}: the FID's spread needs at least 1 further noise")


def fp16_within_noise(fid_difference: float, fid_spread: float, confident_comparison: dict) -> bool:
    """The rule of the module docstring: ``|FID(fp16) - FID(fp32)| <= fid_spread`` (the fp32 FID's max - min over
    initial noises) and the McNemar test of the confident share (``Comparison.as_dict()``) finds no significant
    difference."""
    return abs(fid_difference) <= fid_spread and confident_comparison["verdict"] == "level"


def compare_precisions(fp32: dict, fp16: dict, noise_fids: list[float]) -> dict:
    """fp16 against fp32 and the dtype chosen. ``fp32``, ``fp16``: the scores of the two weight sets on the same
    initial noise (``{"fid", "kid", "kid_std", "confident": per-image bools}``); ``noise_fids``: the fp32 FID at
    each further initial noise."""
    fp32_fids = [fp32["fid"], *noise_fids]
    spread = max(fp32_fids) - min(fp32_fids)
    difference = fp16["fid"] - fp32["fid"]
    comparison = mcnemar_exact(fp16["confident"], fp32["confident"]).as_dict()
    within = fp16_within_noise(difference, spread, comparison)
    return {
        "fid": {"fp32": fp32["fid"], "fp16": fp16["fid"], "difference": difference,
                "fp32_per_noise": fp32_fids, "fp32_spread": spread, "within_spread": abs(difference) <= spread},
        "kid": {dtype: {"kid": s["kid"], "kid_std": s["kid_std"]} for dtype, s in (("fp32", fp32), ("fp16", fp16))},
        "confident": {"fp32": sum(fp32["confident"]), "fp16": sum(fp16["confident"]), "n": len(fp32["confident"]),
                      "fp16_vs_fp32": comparison,
                      "images_differing": sum(a != b for a, b in zip(fp32["confident"], fp16["confident"]))},
        "within_noise": within, "chosen_dtype": "fp16" if within else "fp32"}


def run(config: StoredPrecisionConfig, ctx: Context) -> Path:
    device = ctx.device
    pipeline = load_unconditional_pipeline(config.model, device)
    classifier = load_classifier(config.classifier, device)
    unet = pipeline.unet
    shape = (unet.config.in_channels, unet.config.sample_size, unet.config.sample_size)
    noise_seeds = [config.seed, *(derive_seed(config.seed, "noise", i) for i in range(1, config.noise_seeds + 1))]
    distances = FeatureDistances(ClassifierFeatures(classifier),
                                 real_digits("test", config.samples, config.data_dir, check_count=not config.quick))

    def scheduler():
        return make_scheduler(config.scheduler, pipeline.scheduler.config)

    def sample_and_score(noise_seed: int) -> tuple[torch.Tensor, dict]:
        result = sample_in_batches(unet_denoiser(unet, channels_last=True), scheduler,
                                   initial_noise(config.samples, shape, noise_seed), config.steps, seed=config.seed,
                                   device=device, batch_size=config.batch_size)
        images = to_mnist_range(result.images)
        confidence = predict_in_batches(classifier, images, device).softmax(1).max(1).values
        return result.images, {**distances(images, seed=config.seed),
                               "confident": (confidence >= CONFIDENT).tolist()}

    fp32_images, fp32 = sample_and_score(noise_seeds[0])
    noise_fids = [sample_and_score(seed)[1]["fid"] for seed in noise_seeds[1:]]
    round_to_fp16(unet)
    fp16_images, fp16 = sample_and_score(noise_seeds[0])
    result = compare_precisions(fp32, fp16, noise_fids)
    rms = rms_distance(fp16_images, fp32_images)
    logger.info("FID fp32 %.3f, fp16 %.3f (fp32 spread over %d noises %.3f); RMS fp16 to fp32 %.5f; confident "
                "%d vs %d of %d; stored precision chosen: %s", fp32["fid"], fp16["fid"], len(noise_seeds),
                result["fid"]["fp32_spread"], rms, result["confident"]["fp32"], result["confident"]["fp16"],
                config.samples, result["chosen_dtype"])
    unet_weights = Path(config.model) / "unet" / "diffusion_pytorch_model.safetensors"
    return ctx.record("diffusion", "stored_precision",
                      {**result, "rms_fp16_to_fp32": rms, "n_samples": config.samples,
                       "scheduler": config.scheduler, "steps": config.steps, "initial_noise_seeds": noise_seeds,
                       "confidence_threshold": CONFIDENT,
                       "per_image_confident": {"fp32": fp32["confident"], "fp16": fp16["confident"]},
                       "unet_sha256": sha256_file(unet_weights) if unet_weights.is_file() else None,
                       "classifier_sha256": sha256_file(config.classifier)},
                      config={"study": config.as_dict(), "scheduler_config": dict(scheduler().config)})


if __name__ == "__main__":
    sys.exit(main(run, StoredPrecisionConfig, prog="python -m vae_diffusion.diffusion.stored_precision", doc=__doc__))
