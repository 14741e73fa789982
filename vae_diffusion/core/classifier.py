"""A small MNIST CNN whose penultimate (128-d) features are the embedding for FID/KID on digits.

Inputs are ``[N, 1, 28, 28]`` in [0, 1] (what :func:`vae_diffusion.core.images.to_unit_range` and
:func:`~vae_diffusion.core.images.to_mnist_range` return). The weights every evaluation uses by default are the
versioned artefact :data:`DEFAULT_WEIGHTS` (``artifacts/mnist_classifier/v2/model.safetensors``, trained by
``python -m vae_diffusion.diffusion.classifier``; its sha256 is :data:`DEFAULT_WEIGHTS_SHA256`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from mvadl.data import DataError
from mvadl.io import atomic_path
from mvadl.runner import ExperimentConfig, option
from vae_diffusion.core.artifacts import ARTIFACTS_DIR, SUMS_FILE, sha256_file, verify_artifact

DEFAULT_WEIGHTS = ARTIFACTS_DIR / "mnist_classifier" / "v2" / "model.safetensors"
#: The bytes of v2 (results/diffusion/classifier.json, artifacts/mnist_classifier/v2/record.json); a test checks
#: the committed file.
DEFAULT_WEIGHTS_SHA256 = "8e602ce82cd4bd75943f05ba1f25f73bb04f9971a6be1d36cc7ed586478fb82a"
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
FEATURE_DIM = 128


@dataclass
class ClassifierOptions(ExperimentConfig):
    """``--classifier``, for the config of every entry point that reads digits with the classifier."""

    classifier: str = option(str(DEFAULT_WEIGHTS), "MNIST classifier weights (safetensors): FID/KID features and "
                                                   "the digit check")


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
        """Penultimate features ``[N, 128]`` of images ``[N, 1, 28, 28]`` in [0, 1]."""
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
    """``loss_fn`` of :func:`vae_diffusion.core.fit.fit` for ``(images, labels)`` batches, with shift augmentation."""
    images, labels = batch
    return F.cross_entropy(model(shift_augment(images)).float(), labels)


@torch.no_grad()
def predict_in_batches(fn, images: torch.Tensor, device, batch_size: int = 1000) -> torch.Tensor:
    """Apply ``fn`` (e.g. ``model`` or ``model.features``) batch by batch on ``device``; returns a CPU tensor."""
    outputs = [fn(images[i:i + batch_size].to(device)).float().cpu() for i in range(0, len(images), batch_size)]
    return torch.cat(outputs)


def accuracy(model: MnistClassifier, images: torch.Tensor, labels: torch.Tensor) -> float:
    model.eval()
    logits = predict_in_batches(model, images, next(model.parameters()).device)
    return float((logits.argmax(1) == labels).float().mean())


def load_classifier(path: str | Path = DEFAULT_WEIGHTS, device="cpu") -> MnistClassifier:
    """The classifier with the weights in ``path`` (safetensors), in eval mode on ``device``. A shipped folder
    (``SHA256SUMS`` beside the weights) is verified first, the default against its pinned sha256.

    A missing or unreadable file is a :class:`~mvadl.data.DataError` that names it.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: MNIST classifier weights not found (the committed ones are {DEFAULT_WEIGHTS}; "
                        f"train new ones with python -m vae_diffusion.diffusion.classifier)")
    default = path.resolve() == DEFAULT_WEIGHTS.resolve()
    if (path.parent / SUMS_FILE).is_file():  # a shipped folder: its digests, and the default's pinned one
        verify_artifact(path.parent, pinned=(path.name, DEFAULT_WEIGHTS_SHA256) if default else None)
    elif default and sha256_file(path) != DEFAULT_WEIGHTS_SHA256:
        raise DataError(f"{path}: sha256 is not the pinned {DEFAULT_WEIGHTS_SHA256}")
    model = MnistClassifier()
    try:
        model.load_state_dict(load_file(str(path)))
    except (SafetensorError, RuntimeError) as error:
        raise DataError(f"{path}: not MNIST classifier weights ({str(error).splitlines()[0]})") from None
    return model.to(device).eval()


def save_classifier(model: MnistClassifier, path: str | Path) -> Path:
    """Write the weights as safetensors, atomically."""
    with atomic_path(path) as tmp:
        save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(tmp))
    return Path(path)
