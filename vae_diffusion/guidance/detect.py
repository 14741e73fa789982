"""Reading a generated coloured digit back: background colour, stroke mask, stroke colour name, digit.

For an image ``x`` (``[3, H, W]`` in [0, 1]) rendered as ``(1 - g) b + g s`` (``captions.render``):

- background ``b``: the per-channel median of the 2-pixel border (digits never touch it);
- stroke coverage ``g ~ ||x - b|| / ||s - b||``, with the stroke colour ``s`` estimated as the mean colour of
  the pixels farther than ``STROKE_THRESHOLD`` from ``b``; the stroke mask is ``g > 0.5``;
- stroke colour name: the palette colour nearest to ``s``; background name likewise;
- digit: the MNIST classifier (``vae_diffusion.core.classifier``) applied to ``g`` (a grey MNIST-like
  image, centre-cropped to 28x28).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vae_diffusion.core.classifier import MnistClassifier, predict_in_batches
from vae_diffusion.core.images import crop_to_mnist
from vae_diffusion.guidance.captions import BACKGROUND_COLOURS, STROKE_COLOURS

STROKE_THRESHOLD = 0.3  # RGB distance from the background beyond which a pixel counts as stroke
BORDER = 2


@dataclass
class DigitReading:
    background: np.ndarray  # [N, 3] estimated background colour
    stroke: np.ndarray  # [N, 3] estimated stroke colour (the background's where no stroke is found)
    coverage: np.ndarray  # [N, H, W] estimated g in [0, 1]
    stroke_names: list[str]
    background_names: list[str]

    @property
    def masks(self) -> np.ndarray:
        """``[N, H, W]`` boolean stroke masks."""
        return self.coverage > 0.5


def _nearest(colours: np.ndarray, palette: dict[str, tuple[float, float, float]]) -> list[str]:
    names = list(palette)
    centres = np.asarray([palette[n] for n in names], np.float32)
    distances = np.linalg.norm(colours[:, None, :] - centres[None], axis=-1)
    return [names[i] for i in distances.argmin(1)]


def read_digits(images: np.ndarray) -> DigitReading:
    """Analyse ``[N, 3, H, W]`` (or ``[N, H, W, 3]``) images in [0, 1]."""
    x = np.asarray(images, np.float32)
    if x.ndim != 4 or 3 not in (x.shape[1], x.shape[-1]):
        raise ValueError(f"expected RGB images [N, 3, H, W] or [N, H, W, 3], got {x.shape}")
    if x.shape[1] != 3:
        x = x.transpose(0, 3, 1, 2)
    border = np.concatenate([x[:, :, :BORDER].reshape(len(x), 3, -1), x[:, :, -BORDER:].reshape(len(x), 3, -1),
                             x[:, :, :, :BORDER].reshape(len(x), 3, -1), x[:, :, :, -BORDER:].reshape(len(x), 3, -1)],
                            axis=2)
    background = np.median(border, axis=2)  # [N, 3]
    distance = np.linalg.norm(x - background[:, :, None, None], axis=1)  # [N, H, W]
    far = distance > STROKE_THRESHOLD
    counts = far.sum((1, 2))
    stroke_sum = (x * far[:, None]).sum((2, 3))
    stroke = np.where(counts[:, None] > 0, stroke_sum / np.maximum(counts, 1)[:, None], background)
    scale = np.maximum(np.linalg.norm(stroke - background, axis=1), 1e-3)
    coverage = np.clip(distance / scale[:, None, None], 0.0, 1.0) * (counts[:, None, None] > 0)
    return DigitReading(background=background, stroke=stroke, coverage=coverage,
                        stroke_names=_nearest(stroke, STROKE_COLOURS),
                        background_names=_nearest(background, BACKGROUND_COLOURS))


def digit_probabilities(classifier: MnistClassifier, coverage: np.ndarray) -> np.ndarray:
    """``[N, 10]`` MNIST-classifier probabilities of each coverage map ``[N, H, W]`` (centre crop to 28x28)."""
    crop = crop_to_mnist(torch.from_numpy(np.ascontiguousarray(coverage)).float()).contiguous().unsqueeze(1)
    logits = predict_in_batches(classifier, crop, next(classifier.parameters()).device)
    return torch.softmax(logits.float(), dim=1).numpy()


def classify_digits(classifier: MnistClassifier, coverage: np.ndarray) -> np.ndarray:
    """Digit predicted by the MNIST classifier for each coverage map ``[N, H, W]``."""
    return digit_probabilities(classifier, coverage).argmax(1)


def mask_centroids(masks: np.ndarray) -> np.ndarray:
    """Centroid ``(row, col)`` in pixels of each boolean mask ``[N, H, W]``; NaN for an empty mask."""
    rows, cols = np.indices(masks.shape[1:])
    area = masks.sum((1, 2)).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        centroid = np.stack([(masks * rows).sum((1, 2)) / area, (masks * cols).sum((1, 2)) / area], axis=1)
    centroid[area == 0] = np.nan
    return centroid


def centroid_shift(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    r"""Position change of pairs of masks, apart from their shape: $\lVert c(a_i) - c(b_i) \rVert_2$ in pixels.

    ``c`` is the mask's centroid; NaN where either mask is empty.
    """
    return np.linalg.norm(mask_centroids(a) - mask_centroids(b), axis=1)


def mask_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of boolean masks ``[N, H, W]`` pairwise (1 where both are empty)."""
    union = (a | b).sum((1, 2))
    return np.where(union > 0, (a & b).sum((1, 2)) / np.maximum(union, 1), 1.0)
