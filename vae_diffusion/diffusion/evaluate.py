"""Evaluate a diffusers pipeline from a local folder: ancestral (DDPM) samples vs the MNIST test set.

    python -m vae_diffusion.diffusion.evaluate --model checkpoints/ddpm_mnist/pipeline     # GPU: ~3 min, CPU: ~3 h
    python -m vae_diffusion.diffusion.evaluate --model PATH --quick                         # CPU: < 1 min

Distances are computed on the penultimate features of the MNIST classifier (``core/classifier.py``; the
versioned weights in artifacts/, whose sha256 the record keeps): the Frechet distance ("FID") and KID
(torchmetrics, ``core/metrics.py``) between n generated digits and the first n test digits, next to the same
distances between n training digits and the test digits (the floor a perfect generator would reach at this n).
The training cost comes from the training_record.json saved with the pipeline (none for a pipeline trained
elsewhere). Writes results/diffusion/ddpm_metrics.json and ddpm_samples.png.

The 2,000 x 1,000 model evaluations take about 2.6 h on 2 CPU cores, so the forward passes run under bf16 autocast
in channels_last layout by default (``--autocast no`` for fp32), and the first ``--precision-check`` images are
sampled again in fp32 from the same noise: the record gives their RMS pixel distance to the bf16 images and the
share the classifier reads as the same digit. Finished batches are kept (``sampling_cache``): a run stopped part-way
continues with the same command and ``--resume``, and its record counts the resumes.
"""
from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

import torch

from mvadl.plotting import save_figure
from mvadl.results import results_dir
from mvadl.runner import Context, main, option
from vae_diffusion.core.artifacts import sha256_file
from vae_diffusion.core.classifier import accuracy, load_classifier, predict_in_batches
from vae_diffusion.core.images import mnist_split, to_mnist_range, to_unit_range
from vae_diffusion.core.metrics import ClassifierFeatures, FeatureDistances, rms_distance
from vae_diffusion.core.pipelines import read_training_record
from vae_diffusion.core.precision import AUTOCAST_DTYPES
from vae_diffusion.diffusion.evaluation import (
    CONFIDENT,
    PipelineEvaluationOptions,
    load_unconditional_pipeline,
    real_digits,
    training_cost,
)
from vae_diffusion.diffusion.plots import plot_samples
from vae_diffusion.diffusion.sampling import (
    SampleResult,
    initial_noise,
    make_scheduler,
    sample_in_batches,
    unet_denoiser,
)
from vae_diffusion.diffusion.sampling_cache import SamplingCache, module_digest

logger = logging.getLogger(__name__)


@dataclass
class EvaluateConfig(PipelineEvaluationOptions):
    """FID/KID of DDPM samples of a local pipeline (the reference evaluation's settings)."""

    n_samples: int = option(2000, "generated images (and test digits) compared")
    num_inference_steps: int = option(1000, "ancestral sampling steps")
    batch_size: int = option(100, "images sampled at once (a finished batch is kept for --resume)")
    autocast: Literal["no", "bf16"] = option("bf16", "precision of the UNet's forward passes ('no': fp32)")
    channels_last: bool = option(True, "UNet and images in channels_last memory format")
    precision_check: int = option(100, "with --autocast bf16, sample the first N images again in fp32 (0: skip)")
    resume: bool = option(False, "read back the batches an earlier run of the same command and commit finished")
    QUICK: ClassVar[dict] = {"n_samples": 8, "num_inference_steps": 10, "batch_size": 4, "precision_check": 4}


def run(config: EvaluateConfig, ctx: Context) -> Path:
    device = ctx.device
    pipeline = load_unconditional_pipeline(config.model, device)
    classifier = load_classifier(config.classifier, device)
    check_count = not config.quick
    test_x, test_y = mnist_split("test", config.data_dir, check_count=check_count)
    test_images = to_unit_range(test_x)
    n = min(config.n_samples, len(test_images))
    unet = pipeline.unet
    shape = (unet.config.in_channels, unet.config.sample_size, unet.config.sample_size)
    noise = initial_noise(n, shape, config.seed)
    weights = module_digest(unet)

    def ancestral_samples(autocast: str, noise: torch.Tensor) -> tuple[SampleResult, SamplingCache]:
        cache = SamplingCache.for_run("evaluate", {"model": weights, "autocast": autocast,
                                                   "channels_last": config.channels_last}, resume=config.resume)
        denoiser = unet_denoiser(unet, channels_last=config.channels_last, autocast_dtype=AUTOCAST_DTYPES[autocast])
        return sample_in_batches(denoiser, lambda: make_scheduler("DDPM", pipeline.scheduler.config), noise,
                                 config.num_inference_steps, seed=config.seed, device=device,
                                 batch_size=config.batch_size, cache=cache), cache

    result, cache = ancestral_samples(config.autocast, noise)
    generated = to_mnist_range(result.images)
    distances = FeatureDistances(ClassifierFeatures(classifier), test_images[:n])
    model_scores = distances(generated, seed=config.seed)
    floor = distances(real_digits("train", n, config.data_dir, seed=config.seed, check_count=check_count),
                      seed=config.seed)
    probabilities = predict_in_batches(classifier, generated, device).softmax(1)
    confidence, predicted = probabilities.max(1)
    precision_check, check_cache = None, None
    if config.autocast != "no" and config.precision_check > 0:
        k = min(config.precision_check, n)
        check, check_cache = ancestral_samples("no", noise[:k])
        same_class = predict_in_batches(classifier, to_mnist_range(check.images), device).argmax(1) == predicted[:k]
        precision_check = {"n_images": k, "rms_to_fp32": rms_distance(result.images[:k], check.images),
                           "same_class_share": float(same_class.float().mean()), "fp32_seconds": check.seconds}
        logger.info("%s against fp32 on the first %d images: RMS %.4f, same class %.3f", config.autocast, k,
                    precision_check["rms_to_fp32"], precision_check["same_class_share"])
    save_figure(plot_samples(generated[:64].squeeze(1).numpy(), nrow=8,
                             title=f"DDPM, {config.num_inference_steps} ancestral steps"),
                results_dir() / "diffusion" / "ddpm_samples.png")
    training = read_training_record(config.model)
    recorded_config = {"evaluation": config.as_dict(), "unet": dict(unet.config),
                       "scheduler": dict(pipeline.scheduler.config), "training": training and training["config"]}
    metrics = {"classifier_test_accuracy": accuracy(classifier, test_images, torch.from_numpy(test_y)),
               "classifier_sha256": sha256_file(config.classifier), "fid": model_scores["fid"],
               "kid": model_scores["kid"], "kid_std": model_scores["kid_std"],
               "fid_real_vs_real": floor["fid"], "kid_real_vs_real": floor["kid"],
               "kid_real_vs_real_std": floor["kid_std"], "n_samples": n,
               "num_inference_steps": config.num_inference_steps, "model_evaluations": result.model_evaluations,
               "sampling_time_s": result.seconds, "precision_check": precision_check, "unet_digest": weights,
               "sampling": {**cache.summary(), "precision_check": check_cache and check_cache.summary()},
               "generated_class_histogram": torch.bincount(predicted, minlength=10).tolist(),
               # share of samples the classifier puts in one class with probability >= 0.9 (legibility)
               "confident_fraction": float((confidence >= CONFIDENT).float().mean()),
               "confidence_threshold": CONFIDENT, **training_cost(training)}
    logger.info("FID %.3f (real vs real %.3f), KID %.5f (real vs real %.5f), n=%d", metrics["fid"],
                metrics["fid_real_vs_real"], metrics["kid"], metrics["kid_real_vs_real"], n)
    earlier = cache.reused_seconds + (check_cache.reused_seconds if check_cache else 0.0)
    return ctx.record("diffusion", "ddpm_metrics", metrics, config=recorded_config,
                      wall_time_s=ctx.elapsed() + earlier)


if __name__ == "__main__":
    sys.exit(main(run, EvaluateConfig, prog="python -m vae_diffusion.diffusion.evaluate", doc=__doc__))
