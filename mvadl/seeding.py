"""One seed derivation for every random stream of every experiment.

A run has one ``--seed``; each stream it needs (an epoch's shuffling, a batch of sampling noise, a repeat of
an estimator, a data worker) gets its own seed ``derive_seed(seed, *keys)``, a hash of the run's seed and the
stream's name, so streams are independent of each other and of the order they are created in, and a resumed
run re-creates exactly the streams of the epochs it has not done yet.
"""
from __future__ import annotations

import hashlib
import random

_MASK = (1 << 63) - 1


def derive_seed(seed: int, *keys: object) -> int:
    """The seed of the stream ``keys`` of a run seeded ``seed``: ``sha256(repr((seed, *keys)))`` as a 63-bit int.

    ``derive_seed(seed)`` with no keys is ``seed`` itself (the run's base stream). Keys are ints or strings,
    e.g. ``derive_seed(0, "epoch", 3)``; the same arguments always give the same seed, on every platform.
    """
    if not keys:
        return int(seed)
    for key in keys:
        if not isinstance(key, (int, str)):
            raise TypeError(f"derive_seed keys are ints or strings, got {key!r}")
    return int.from_bytes(hashlib.sha256(repr((int(seed), *keys)).encode()).digest()[:8], "little") & _MASK


def torch_generator(seed: int, *keys: object, device="cpu"):
    """A ``torch.Generator`` on ``device`` seeded with ``derive_seed(seed, *keys)``."""
    import torch

    return torch.Generator(device=device).manual_seed(derive_seed(seed, *keys))


def numpy_generator(seed: int, *keys: object):
    """A ``numpy.random.Generator`` seeded with ``derive_seed(seed, *keys)``."""
    import numpy as np

    return np.random.default_rng(derive_seed(seed, *keys))


def seed_everything(seed: int) -> None:
    """Seed the global generators of Python, NumPy and torch (all devices) with the run's base seed."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
