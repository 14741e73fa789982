"""The digit the MNIST classifier reads in each cell of a VAE run's sample grids (Q10: do the same z decode to the
same digit as training goes on?).

The grids are the Bernoulli means of the same 64 prior draws z at each recorded epoch (``<prefix>arrays.npz``).
The grid before training (epoch 0) is a uniform grey and is not read. The record also counts the cells whose
digit changes between the last two grids read (``last_change``, :func:`digit_changes`).
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vae_diffusion.core.artifacts import sha256_file
from vae_diffusion.core.classifier import load_classifier

#: A digit the classifier reads with at least this softmax probability counts as a clear reading (Q10).
CLEAR_READING = 0.9


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


def digit_changes(earlier: Mapping[str, list], later: Mapping[str, list],
                  threshold: float = CLEAR_READING) -> dict[str, Any]:
    """The cells whose digit, as the classifier reads it, differs between two readings of the same grid
    (``{"labels", "confidence"}`` each, :func:`read_digits`): ``n`` cells, ``changed`` of them, ``both_clear``:
    those read with probability at least ``threshold`` both times, ``clear_pairs``: "a to b" for each of
    these."""
    cells = list(zip(earlier["labels"], earlier["confidence"], later["labels"], later["confidence"]))
    clear = [(a, b) for a, p, b, q in cells if a != b and min(p, q) >= threshold]
    return {"n": len(cells), "changed": sum(a != b for a, _, b, _ in cells), "both_clear": len(clear),
            "threshold": threshold, "clear_pairs": [f"{a} to {b}" for a, b in clear]}


def sample_classes_record(grids: Mapping[int, np.ndarray], classifier: str | Path,
                          arrays_path: Path) -> tuple[dict, dict]:
    """``(metrics, config)`` of the record ``<prefix>sample_classes``: the digits read per epoch, the changes
    between the last two epochs read (``last_change``: :func:`digit_changes` with ``from_epoch`` and
    ``to_epoch``; absent with fewer than two), and which classifier read which arrays (their sha256)."""
    config = {"classifier": str(classifier), "classifier_sha256": sha256_file(classifier),
              "arrays": Path(arrays_path).name, "arrays_sha256": sha256_file(arrays_path)}
    read = read_digits(grids, classifier)
    metrics: dict[str, Any] = {"epochs": read}
    if len(read) >= 2:
        earlier, later = sorted(read, key=int)[-2:]
        metrics["last_change"] = {"from_epoch": int(earlier), "to_epoch": int(later),
                                  **digit_changes(read[earlier], read[later])}
    return metrics, config
