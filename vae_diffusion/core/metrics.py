"""Distances between sets of digits: FID and KID (torchmetrics) on the MNIST classifier's features, and RMS.

"FID" and "KID" here are the Frechet distance and the kernel distance of Heusel et al. 2017 and Binkowski et al.
2018 computed in the 128-d penultimate feature space of :class:`~vae_diffusion.core.classifier.MnistClassifier`
(torchmetrics' ``feature=`` takes any ``nn.Module``), not in Inception's:

- FID: ``d^2 = ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^{1/2})`` of Gaussians fitted to the two sets;
- KID: the unbiased MMD^2 with the cubic kernel ``k(x, y) = (x.y / D + 1)^3``, averaged over random subsets.

Both are checked against closed-form NumPy/SciPy implementations in ``tests/test_diffusion_frechet.py``.
"""
from __future__ import annotations

import warnings

import torch
from torch import nn
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.kid import KernelInceptionDistance

from mvadl.seeding import derive_seed
from vae_diffusion.core.classifier import FEATURE_DIM, MnistClassifier


class ClassifierFeatures(nn.Module):
    """The feature extractor handed to torchmetrics: images ``[N, 1, 28, 28]`` in [0, 1] -> the classifier's
    penultimate features ``[N, 128]`` in float64 (so KID's kernel sums, like FID's moments, are in double)."""

    num_features = FEATURE_DIM  # torchmetrics reads it instead of probing the network with a random image

    def __init__(self, classifier: MnistClassifier) -> None:
        super().__init__()
        self.classifier = classifier

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier.features(images).double()


class FeatureDistances:
    """FID and KID of image sets against one reference set (e.g. the first n MNIST test digits), in the space of
    ``features`` (an ``nn.Module`` with a ``num_features`` attribute; here :class:`ClassifierFeatures`).

    The reference features are extracted once (``reset_real_features=False``); each call extracts the
    features of ``images`` and returns ``{"fid", "kid", "kid_std"}``. KID averages ``kid_subsets`` subsets of
    ``min(kid_subset_size, n_reference)`` images per set (then every set needs at least that many images);
    its subsets are drawn from the stream ``derive_seed(seed, "kid_subsets")``.
    """

    def __init__(self, features: nn.Module, reference: torch.Tensor, *, kid_subset_size: int = 1000,
                 kid_subsets: int = 50, batch_size: int = 1000) -> None:
        if len(reference) < 2:
            raise ValueError(f"FID/KID need at least 2 reference images, got {len(reference)}")
        device = next(features.parameters()).device
        features.eval()
        self.batch_size = batch_size
        self.fid = FrechetInceptionDistance(feature=features, reset_real_features=False, normalize=True).to(device)
        with warnings.catch_warnings():  # "KID will save all extracted features in buffer": n is small here
            warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
            self.kid = KernelInceptionDistance(feature=features, subsets=kid_subsets,
                                               subset_size=min(kid_subset_size, len(reference)),
                                               reset_real_features=False, normalize=True).to(device)
        self._update(reference, real=True)

    @torch.no_grad()
    def _update(self, images: torch.Tensor, real: bool) -> None:
        device = self.fid.device
        for start in range(0, len(images), self.batch_size):
            batch = images[start:start + self.batch_size].to(device)
            self.fid.update(batch, real=real)
            self.kid.update(batch, real=real)

    def __call__(self, images: torch.Tensor, *, seed: int) -> dict[str, float]:
        """``fid``, ``kid`` and ``kid_std`` of ``images`` (``[N, 1, 28, 28]`` in [0, 1]) against the reference."""
        self.fid.reset()
        self.kid.reset()
        self._update(images, real=False)
        fid = float(self.fid.compute())
        with torch.random.fork_rng(devices=[]):  # KID draws its subsets with torch.randperm on the CPU generator
            torch.manual_seed(derive_seed(seed, "kid_subsets"))
            kid, kid_std = self.kid.compute()
        return {"fid": fid, "kid": float(kid), "kid_std": float(kid_std)}


def rms_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Root-mean-square difference between two image batches, in pixel values clipped to [-1, 1]."""
    return float((a.float().clamp(-1, 1) - b.float().clamp(-1, 1)).pow(2).mean().sqrt())
