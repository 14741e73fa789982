"""Evaluate a diffusers pipeline from a local folder: ancestral (DDPM) samples vs the MNIST test set.

    python -m vae_diffusion.diffusion.evaluate --model checkpoints/ddpm_mnist/pipeline     # GPU: ~3 min
    python -m vae_diffusion.diffusion.evaluate --model PATH --quick                         # CPU: < 1 min

Distances are computed on the penultimate features of our MNIST classifier (``classifier.py``): the Frechet
distance ("FID") and KID between n generated digits and the first n test digits, next to the same distances
between n training digits and the test digits (the floor a perfect generator would reach at this n).
"""
from __future__ import annotations

import argparse
import sys
import json
import logging
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
import diffusers

from mvadl.cli import add_seed_argument, resolve_device, run_cli, seed_everything, setup_logging
from mvadl.data import add_data_dir_argument
from mvadl.plotting import save_figure
from mvadl.results import describe_device, results_dir, write_results
from vae_diffusion.diffusion.classifier import (DEFAULT_WEIGHTS, MnistClassifier, accuracy, load_classifier,
                                                mnist_unit_images, predict_in_batches)
from vae_diffusion.diffusion.data import to_mnist_range
from vae_diffusion.diffusion.frechet import frechet_distance, kernel_inception_distance
from vae_diffusion.diffusion.plots import plot_samples
from vae_diffusion.diffusion.sampling import initial_noise, make_scheduler, sample_in_batches, unet_denoiser

logger = logging.getLogger(__name__)
DEFAULT_MODEL = "checkpoints/ddpm_mnist/pipeline"


def pick_device() -> torch.device:
    """The GPU when there is one (with TF32 matrix products allowed), else the CPU."""
    device = resolve_device("auto")
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    return device


def load_pipeline(path: str | Path, device) -> SimpleNamespace:
    """The ``unet`` and ``scheduler`` of any diffusers pipeline saved in a local folder (no download).

    The components are loaded by the class names in ``model_index.json`` (as ``DiffusionPipeline.from_pretrained``
    does) without building the pipeline object, which would import every pipeline family (and transformers).
    """
    path = Path(path)
    index_file = path / "model_index.json"
    if not index_file.is_file():
        raise FileNotFoundError(f"{path} is not a saved diffusers pipeline (no model_index.json); train one with "
                                f"python -m vae_diffusion.diffusion.train")
    index = json.loads(index_file.read_text())
    parts = {}
    for part in ("unet", "scheduler"):
        if part not in index:
            raise ValueError(f"{path}: pipeline has no {part} (components: {sorted(index)})")
        library, class_name = index[part]
        if library != "diffusers":
            raise ValueError(f"{path}: {part} comes from {library}, expected diffusers")
        parts[part] = getattr(diffusers, class_name).from_pretrained(str(path), subfolder=part)
    parts["unet"].to(device).eval()
    return SimpleNamespace(**parts)


def classifier_features(classifier: MnistClassifier, model_range_images: torch.Tensor) -> np.ndarray:
    """Penultimate classifier features of generated images (model range [-1, 1], 28 or 32 px)."""
    device = next(classifier.parameters()).device
    return predict_in_batches(classifier.features, to_mnist_range(model_range_images), device).numpy()


def real_features(classifier: MnistClassifier, split: str, n: int, data_dir=None, *, seed: int = 0,
                  check_count: bool = True) -> np.ndarray:
    """Features of n real digits: the first n of the test split, or a seeded random n of the train split."""
    images, _ = mnist_unit_images(split, data_dir, check_count=check_count)
    if split == "train":
        images = images[np.sort(np.random.default_rng(seed).choice(len(images), min(n, len(images)), False))]
    images = images[:n]
    return predict_in_batches(classifier.features, images, next(classifier.parameters()).device).numpy()


def distances(features: np.ndarray, reference: np.ndarray, *, seed: int = 0) -> dict[str, float]:
    """``fid``, ``kid`` and ``kid_std`` of ``features`` against ``reference`` (equal n expected)."""
    kid, kid_std = kernel_inception_distance(features, reference, subset_size=1000, num_subsets=50, seed=seed)
    return {"fid": frechet_distance(features, reference), "kid": kid, "kid_std": kid_std}


CONFIDENT = 0.9
MNIST_TRAIN_IMAGES = 60000


def training_cost(training: dict | None) -> dict:
    """``training_seconds`` and ``training_images_seen`` from the record ``train`` wrote (every epoch
    visits every training image once: the loader keeps its last partial batch)."""
    if training is None:
        return {"training_seconds": None, "training_images_seen": None}
    config, metrics = training["config"], training["metrics"]
    # records written before images_per_epoch was logged: full-data runs only (no train_limit, not quick)
    images_per_epoch = metrics.get("images_per_epoch") or min(config.get("train_limit") or MNIST_TRAIN_IMAGES,
                                                              MNIST_TRAIN_IMAGES)
    return {"training_seconds": metrics["training_time_s"], "training_images_seen": config["epochs"] * images_per_epoch}


def evaluation_parser(description: str) -> argparse.ArgumentParser:
    """The options every evaluation of a trained pipeline shares: seed, data, pipeline, classifier."""
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_seed_argument(p)
    add_data_dir_argument(p)
    p.add_argument("--model", default=DEFAULT_MODEL, help="local diffusers pipeline folder")
    p.add_argument("--classifier", default=str(DEFAULT_WEIGHTS), help="MNIST classifier weights (safetensors)")
    return p


def parse_args(argv=None) -> argparse.Namespace:
    p = evaluation_parser(__doc__.split("\n")[0])
    p.add_argument("--n-samples", type=int, default=2000)
    p.add_argument("--num-inference-steps", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=2000)
    p.add_argument("--quick", action="store_true", help="smoke test: 8 samples, 10 steps")
    return p.parse_args(argv)


def main(args: argparse.Namespace) -> Path:
    setup_logging()
    seed_everything(args.seed)
    if args.quick:
        args.n_samples, args.num_inference_steps = 8, 10
    started = time.perf_counter()
    device = pick_device()
    pipeline = load_pipeline(args.model, device)
    classifier = load_classifier(args.classifier, device)
    test_x, test_y = mnist_unit_images("test", args.data_dir, check_count=not args.quick)
    n = min(args.n_samples, len(test_x))
    unet = pipeline.unet
    shape = (unet.config.in_channels, unet.config.sample_size, unet.config.sample_size)
    noise = initial_noise(n, shape, args.seed)
    t0 = time.perf_counter()
    result = sample_in_batches(unet_denoiser(unet), lambda: make_scheduler("DDPM", pipeline.scheduler.config),
                               noise, args.num_inference_steps, seed=args.seed, device=device,
                               batch_size=args.batch_size)
    sampling_time = time.perf_counter() - t0
    generated = classifier_features(classifier, result.images)
    test_features = real_features(classifier, "test", n, args.data_dir, check_count=not args.quick)
    train_features = real_features(classifier, "train", n, args.data_dir, seed=args.seed,
                                   check_count=not args.quick)
    model_scores = distances(generated, test_features, seed=args.seed)
    floor = distances(train_features, test_features, seed=args.seed)
    probabilities = predict_in_batches(classifier, to_mnist_range(result.images), device).softmax(1)
    confidence, predicted = probabilities.max(1)
    class_histogram = torch.bincount(predicted, minlength=10).tolist()
    figure_dir = results_dir() / "diffusion"
    save_figure(plot_samples(to_mnist_range(result.images[:64]).squeeze(1).numpy(), nrow=8,
                             title=f"DDPM, {args.num_inference_steps} ancestral steps"),
                figure_dir / ("ddpm_samples" + ("_quick" if args.quick else "") + ".png"))
    training_record = results_dir() / "diffusion" / ("ddpm_training" + ("_quick" if args.quick else "") + ".json")
    training = json.loads(training_record.read_text()) if training_record.is_file() else None
    config = {"evaluation": vars(args), "unet": dict(pipeline.unet.config),
              "scheduler": dict(pipeline.scheduler.config), "training": training and training["config"]}
    metrics = {"classifier_test_accuracy": accuracy(classifier, test_x, test_y), "fid": model_scores["fid"],
               "kid": model_scores["kid"], "kid_std": model_scores["kid_std"],
               "fid_real_vs_real": floor["fid"], "kid_real_vs_real": floor["kid"],
               "kid_real_vs_real_std": floor["kid_std"], "n_samples": n,
               "num_inference_steps": args.num_inference_steps, "model_evaluations": result.model_evaluations,
               "sampling_time_s": sampling_time, "generated_class_histogram": class_histogram,
               # share of samples the classifier puts in one class with probability >= 0.9 (legibility)
               "confident_fraction": float((confidence >= CONFIDENT).float().mean()),
               "confidence_threshold": CONFIDENT, **training_cost(training)}
    logger.info("FID %.3f (real vs real %.3f), KID %.5f (real vs real %.5f), n=%d", metrics["fid"],
                metrics["fid_real_vs_real"], metrics["kid"], metrics["kid_real_vs_real"], n)
    return write_results("diffusion", "ddpm_metrics" + ("_quick" if args.quick else ""), config=config,
                         metrics=metrics, seed=args.seed, wall_time_s=time.perf_counter() - started,
                         device=describe_device(device))


if __name__ == "__main__":
    sys.exit(run_cli(main, parse_args))
