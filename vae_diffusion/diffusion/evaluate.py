"""Evaluate a diffusers pipeline from a local folder: ancestral (DDPM) samples vs the MNIST test set.

    python -m vae_diffusion.diffusion.evaluate --model checkpoints/ddpm_mnist/pipeline     # GPU: ~3 min
    python -m vae_diffusion.diffusion.evaluate --model PATH --quick                         # CPU: < 1 min

Distances are computed on the penultimate features of the MNIST classifier (``core/classifier.py``; the
versioned weights in artifacts/, whose sha256 the record keeps): the Frechet distance ("FID") and KID
(torchmetrics, ``core/metrics.py``) between n generated digits and the first n test digits, next to the same
distances between n training digits and the test digits (the floor a perfect generator would reach at this n).
The training cost comes from the training_record.json saved with the pipeline (none for a pipeline trained
elsewhere). Writes results/diffusion/ddpm_metrics.json and ddpm_samples.png.
"""
from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch

from mvadl.plotting import save_figure
from mvadl.results import results_dir
from mvadl.runner import Context, main, option
from vae_diffusion.core.artifacts import sha256_file
from vae_diffusion.core.classifier import accuracy, load_classifier, predict_in_batches
from vae_diffusion.core.images import mnist_split, to_mnist_range, to_unit_range
from vae_diffusion.core.metrics import ClassifierFeatures, FeatureDistances
from vae_diffusion.core.pipelines import read_training_record
from vae_diffusion.diffusion.evaluation import (
    CONFIDENT,
    PipelineEvaluationOptions,
    load_unconditional_pipeline,
    real_digits,
    training_cost,
)
from vae_diffusion.diffusion.plots import plot_samples
from vae_diffusion.diffusion.sampling import initial_noise, make_scheduler, sample_in_batches, unet_denoiser

logger = logging.getLogger(__name__)


@dataclass
class EvaluateConfig(PipelineEvaluationOptions):
    """FID/KID of DDPM samples of a local pipeline (the reference evaluation's settings)."""

    n_samples: int = option(2000, "generated images (and test digits) compared")
    num_inference_steps: int = option(1000, "ancestral sampling steps")
    batch_size: int = option(2000, "images sampled at once")
    QUICK: ClassVar[dict] = {"n_samples": 8, "num_inference_steps": 10}


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
    t0 = time.perf_counter()
    result = sample_in_batches(unet_denoiser(unet), lambda: make_scheduler("DDPM", pipeline.scheduler.config),
                               noise, config.num_inference_steps, seed=config.seed, device=device,
                               batch_size=config.batch_size)
    sampling_time = time.perf_counter() - t0
    generated = to_mnist_range(result.images)
    distances = FeatureDistances(ClassifierFeatures(classifier), test_images[:n])
    model_scores = distances(generated, seed=config.seed)
    floor = distances(real_digits("train", n, config.data_dir, seed=config.seed, check_count=check_count),
                      seed=config.seed)
    probabilities = predict_in_batches(classifier, generated, device).softmax(1)
    confidence, predicted = probabilities.max(1)
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
               "sampling_time_s": sampling_time,
               "generated_class_histogram": torch.bincount(predicted, minlength=10).tolist(),
               # share of samples the classifier puts in one class with probability >= 0.9 (legibility)
               "confident_fraction": float((confidence >= CONFIDENT).float().mean()),
               "confidence_threshold": CONFIDENT, **training_cost(training)}
    logger.info("FID %.3f (real vs real %.3f), KID %.5f (real vs real %.5f), n=%d", metrics["fid"],
                metrics["fid_real_vs_real"], metrics["kid"], metrics["kid_real_vs_real"], n)
    return ctx.record("diffusion", "ddpm_metrics", metrics, config=recorded_config)


if __name__ == "__main__":
    sys.exit(main(run, EvaluateConfig, prog="python -m vae_diffusion.diffusion.evaluate", doc=__doc__))
