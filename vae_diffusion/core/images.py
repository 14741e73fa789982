"""MNIST splits as tensors for the image models, the two value ranges they use, and image grids.

Ranges: the classifier reads ``[N, 1, 28, 28]`` in [0, 1] ("MNIST range"); the diffusion models work on
``[N, C, S, S]`` in [-1, 1] ("model range"), S = 28 or 32 (MNIST zero-padded by 2 with black, -1).
The one MNIST reader is :func:`mvadl.data.load_mnist`; this module only takes a prefix and converts.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torchvision.transforms.functional import center_crop
from torchvision.utils import make_grid

from mvadl.data import load_mnist
from mvadl.runner import ExperimentConfig, option


@dataclass
class DataOptions(ExperimentConfig):
    """``--data-dir``, for the config of every entry point that reads MNIST."""

    data_dir: str | None = option(None, "root folder of the datasets (None: $DATA_DIR, else ./data); it holds "
                                           "mnist/ as written by scripts/get_data.sh")


def mnist_split(split: str, data_dir=None, *, limit: int | None = None,
                check_count: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images ``[N, 28, 28]`` and int64 labels of an MNIST split (the first ``limit`` if given).

    ``check_count`` demands the official split size (off for tiny test data and smoke runs).
    """
    images, labels = load_mnist(split, data_dir, check_count=check_count)
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return images, labels


def to_unit_range(images: np.ndarray) -> torch.Tensor:
    """uint8 ``[N, 28, 28]`` -> float ``[N, 1, 28, 28]`` in [0, 1] (the classifier's input)."""
    return torch.from_numpy(np.array(images)).float().div(255).unsqueeze(1)


def check_unet_image_size(size: int, levels: int, name: str = "size") -> None:
    """A one-line ValueError unless MNIST padded to ``size`` fits a UNet of ``levels`` resolution levels: the
    border is the same on each side (:func:`to_model_range`), so ``size`` is 28 plus an even number, and each
    level after the first halves the image, so ``size`` divides by ``2**(levels - 1)``. ``name`` is the option
    the message names (a config checks its options before loading anything)."""
    if levels < 1:
        raise ValueError(f"a UNet needs at least one level, got {levels}")
    step = math.lcm(2, 2 ** (levels - 1))
    if size < 28 or size % step:
        rule = "28 + an even number (MNIST padded by the same border on each side)"
        if levels > 1:
            rule += f" divisible by {2 ** (levels - 1)} (each UNet level after the first halves the image)"
        fits = ", ".join(str(s) for s in range(28 + (-28) % step, 28 + 3 * step, step))
        raise ValueError(f"{name} {size}: must be {rule}, e.g. {fits}")


def to_model_range(images: np.ndarray, size: int = 32) -> torch.Tensor:
    """uint8 ``[N, 28, 28]`` -> float ``[N, 1, size, size]`` in [-1, 1]; the border added is black (-1)."""
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"expected MNIST images of shape [N, 28, 28], got {images.shape}")
    if size < 28 or (size - 28) % 2:
        raise ValueError(f"size must be 28 or 28 + an even number, got {size}")
    x = torch.from_numpy(np.array(images)).float().div(127.5).sub(1.0).unsqueeze(1)
    pad = (size - 28) // 2
    return torch.nn.functional.pad(x, (pad, pad, pad, pad), value=-1.0) if pad else x


def crop_to_mnist(x: torch.Tensor) -> torch.Tensor:
    """The centre 28x28 pixels of images ``[..., S, S]``, S >= 28: the MNIST digit of a padded image."""
    return center_crop(x, [28, 28])


def to_mnist_range(x: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`to_model_range`: ``[N, 1, S, S]`` in [-1, 1] -> ``[N, 1, 28, 28]`` in [0, 1] (centre crop)."""
    return crop_to_mnist(x).clamp(-1, 1).add(1).div(2)


def image_grid(images: np.ndarray | torch.Tensor, nrow: int, *, padding: int = 1, border: bool = False) -> np.ndarray:
    """Tile grey images ``[N, H, W]`` (or flat square ones ``[N, H*W]``) into one 2-D array, ``nrow`` per row,
    with ``padding`` white (1.0) pixels between them and white empty cells (``torchvision.utils.make_grid``);
    the white border around the whole grid is kept only with ``border``: ``[rows*(H+p)-p, nrow*(W+p)-p]``
    without it."""
    x = torch.as_tensor(np.asarray(images, np.float32))
    if x.ndim == 2:
        side = math.isqrt(x.shape[1])
        x = x.reshape(len(x), side, side)
    grid = make_grid(x.unsqueeze(1), nrow=nrow, padding=padding, pad_value=1.0)[0]
    return (grid if border or not padding else grid[padding:-padding, padding:-padding]).numpy()
