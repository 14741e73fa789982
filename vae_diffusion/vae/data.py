"""Binarized MNIST: dynamic binarization for training, one fixed-seed binarization of the test set.

A grey level g in 0..255 becomes the Bernoulli probability g/255; a binary image is one draw of every
pixel. Training draws afresh every epoch (dynamic binarization); every evaluation uses the same draw of
the 10k test images, made with ``TEST_BINARIZATION_SEED``, so all reported test numbers are comparable.
"""
from __future__ import annotations

import torch

from mvadl.data import load_mnist

#: Defines the evaluation set: every reported test number (and the committed results) uses this one draw, so it
#: stays a constant and is not derived from the run's --seed.
TEST_BINARIZATION_SEED = 1234
BINARIZATION = f"dynamic (train, fresh draw per epoch); fixed seed {TEST_BINARIZATION_SEED} (test)"


def pixel_probabilities(split: str, root=None, *, check_count: bool = True, limit: int | None = None
                        ) -> torch.Tensor:
    """MNIST ``split`` as float32 [N, 784] probabilities g/255 (first ``limit`` images if given)."""
    images, _ = load_mnist(split, root, check_count=check_count)
    if limit is not None:
        images = images[:limit]
    return torch.from_numpy(images.reshape(len(images), -1).astype("float32") / 255.0)


def binarize(probabilities: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One Bernoulli draw per pixel: x_m ~ Bern(p_m), as float 0./1."""
    return torch.bernoulli(probabilities, generator=generator)


def fixed_binarization(probabilities: torch.Tensor, seed: int = TEST_BINARIZATION_SEED) -> torch.Tensor:
    """The reproducible binarization used for every evaluation (CPU generator, so identical on any device)."""
    return binarize(probabilities.cpu(), torch.Generator().manual_seed(seed))


def train_and_test_sets(root=None, *, train_subset: int | None = None, test_subset: int | None = None
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """(training pixel probabilities [N, 784], the fixed binarization of the test set [M, 784]), on the CPU.

    The training images are binarized afresh every epoch by :func:`binarize`; with a subset the official
    image counts are not checked.
    """
    check_count = train_subset is None and test_subset is None
    train = pixel_probabilities("train", root, check_count=check_count, limit=train_subset)
    test = fixed_binarization(pixel_probabilities("test", root, check_count=check_count, limit=test_subset))
    return train, test
