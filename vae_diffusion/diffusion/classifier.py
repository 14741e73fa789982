"""Train the MNIST classifier whose penultimate features are the embedding of FID/KID (``core/classifier.py``).

    python -m vae_diffusion.diffusion.classifier                       # GPU: ~30 s, CPU: ~15 min
    python -m vae_diffusion.diffusion.classifier --quick --weights /tmp/c.safetensors

Training reuses the shared loop (``core/fit.py``) with a cross-entropy loss and random 2-pixel shifts. The
weights go to --weights (a checkpoint, not an artefact); the evaluations read the committed, versioned
artifacts/mnist_classifier/v2/model.safetensors unless told otherwise (to publish new weights, ship them as
artifacts/mnist_classifier/v<N+1>/ with ``python -m vae_diffusion.ship``). Writes results/diffusion/classifier.json
with the weights' sha256.
"""
from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch
from torch.utils.data import TensorDataset

from mvadl.runner import Context, main, option
from vae_diffusion.core.artifacts import sha256_file
from vae_diffusion.core.classifier import MnistClassifier, accuracy, cross_entropy_loss, save_classifier
from vae_diffusion.core.fit import FitConfig, PrecisionOptions, fit, run_channels_last, run_precision
from vae_diffusion.core.images import mnist_split, to_unit_range

logger = logging.getLogger(__name__)


@dataclass
class ClassifierConfig(PrecisionOptions):
    """Train the MNIST feature classifier (the reference run's settings)."""

    weights: str = option("checkpoints/mnist_classifier/model.safetensors", "where to write the safetensors weights")
    output_dir: str = option("checkpoints/mnist_classifier", "logs and checkpoints")
    epochs: int = option(8, "training epochs")
    batch_size: int = option(128, "images per optimizer step")
    learning_rate: float = option(3e-3, "AdamW peak learning rate (cosine decay, weight decay 5e-4)")
    warmup_steps: int = option(200, "linear learning-rate warm-up steps")
    limit: int | None = option(None, "use only the first N images of each split")
    max_steps_per_epoch: int | None = option(None, "cut every epoch after N optimizer steps (None: whole epochs)")
    QUICK: ClassVar[dict] = {"limit": 256, "epochs": 1, "max_steps_per_epoch": 4, "warmup_steps": 0,
                             "weights": "runs/quick/mnist_classifier/model.safetensors",
                             "output_dir": "runs/quick/mnist_classifier"}
    #: The CPU setting ``python -m vae_diffusion.speed`` measured as fastest without changing the loss curve.
    CPU_MIXED_PRECISION: ClassVar[str] = "bf16"
    CPU_CHANNELS_LAST: ClassVar[bool] = True


def run(config: ClassifierConfig, ctx: Context) -> Path:
    check_count = config.limit is None
    train_x, train_y = mnist_split("train", config.data_dir, limit=config.limit, check_count=check_count)
    test_x, test_y = mnist_split("test", config.data_dir, limit=config.limit, check_count=check_count)
    mixed_precision = run_precision(config, ctx.device, config.output_dir)
    channels_last = run_channels_last(config, ctx.device, config.output_dir)
    fit_config = FitConfig.from_options(config, weight_decay=5e-4, mixed_precision=mixed_precision,
                                        channels_last=channels_last)

    result = fit(MnistClassifier(), TensorDataset(to_unit_range(train_x), torch.from_numpy(train_y)),
                 cross_entropy_loss, fit_config, config.output_dir, project_name="mnist_classifier", device=ctx.device)
    model = result.model.float()
    test_accuracy = accuracy(model, to_unit_range(test_x), torch.from_numpy(test_y))
    logger.info("test accuracy %.4f", test_accuracy)
    weights = save_classifier(model, config.weights)
    sha256 = sha256_file(weights)
    logger.info("saved %s (sha256 %s)", weights, sha256)
    return ctx.record("diffusion", "classifier",
                      {"test_accuracy": test_accuracy, "epoch_losses": result.epoch_losses,
                       "parameters": sum(p.numel() for p in model.parameters()), "classifier_sha256": sha256},
                      config={**config.as_dict(), "mixed_precision": mixed_precision,
                              "channels_last": channels_last})


if __name__ == "__main__":
    sys.exit(main(run, ClassifierConfig, prog="python -m vae_diffusion.diffusion.classifier", doc=__doc__))
