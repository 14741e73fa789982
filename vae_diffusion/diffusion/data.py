"""MNIST as tensors for the diffusion part: images in [-1, 1], optionally zero-padded to 32x32."""
from __future__ import annotations

import numpy as np
import torch

from mvadl.data import data_root, load_mnist


def to_model_range(images: np.ndarray, size: int = 32) -> torch.Tensor:
    """uint8 ``[N, 28, 28]`` -> float ``[N, 1, size, size]`` in [-1, 1]; the border added is black (-1)."""
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"expected MNIST images of shape [N, 28, 28], got {images.shape}")
    if size < 28 or (size - 28) % 2:
        raise ValueError(f"size must be 28 or 28 + an even number, got {size}")
    x = torch.from_numpy(np.array(images)).float().div(127.5).sub(1.0).unsqueeze(1)
    pad = (size - 28) // 2
    return torch.nn.functional.pad(x, (pad, pad, pad, pad), value=-1.0) if pad else x


def to_mnist_range(x: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`to_model_range`: ``[N, 1, S, S]`` in [-1, 1] -> ``[N, 1, 28, 28]`` in [0, 1] (centre crop)."""
    pad = (x.shape[-1] - 28) // 2
    if pad:
        x = x[..., pad:pad + 28, pad:pad + 28]
    return x.clamp(-1, 1).add(1).div(2)


def load_mnist_tensors(split: str, data_dir=None, *, size: int = 32, limit: int | None = None,
                       check_count: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (``[N, 1, size, size]`` in [-1, 1]) and labels of an MNIST split, the first ``limit`` if given."""
    images, labels = load_mnist(split, data_root(data_dir), check_count=check_count)
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return to_model_range(images, size), torch.from_numpy(labels)
