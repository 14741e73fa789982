"""A small MNIST CNN whose penultimate (128-d) features are the embedding for FID/KID on digits.

    python -m vae_diffusion.diffusion.classifier                       # GPU: ~30 s, CPU: ~15 min
    python -m vae_diffusion.diffusion.classifier --quick --weights /tmp/c.safetensors

Inputs are ``[N, 1, 28, 28]`` in [0, 1] (what :func:`vae_diffusion.diffusion.data.to_mnist_range` returns).
Training reuses :func:`vae_diffusion.diffusion.training.fit` with a cross-entropy loss.
"""
from __future__ import annotations

import argparse
import sys
import logging
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn
from torch.utils.data import TensorDataset

from mvadl import REPO_ROOT
from mvadl.cli import add_seed_argument, run_cli, seed_everything, setup_logging
from mvadl.data import add_data_dir_argument, data_root, load_mnist
from mvadl.results import describe_device, write_results
from vae_diffusion.diffusion.training import FitConfig, fit

logger = logging.getLogger(__name__)
DEFAULT_WEIGHTS = REPO_ROOT / "results" / "diffusion" / "mnist_classifier.safetensors"
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
FEATURE_DIM = 128


def _conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class MnistClassifier(nn.Module):
    """conv32-conv32-pool-conv64-conv64-pool-conv128-global-average-pool (features) -> linear 10."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(_conv(1, 32), _conv(32, 32), nn.MaxPool2d(2), _conv(32, 64), _conv(64, 64),
                                  nn.MaxPool2d(2), _conv(64, FEATURE_DIM), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.dropout = nn.Dropout(0.2)
        self.head = nn.Linear(FEATURE_DIM, 10)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Penultimate features ``[N, 128]`` of images in [0, 1]."""
        return self.body((images - MNIST_MEAN) / MNIST_STD)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(images)))


def shift_augment(images: torch.Tensor, max_shift: int = 2) -> torch.Tensor:
    """Translate the batch by a random offset in [-max_shift, max_shift]^2 pixels (zero fill)."""
    dx, dy = (int(v) for v in torch.randint(-max_shift, max_shift + 1, (2,)))
    padded = F.pad(images, (max_shift,) * 4)
    h, w = images.shape[-2:]
    return padded[..., max_shift + dy:max_shift + dy + h, max_shift + dx:max_shift + dx + w]


def cross_entropy_loss(model: nn.Module, batch) -> torch.Tensor:
    images, labels = batch
    return F.cross_entropy(model(shift_augment(images)).float(), labels)


@torch.no_grad()
def predict_in_batches(fn, images: torch.Tensor, device, batch_size: int = 1000) -> torch.Tensor:
    """Apply ``fn`` (e.g. ``model`` or ``model.features``) batch by batch on ``device``; returns a CPU tensor."""
    outputs = [fn(images[i:i + batch_size].to(device)).float().cpu() for i in range(0, len(images), batch_size)]
    return torch.cat(outputs)


def mnist_unit_images(split: str, data_dir=None, limit: int | None = None, check_count: bool = True):
    """``([N, 1, 28, 28]`` float in [0, 1], labels) of an MNIST split."""
    images, labels = load_mnist(split, data_root(data_dir), check_count=check_count)
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return torch.from_numpy(np.array(images)).float().div(255).unsqueeze(1), torch.from_numpy(labels)


def accuracy(model: MnistClassifier, images: torch.Tensor, labels: torch.Tensor) -> float:
    model.eval()
    logits = predict_in_batches(model, images, next(model.parameters()).device)
    return float((logits.argmax(1) == labels).float().mean())


def load_classifier(path: str | Path = DEFAULT_WEIGHTS, device="cpu") -> MnistClassifier:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"classifier weights not found: {path} (train them with "
                                f"python -m vae_diffusion.diffusion.classifier)")
    model = MnistClassifier()
    model.load_state_dict(load_file(str(path)))
    return model.to(device).eval()


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_seed_argument(p)
    add_data_dir_argument(p)
    p.add_argument("--weights", default=str(DEFAULT_WEIGHTS), help="where to write the safetensors weights")
    p.add_argument("--output-dir", default="checkpoints/mnist_classifier", help="logs and checkpoints")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--learning-rate", type=float, default=3e-3)
    p.add_argument("--quick", action="store_true", help="smoke test: 256 images, 1 epoch of 4 steps")
    return p.parse_args(argv)


def main(args: argparse.Namespace) -> float:
    setup_logging()
    seed_everything(args.seed)
    limit = 256 if args.quick else None
    train_x, train_y = mnist_unit_images("train", args.data_dir, limit, check_count=limit is None)
    test_x, test_y = mnist_unit_images("test", args.data_dir, limit, check_count=limit is None)
    config = FitConfig(epochs=1 if args.quick else args.epochs, batch_size=args.batch_size,
                       learning_rate=args.learning_rate, weight_decay=5e-4, warmup_steps=0 if args.quick else 200,
                       seed=args.seed, max_steps_per_epoch=4 if args.quick else None)
    started = time.perf_counter()
    result = fit(MnistClassifier(), TensorDataset(train_x, train_y), cross_entropy_loss, config, args.output_dir,
                 project_name="mnist_classifier")
    model = result.model.float()
    test_accuracy = accuracy(model, test_x, test_y)
    logger.info("test accuracy %.4f", test_accuracy)
    Path(args.weights).parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, args.weights)
    write_results("diffusion", "classifier" + ("_quick" if args.quick else ""), config=args,
                  metrics={"test_accuracy": test_accuracy, "epoch_losses": result.epoch_losses,
                           "parameters": sum(p.numel() for p in model.parameters())},
                  seed=args.seed, wall_time_s=time.perf_counter() - started,
                  device=describe_device(result.accelerator.device))
    return test_accuracy


if __name__ == "__main__":
    sys.exit(run_cli(main, parse_args))
