"""The digit the MNIST classifier reads in each cell of a VAE run's sample grids (Q10: do the same z decode to the
same digit as training goes on?).

The grids are the Bernoulli means of the same 64 prior draws z at each recorded epoch (``<prefix>arrays.npz``).
The grid before training (epoch 0) is a uniform grey and is not read.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from vae_diffusion.core.artifacts import sha256_file
from vae_diffusion.core.classifier import load_classifier


@torch.no_grad()
def read_digits(grids: Mapping[int, np.ndarray], classifier: str | Path) -> dict[str, dict[str, list]]:
    """``{epoch: {"labels": [64 ints], "confidence": [64 softmax maxima]}}`` for every epoch after 0 of ``grids``
    (``{epoch: [N, 28, 28]`` means in [0, 1]``}``), read by the classifier with the weights ``classifier``."""
    model = load_classifier(classifier)
    read = {}
    for epoch in sorted(e for e in grids if e > 0):
        images = torch.as_tensor(np.asarray(grids[epoch], dtype=np.float32)).reshape(-1, 1, 28, 28)
        confidence, labels = torch.softmax(model(images), dim=1).max(dim=1)
        read[str(epoch)] = {"labels": labels.tolist(), "confidence": [round(c, 4) for c in confidence.tolist()]}
    return read


def sample_classes_record(grids: Mapping[int, np.ndarray], classifier: str | Path,
                          arrays_path: Path) -> tuple[dict, dict]:
    """``(metrics, config)`` of the record ``<prefix>sample_classes``: the digits read per epoch, and which
    classifier read which arrays (their sha256)."""
    config = {"classifier": str(classifier), "classifier_sha256": sha256_file(classifier),
              "arrays": Path(arrays_path).name, "arrays_sha256": sha256_file(arrays_path)}
    return {"epochs": read_digits(grids, classifier)}, config
