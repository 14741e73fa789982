"""Distances between sets of digits: FID and KID (torchmetrics) on the MNIST classifier's features, and RMS.

"FID" and "KID" here are the Frechet distance and the kernel distance of Heusel et al. 2017 and Binkowski et al.
2018 computed in the 128-d penultimate feature space of :class:`~vae_diffusion.core.classifier.MnistClassifier`
(torchmetrics' ``feature=`` takes any ``nn.Module``), not in Inception's:

- FID: ``d^2 = ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^{1/2})`` of Gaussians fitted to the two sets;
- KID: the unbiased MMD^2 with the cubic kernel ``k(x, y) = (x.y / D + 1)^3``, averaged over random subsets.

Both are checked against closed-form NumPy/SciPy implementations in ``tests/test_diffusion_frechet.py``.
:func:`paired_fid_difference` tests the FID difference of two image sets drawn from the same initial noises.
"""
from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import nn
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.kid import KernelInceptionDistance

from mvadl.seeding import derive_seed, numpy_generator
from mvadl.verdicts import Comparison
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
    def extract(self, images: torch.Tensor) -> np.ndarray:
        """The features ``[N, D]`` (float64) of ``images`` (``[N, 1, 28, 28]`` in [0, 1]) that FID compares."""
        device = self.fid.device
        extractor = self.fid.inception
        return torch.cat([extractor(images[start:start + self.batch_size].to(device)).double().cpu()
                          for start in range(0, len(images), self.batch_size)]).numpy()

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


class FrechetToReference:
    """The Frechet distance of feature sets ``[N, D]`` to one fixed reference set, in closed form:
    ``||mu - mu_r||^2 + Tr(S) + Tr(S_r) - 2 Tr((S_r^{1/2} S S_r^{1/2})^{1/2})`` (the trace term of FID, written with
    the symmetric ``S_r^{1/2} S S_r^{1/2}``, whose eigenvalues are those of ``S S_r``), so that thousands of
    resampled sets cost one eigendecomposition each."""

    def __init__(self, reference: np.ndarray) -> None:
        self.mean = reference.mean(0)
        covariance = np.cov(reference, rowvar=False)
        values, vectors = np.linalg.eigh(covariance)
        self.root = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
        self.trace = float(np.trace(covariance))

    def __call__(self, features: np.ndarray) -> float:
        covariance = np.cov(features, rowvar=False)
        values = np.linalg.eigvalsh(self.root @ covariance @ self.root)
        return float(((features.mean(0) - self.mean) ** 2).sum() + np.trace(covariance) + self.trace
                     - 2 * np.sqrt(np.clip(values, 0, None)).sum())


def paired_fid_difference(features_a: np.ndarray, features_b: np.ndarray, reference: np.ndarray, *, seed: int,
                          n_resamples: int = 1000, level: float = 0.95) -> Comparison:
    """FID(A) - FID(B) against one reference for two sets whose image i comes from the same initial noise (one
    solver with two noise schedules, say): a paired permutation test and a paired bootstrap percentile interval.

    Test: under the null hypothesis that the two conditions are exchangeable within each pair, swapping image i of
    A with image i of B (each pair with probability 1/2, ``n_resamples`` times) leaves the distribution of the
    difference unchanged; p = (1 + #{|d*| >= |d|}) / (1 + n_resamples), two-sided. Interval: the pairs resampled
    with replacement, both sets with the same indices, the percentiles of the difference. FID of a resampled set
    is biased upwards (repeated images shrink its covariance), alike for both sets, so the difference is what is
    resampled. Draws from ``derive_seed(seed, "fid_difference")``.
    """
    if features_a.shape != features_b.shape or features_a.ndim != 2:
        raise ValueError(f"paired feature sets must have one shape [N, D], got {features_a.shape} and "
                         f"{features_b.shape}")
    n = len(features_a)
    frechet = FrechetToReference(reference)
    fid_a, fid_b = frechet(features_a), frechet(features_b)
    difference = fid_a - fid_b
    rng = numpy_generator(seed, "fid_difference")
    as_extreme = 0
    for _ in range(n_resamples):
        swap = rng.random(n) < 0.5
        a = np.where(swap[:, None], features_b, features_a)
        b = np.where(swap[:, None], features_a, features_b)
        as_extreme += abs(frechet(a) - frechet(b)) >= abs(difference) - 1e-12
    resampled = []
    for _ in range(n_resamples):
        index = rng.integers(0, n, n)
        resampled.append(frechet(features_a[index]) - frechet(features_b[index]))
    alpha = 1 - level
    low, high = np.quantile(resampled, [alpha / 2, 1 - alpha / 2])
    return Comparison(a=fid_a, b=fid_b, difference=difference, low=float(low), high=float(high),
                      p_value=(1 + as_extreme) / (1 + n_resamples), n=n,
                      level=level, test=f"paired permutation test (images of one initial noise swapped) and paired "
                                        f"bootstrap percentile interval of the FID difference, {n_resamples:,} "
                                        f"resamples each")
